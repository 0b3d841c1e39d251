package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"
)

// ErrWrongPassphrase means the CA key did not decrypt with the passphrase given.
var ErrWrongPassphrase = errors.New("wrong CA passphrase")

// ErrEmptyPassphrase means a CA key was to be encrypted or decrypted with an
// empty passphrase, which garagectl never uses.
var ErrEmptyPassphrase = errors.New("empty CA passphrase")

const encryptedKeyType = "ENCRYPTED PRIVATE KEY"

// EncryptCAKey returns the CA private key as PEM "ENCRYPTED PRIVATE KEY":
// PKCS #8 with PBES2, a PBKDF2-HMAC-SHA256 key derivation
// (pemutil.PBKDF2Iterations rounds) and AES-256-CBC, which
// `openssl pkey` reads. It returns ErrEmptyPassphrase for an empty passphrase.
func EncryptCAKey(ca *CA, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("encrypt CA key: %w", ErrEmptyPassphrase)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ca.signer)
	if err != nil {
		return nil, fmt.Errorf("encrypt CA key: %w", err)
	}
	block, err := pemutil.EncryptPKCS8PrivateKey(rand.Reader, der, passphrase, x509.PEMCipherAES256)
	if err != nil {
		return nil, fmt.Errorf("encrypt CA key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// LoadCA decrypts encryptedKeyPEM, as written by EncryptCAKey, and pairs the key
// with the CA certificate in certPEM whose public key it matches. certPEM may be
// a bundle that also contains older CA certificates. A wrong passphrase gives an
// error that matches ErrWrongPassphrase with errors.Is.
func LoadCA(certPEM, encryptedKeyPEM, passphrase []byte) (*CA, error) {
	certs, err := parseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	signer, err := decryptCAKey(encryptedKeyPEM, passphrase)
	if err != nil {
		return nil, fmt.Errorf("load CA key: %w", err)
	}
	for _, cert := range certs {
		if KeyMatches(cert, signer) {
			if err := checkCACert(cert); err != nil {
				return nil, fmt.Errorf("load CA certificate: %w", err)
			}
			return &CA{Cert: cert, signer: signer}, nil
		}
	}
	return nil, errors.New("load CA: the CA key matches no certificate in the CA certificate file")
}

func decryptCAKey(encryptedKeyPEM, passphrase []byte) (crypto.Signer, error) {
	if len(passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	block, rest := pem.Decode(encryptedKeyPEM)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != encryptedKeyType {
		return nil, fmt.Errorf("PEM block is %q, want %q: the CA key must be stored encrypted",
			block.Type, encryptedKeyType)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("unexpected data after the encrypted key")
	}

	der, err := pemutil.DecryptPEMBlock(block, passphrase)
	if errors.Is(err, x509.IncorrectPasswordError) {
		return nil, ErrWrongPassphrase
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt key: %w", err)
	}

	// About one wrong passphrase in 256 still yields valid CBC padding and
	// decrypts to noise, so a failed PKCS #8 parse means a wrong passphrase too.
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported CA key type %T", key)
	}
	return signer, nil
}

func checkCACert(cert *x509.Certificate) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return fmt.Errorf("certificate %q is not a CA certificate", cert.Subject)
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("certificate %q lacks the certSign key usage "+
			"that signing certificates needs", cert.Subject)
	}
	return nil
}

// KeyMatches reports whether key is the private key of cert's public key.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	return keyutil.Equal(cert.PublicKey, key.Public())
}
