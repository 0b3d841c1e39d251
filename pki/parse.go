package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"go.step.sm/crypto/pemutil"
)

// ParseCertificate returns the first certificate in pemBytes, which in a
// chain file is the end-entity certificate.
func ParseCertificate(pemBytes []byte) (*x509.Certificate, error) {
	certs, err := parseCertificates(pemBytes)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// parseCertificates returns every certificate in pemBytes, in order. Text
// outside PEM blocks is ignored, as OpenSSL ignores it. A block of another type
// is an error, so that a private key pasted into a certificate file is noticed.
func parseCertificates(pemBytes []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("parse certificate: PEM block %d is %q, want \"CERTIFICATE\"",
				len(certs)+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("parse certificate: no PEM certificate found")
	}
	return certs, nil
}

// ParsePrivateKey returns the unencrypted private key in pemBytes, in PKCS #8,
// PKCS #1 (RSA) or SEC 1 (EC) form. An encrypted key is an error: the only
// encrypted key garagectl handles is the CA key, which LoadCA reads.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("parse private key: no PEM block found")
	}
	encrypted := block.Type == encryptedKeyType || block.Headers["Proc-Type"] == "4,ENCRYPTED"
	switch {
	case encrypted:
		return nil, errors.New("parse private key: the key is encrypted, " +
			"but only the CA key is stored encrypted and LoadCA reads it")
	case !slices.Contains([]string{"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}, block.Type):
		return nil, fmt.Errorf("parse private key: PEM block is %q, want \"PRIVATE KEY\"",
			block.Type)
	}
	key, err := pemutil.ParseKey(pem.EncodeToMemory(block))
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse private key: unsupported key type %T", key)
	}
	return signer, nil
}
