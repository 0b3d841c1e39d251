package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"go.step.sm/crypto/pemutil"
)

var testPassphrase = []byte("correct horse battery staple")

func encryptTestCAKey(t *testing.T, ca *CA) []byte {
	t.Helper()
	keyPEM, err := EncryptCAKey(ca, testPassphrase)
	if err != nil {
		t.Fatalf("EncryptCAKey: %v", err)
	}
	return keyPEM
}

func TestEncryptCAKeyOpenSSL(t *testing.T) {
	ca := testCA(t, KeyRSA2048)
	keyPEM := encryptTestCAKey(t, ca)
	if !bytes.HasPrefix(keyPEM, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")) {
		t.Fatalf("EncryptCAKey output is not PEM ENCRYPTED PRIVATE KEY:\n%s", keyPEM)
	}

	dir := t.TempDir()
	keyFile := writeTemp(t, dir, "ca.key", keyPEM)
	rightFile := writeTemp(t, dir, "right.pass", testPassphrase)
	wrongFile := writeTemp(t, dir, "wrong.pass", []byte("incorrect horse"))
	caFile := writeTemp(t, dir, "ca.crt", ca.CertPEM())

	keyPub := mustOpenSSL(t, "pkey", "-in", keyFile, "-passin", "file:"+rightFile, "-pubout")
	certPub := mustOpenSSL(t, "x509", "-in", caFile, "-noout", "-pubkey")
	if keyPub != certPub {
		t.Errorf("public key from the decrypted CA key differs from the CA certificate:\n%s\n%s", keyPub, certPub)
	}

	if out, err := runOpenSSL(t, "pkey", "-in", keyFile, "-passin", "file:"+wrongFile); err == nil {
		t.Errorf("openssl pkey decrypted the CA key with a wrong passphrase:\n%s", out)
	}

	// The structure must be PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC.
	asn1 := mustOpenSSL(t, "asn1parse", "-in", keyFile)
	for _, want := range []string{"PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"} {
		if !strings.Contains(asn1, want) {
			t.Errorf("openssl asn1parse of the CA key lacks %s:\n%s", want, asn1)
		}
	}
}

func TestEncryptCAKeyEmptyPassphrase(t *testing.T) {
	_, err := EncryptCAKey(testCA(t, KeyECDSAP256), nil)
	if !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("EncryptCAKey(nil passphrase) error = %v, want ErrEmptyPassphrase", err)
	}
}

func TestLoadCARoundTrip(t *testing.T) {
	for _, kt := range KeyTypes() {
		t.Run(string(kt), func(t *testing.T) {
			ca := testCA(t, kt)
			loaded, err := LoadCA(ca.CertPEM(), encryptTestCAKey(t, ca), testPassphrase)
			if err != nil {
				t.Fatalf("LoadCA: %v", err)
			}
			if !loaded.Cert.Equal(ca.Cert) {
				t.Error("loaded CA certificate differs from the original")
			}
			if !KeyMatches(ca.Cert, loaded.signer) {
				t.Error("loaded CA key does not match the CA certificate")
			}
			if _, err := loaded.IssueServer(testServerOptions(KeyECDSAP256)); err != nil {
				t.Errorf("IssueServer with the loaded CA: %v", err)
			}
		})
	}
}

// TestLoadCAFromBundle loads a CA whose certificate file also holds an older
// CA, as it does during CA rotation.
func TestLoadCAFromBundle(t *testing.T) {
	current, old := testCA(t, KeyECDSAP256), testCA(t, KeyRSA2048)
	bundle := append(old.CertPEM(), current.CertPEM()...)
	loaded, err := LoadCA(bundle, encryptTestCAKey(t, current), testPassphrase)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}
	if !loaded.Cert.Equal(current.Cert) {
		t.Errorf("LoadCA picked %s, want the certificate matching the key", loaded.Cert.Subject)
	}
}

func TestLoadCAErrors(t *testing.T) {
	ca := testCA(t, KeyECDSAP256)
	other := testCA(t, KeyRSA2048)
	keyPEM := encryptTestCAKey(t, ca)
	plainKey, err := pemutil.Serialize(ca.signer, pemutil.WithPKCS8(true))
	if err != nil {
		t.Fatal(err)
	}
	leaf := issueTestServer(t, ca, KeyECDSAP256)
	leafKey, err := ParsePrivateKey(leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leafKeyPEM, err := EncryptCAKey(&CA{Cert: leaf.Cert, signer: leafKey}, testPassphrase)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		certPEM    []byte
		keyPEM     []byte
		passphrase []byte
		wantIs     error  // sentinel the error must match, if any
		wantErr    string // text the error must contain
	}{
		{"wrong passphrase", ca.CertPEM(), keyPEM, []byte("incorrect horse"), ErrWrongPassphrase, "wrong CA passphrase"},
		{"empty passphrase", ca.CertPEM(), keyPEM, nil, ErrEmptyPassphrase, "empty CA passphrase"},
		{"noise after decryption", ca.CertPEM(), encryptNoise(t), testPassphrase, ErrWrongPassphrase, "wrong CA passphrase"},
		{"unencrypted key", ca.CertPEM(), pem.EncodeToMemory(plainKey), testPassphrase, nil, "must be stored encrypted"},
		{"key of another CA", other.CertPEM(), keyPEM, testPassphrase, nil, "matches no certificate"},
		{"not PEM", ca.CertPEM(), []byte("garbage"), testPassphrase, nil, "no PEM block found"},
		{"certificate is not a CA", leaf.CertPEM, leafKeyPEM, testPassphrase, nil, "is not a CA certificate"},
		{"no certificate", nil, keyPEM, testPassphrase, nil, "no PEM certificate found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadCA(tt.certPEM, tt.keyPEM, tt.passphrase)
			if err == nil {
				t.Fatal("LoadCA succeeded, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("LoadCA error = %v, want errors.Is %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadCA error = %q, want one containing %q", err, tt.wantErr)
			}
			if len(tt.passphrase) > 0 && strings.Contains(err.Error(), string(tt.passphrase)) {
				t.Errorf("LoadCA error %q contains the passphrase", err)
			}
		})
	}
}

// encryptNoise encrypts bytes that are not PKCS #8 with testPassphrase. It
// imitates the rare wrong passphrase whose decryption ends in valid padding,
// which only the PKCS #8 parse detects.
func encryptNoise(t *testing.T) []byte {
	t.Helper()
	block, err := pemutil.EncryptPKCS8PrivateKey(rand.Reader, []byte("not a private key"),
		testPassphrase, x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// TestLoadCAReadsOpenSSLKey loads a CA key that OpenSSL encrypted, so a key
// re-encrypted by hand with `openssl pkcs8` keeps working.
func TestLoadCAReadsOpenSSLKey(t *testing.T) {
	ca := testCA(t, KeyRSA2048)
	plain, err := pemutil.Serialize(ca.signer, pemutil.WithPKCS8(true))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plainFile := writeTemp(t, dir, "plain.key", pem.EncodeToMemory(plain))
	passFile := writeTemp(t, dir, "pass", testPassphrase)
	encrypted := mustOpenSSL(t, "pkcs8", "-topk8", "-v2", "aes-256-cbc",
		"-in", plainFile, "-passout", "file:"+passFile)

	loaded, err := LoadCA(ca.CertPEM(), []byte(encrypted), testPassphrase)
	if err != nil {
		t.Fatalf("LoadCA with an OpenSSL-encrypted key: %v", err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Error("loaded CA certificate differs from the original")
	}
}
