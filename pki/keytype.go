package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"strings"

	"go.step.sm/crypto/keyutil"
)

// KeyType names a private key algorithm and size, in the spelling of the
// pki.key_type config key.
type KeyType string

// Key types garagectl generates.
const (
	// KeyRSA2048 is the default because the relay's BearSSL verifies an RSA
	// signature in milliseconds, while an ECDSA verification takes seconds on
	// the ESP8266.
	KeyRSA2048 KeyType = "rsa-2048"
	KeyRSA3072 KeyType = "rsa-3072"
	// KeyECDSAP256 is accepted for hosts whose clients are not ESP8266 boards.
	KeyECDSAP256 KeyType = "ecdsa-p256"
)

// DefaultKeyType is the key type used when an option leaves it empty.
const DefaultKeyType = KeyRSA2048

// KeyTypes lists the key types garagectl generates, default first.
func KeyTypes() []KeyType {
	return []KeyType{KeyRSA2048, KeyRSA3072, KeyECDSAP256}
}

// ParseKeyType returns the key type named by s, or DefaultKeyType for an empty s.
func ParseKeyType(s string) (KeyType, error) {
	if s == "" {
		return DefaultKeyType, nil
	}
	for _, kt := range KeyTypes() {
		if string(kt) == s {
			return kt, nil
		}
	}
	return "", fmt.Errorf("parse key type: unsupported key type %q (supported: %s)",
		s, joinKeyTypes())
}

func joinKeyTypes() string {
	names := make([]string, 0, len(KeyTypes()))
	for _, kt := range KeyTypes() {
		names = append(names, string(kt))
	}
	return strings.Join(names, ", ")
}

// generateKey creates a fresh private key of type kt, or of DefaultKeyType
// when kt is empty.
func generateKey(kt KeyType) (crypto.Signer, error) {
	kt, err := ParseKeyType(string(kt))
	if err != nil {
		return nil, err
	}
	var signer crypto.Signer
	switch kt {
	case KeyRSA2048:
		signer, err = keyutil.GenerateSigner("RSA", "", 2048)
	case KeyRSA3072:
		signer, err = keyutil.GenerateSigner("RSA", "", 3072)
	case KeyECDSAP256:
		signer, err = keyutil.GenerateSigner("EC", "P-256", 0)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", kt, err)
	}
	return signer, nil
}

// keyTypeOf names the algorithm and size of a public key, including sizes
// garagectl does not generate (for example "rsa-4096" or "ecdsa-p384"), so
// that Describe can report certificates made by other tools.
func keyTypeOf(pub crypto.PublicKey) KeyType {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return KeyType(fmt.Sprintf("rsa-%d", k.N.BitLen()))
	case *ecdsa.PublicKey:
		return KeyType("ecdsa-p" + strings.TrimPrefix(k.Curve.Params().Name, "P-"))
	case ed25519.PublicKey:
		return "ed25519"
	default:
		return "unknown"
	}
}
