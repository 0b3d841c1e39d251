package pki

import (
	"encoding/pem"
	"strings"
	"testing"

	"go.step.sm/crypto/pemutil"
)

func TestParsePrivateKeyAndKeyMatches(t *testing.T) {
	ca := testCA(t, KeyRSA2048)
	for _, kt := range KeyTypes() {
		t.Run(string(kt), func(t *testing.T) {
			issued := issueTestServer(t, ca, kt)
			key, err := ParsePrivateKey(issued.KeyPEM)
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			cert, err := ParseCertificate(issued.CertPEM)
			if err != nil {
				t.Fatalf("ParseCertificate: %v", err)
			}
			if !KeyMatches(cert, key) {
				t.Error("KeyMatches(server certificate, server key) = false, want true")
			}
			if KeyMatches(ca.Cert, key) {
				t.Error("KeyMatches(CA certificate, server key) = true, want false")
			}
		})
	}
}

func TestParsePrivateKeyLegacyForms(t *testing.T) {
	for _, kt := range []KeyType{KeyRSA2048, KeyECDSAP256} {
		t.Run(string(kt), func(t *testing.T) {
			ca := testCA(t, kt)
			// Without WithPKCS8, pemutil writes PKCS #1 for RSA and SEC 1 for EC.
			block, err := pemutil.Serialize(ca.signer)
			if err != nil {
				t.Fatal(err)
			}
			key, err := ParsePrivateKey(pem.EncodeToMemory(block))
			if err != nil {
				t.Fatalf("ParsePrivateKey(%s): %v", block.Type, err)
			}
			if !KeyMatches(ca.Cert, key) {
				t.Errorf("key parsed from %s does not match the CA certificate", block.Type)
			}
		})
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	ca := testCA(t, KeyECDSAP256)
	encrypted := encryptTestCAKey(t, ca)
	tests := []struct {
		name    string
		input   []byte
		wantErr string
	}{
		{"encrypted PKCS #8", encrypted, "the key is encrypted"},
		{"certificate", ca.CertPEM(), `PEM block is "CERTIFICATE"`},
		{"not PEM", []byte("garbage"), "no PEM block found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.input)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePrivateKey error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
