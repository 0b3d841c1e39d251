package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDescribe(t *testing.T) {
	ca := testCA(t, KeyRSA3072)
	server := issueTestServer(t, ca, KeyECDSAP256)
	client, err := ca.IssueClient(ClientOptions{Name: "relay1", KeyType: KeyRSA2048, Now: fixedNow})
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	bundle := append(append(append([]byte{}, server.CertPEM...), ca.CertPEM()...), client.CertPEM...)

	got, err := Describe(bundle)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	want := []CertInfo{
		{
			Subject:     "CN=hub.home.arpa",
			DNSNames:    []string{"hub.home.arpa", "mqtt.home.arpa"},
			IPAddresses: testIPs,
			KeyType:     KeyECDSAP256,
			Serial:      server.Serial,
			NotBefore:   testNow.Add(-backdate),
			NotAfter:    testNow.Add(-backdate + MaxServerValidity),
		},
		{
			Subject:   "CN=garage garage CA,O=garage",
			KeyType:   KeyRSA3072,
			Serial:    serialHex(ca.Cert.SerialNumber),
			NotBefore: testNow.Add(-backdate),
			NotAfter:  testNow.Add(-backdate + tenYears),
			IsCA:      true,
		},
		{
			Subject:   "CN=relay1",
			KeyType:   KeyRSA2048,
			Serial:    client.Serial,
			NotBefore: testNow.Add(-backdate),
			NotAfter:  testNow.Add(-backdate + MaxServerValidity),
		},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
}

func TestDescribeErrors(t *testing.T) {
	issued := issueTestServer(t, testCA(t, KeyECDSAP256), KeyECDSAP256)
	tests := []struct {
		name    string
		input   []byte
		wantErr string
	}{
		{"empty", nil, "no PEM certificate found"},
		{"private key", issued.KeyPEM, `PEM block 1 is "PRIVATE KEY"`},
		{"corrupt certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
			"parse certificate 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Describe(tt.input)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Describe error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCertInfoDaysLeft(t *testing.T) {
	info := CertInfo{NotAfter: testNow}
	tests := []struct {
		name string
		now  time.Time
		want int
	}{
		{"ten days before", testNow.Add(-10 * 24 * time.Hour), 10},
		{"a day and a minute before", testNow.Add(-24*time.Hour - time.Minute), 1},
		{"an hour before", testNow.Add(-time.Hour), 0},
		{"at expiry", testNow, 0},
		{"an hour after", testNow.Add(time.Hour), -1},
		{"two days after", testNow.Add(48 * time.Hour), -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := info.DaysLeft(tt.now); got != tt.want {
				t.Errorf("DaysLeft = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestKeyTypeOf(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  any
		want KeyType
	}{
		{"rsa-2048", testCA(t, KeyRSA2048).Cert.PublicKey, KeyRSA2048},
		{"rsa-3072", testCA(t, KeyRSA3072).Cert.PublicKey, KeyRSA3072},
		{"ecdsa-p256", testCA(t, KeyECDSAP256).Cert.PublicKey, KeyECDSAP256},
		{"ecdsa-p384", &p384.PublicKey, "ecdsa-p384"},
		{"ed25519", edPub, "ed25519"},
		{"unknown", "not a key", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyTypeOf(tt.pub); got != tt.want {
				t.Errorf("keyTypeOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseKeyType(t *testing.T) {
	tests := []struct {
		in      string
		want    KeyType
		wantErr bool
	}{
		{"", KeyRSA2048, false},
		{"rsa-2048", KeyRSA2048, false},
		{"rsa-3072", KeyRSA3072, false},
		{"ecdsa-p256", KeyECDSAP256, false},
		{"RSA-2048", "", true},
		{"ed25519", "", true},
	}
	for _, tt := range tests {
		t.Run("input "+tt.in, func(t *testing.T) {
			got, err := ParseKeyType(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseKeyType(%q) error = %v, want error %t", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseKeyType(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
