package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// keyPairs covers every key type as CA and server key, plus the mixed pairs.
var keyPairs = []struct {
	name      string
	caKey     KeyType
	serverKey KeyType
}{
	{"rsa-2048", KeyRSA2048, KeyRSA2048},
	{"rsa-3072", KeyRSA3072, KeyRSA3072},
	{"ecdsa-p256", KeyECDSAP256, KeyECDSAP256},
	{"rsa CA, ecdsa server", KeyRSA2048, KeyECDSAP256},
	{"ecdsa CA, rsa server", KeyECDSAP256, KeyRSA2048},
}

func TestIssueServerOpenSSLVerify(t *testing.T) {
	for _, tt := range keyPairs {
		t.Run(tt.name, func(t *testing.T) {
			ca := testCA(t, tt.caKey)
			issued := issueTestServer(t, ca, tt.serverKey)
			dir := t.TempDir()
			caFile := writeTemp(t, dir, "ca.crt", ca.CertPEM())
			certFile := writeTemp(t, dir, "server.crt", issued.CertPEM)
			keyFile := writeTemp(t, dir, "server.key", issued.KeyPEM)

			out := mustOpenSSL(t, verifyArgs(caFile, certFile, "-purpose", "sslserver")...)
			if !strings.Contains(out, "server.crt: OK") {
				t.Errorf("openssl verify output lacks OK:\n%s", out)
			}

			text := mustOpenSSL(t, "x509", "-in", certFile, "-noout", "-text")
			for _, want := range []string{
				"Subject: CN = hub.home.arpa",
				"DNS:hub.home.arpa", "DNS:mqtt.home.arpa",
				"IP Address:192.168.1.10", "IP Address:FD00:0:0:0:0:0:0:10",
				"TLS Web Server Authentication",
				"X509v3 Authority Key Identifier",
				"X509v3 Subject Key Identifier",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
				}
			}

			serial := mustOpenSSL(t, "x509", "-in", certFile, "-noout", "-serial")
			if want := "serial=" + issued.Serial + "\n"; serial != want {
				t.Errorf("openssl serial = %q, Issued.Serial gives %q", serial, want)
			}

			certPub := mustOpenSSL(t, "x509", "-in", certFile, "-noout", "-pubkey")
			keyPub := mustOpenSSL(t, "pkey", "-in", keyFile, "-pubout")
			if certPub != keyPub {
				t.Errorf("public key of server.key differs from server.crt:\n%s\n%s", keyPub, certPub)
			}
		})
	}
}

// leafSummary is what TestIssueServerFields compares.
type leafSummary struct {
	CommonName     string
	DNSNames       []string
	IPAddresses    []string
	ExtKeyUsage    []x509.ExtKeyUsage
	KeyUsage       x509.KeyUsage
	IsCA           bool
	AuthorityKeyID []byte
	KeyType        KeyType
	NotBefore      time.Time
	NotAfter       time.Time
}

func summarizeLeaf(cert *x509.Certificate) leafSummary {
	s := leafSummary{
		CommonName:     cert.Subject.CommonName,
		DNSNames:       cert.DNSNames,
		ExtKeyUsage:    cert.ExtKeyUsage,
		KeyUsage:       cert.KeyUsage,
		IsCA:           cert.IsCA,
		AuthorityKeyID: cert.AuthorityKeyId,
		KeyType:        keyTypeOf(cert.PublicKey),
		NotBefore:      cert.NotBefore,
		NotAfter:       cert.NotAfter,
	}
	for _, ip := range cert.IPAddresses {
		s.IPAddresses = append(s.IPAddresses, ip.String())
	}
	return s
}

func TestIssueServerFields(t *testing.T) {
	tests := []struct {
		keyType  KeyType
		keyUsage x509.KeyUsage
	}{
		{KeyRSA2048, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
		{KeyECDSAP256, x509.KeyUsageDigitalSignature},
	}
	for _, tt := range tests {
		t.Run(string(tt.keyType), func(t *testing.T) {
			ca := testCA(t, KeyRSA2048)
			issued := issueTestServer(t, ca, tt.keyType)
			want := leafSummary{
				CommonName:     "hub.home.arpa",
				DNSNames:       []string{"hub.home.arpa", "mqtt.home.arpa"},
				IPAddresses:    []string{"192.168.1.10", "fd00::10"},
				ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
				KeyUsage:       tt.keyUsage,
				AuthorityKeyID: ca.Cert.SubjectKeyId,
				KeyType:        tt.keyType,
				NotBefore:      testNow.Add(-backdate),
				NotAfter:       testNow.Add(-backdate + MaxServerValidity),
			}
			if diff := cmp.Diff(want, summarizeLeaf(issued.Cert)); diff != "" {
				t.Errorf("server certificate (-want +got):\n%s", diff)
			}
			if len(issued.Cert.SubjectKeyId) == 0 {
				t.Error("server certificate has no subject key ID")
			}
			if !bytes.HasPrefix(issued.KeyPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Errorf("KeyPEM is not unencrypted PKCS #8:\n%s", issued.KeyPEM)
			}
		})
	}
}

func TestIssueServerValidity(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		validity time.Duration
		want     time.Duration // lifetime of the certificate; 0 when an error is expected
		wantErr  string
	}{
		{"zero means 397 days", 0, 397 * day, ""},
		{"90 days", 90 * day, 90 * day, ""},
		{"397 days", 397 * day, 397 * day, ""},
		{"398 days", 398 * day, 0, "validity 398d exceeds the maximum of 397d"},
		{"397 days and a second", 397*day + time.Second, 0, "exceeds the maximum of 397d"},
		{"negative", -day, 0, "must be positive"},
	}
	ca := testCA(t, KeyECDSAP256)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testServerOptions(KeyECDSAP256)
			opts.Validity = tt.validity
			issued, err := ca.IssueServer(opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("IssueServer error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueServer: %v", err)
			}
			if got := issued.Cert.NotAfter.Sub(issued.Cert.NotBefore); got != tt.want {
				t.Errorf("lifetime = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestIssueServerRejectsCertificateOutlivingCA(t *testing.T) {
	opts := testCAOptions(KeyECDSAP256)
	opts.Validity = 30 * 24 * time.Hour
	ca, err := NewCA(opts)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	_, err = ca.IssueServer(testServerOptions(KeyECDSAP256))
	if err == nil || !strings.Contains(err.Error(), "would outlive the CA") {
		t.Errorf("IssueServer error = %v, want one about outliving the CA", err)
	}

	expired := testServerOptions(KeyECDSAP256)
	expired.Now = func() time.Time { return testNow.Add(60 * 24 * time.Hour) }
	_, err = ca.IssueServer(expired)
	if err == nil || !strings.Contains(err.Error(), "CA certificate expired") {
		t.Errorf("IssueServer after CA expiry: error = %v, want one about the expired CA", err)
	}
}

func TestIssueServerConstraints(t *testing.T) {
	tests := []struct {
		name      string
		dnsNames  []string
		ips       []string
		wantValue string // value named by the *ConstraintError; empty when allowed
	}{
		{"permitted names and addresses", testNames, []string{"192.168.1.10", "fd00::10"}, ""},
		// RFC 5280 lets a dNSName constraint cover subdomains as well.
		{"subdomain of permitted name", []string{"a.hub.home.arpa"}, nil, ""},
		{"upper-case permitted name", []string{"HUB.home.arpa"}, nil, ""},
		{"other domain", []string{"hub.home.arpa", "evil.example.com"}, nil, "evil.example.com"},
		{"parent domain", []string{"home.arpa"}, nil, "home.arpa"},
		{"name sharing a suffix", []string{"xhub.home.arpa"}, nil, "xhub.home.arpa"},
		{"other IPv4 address", testNames, []string{"192.168.1.11"}, "192.168.1.11"},
		{"other IPv6 address", testNames, []string{"fd00::11"}, "fd00::11"},
		{"IPv4-mapped permitted address", testNames, []string{"::ffff:192.168.1.10"}, ""},
	}
	ca := testCA(t, KeyECDSAP256)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testServerOptions(KeyECDSAP256)
			opts.DNSNames = tt.dnsNames
			opts.IPAddresses = parseAddrs(t, tt.ips)
			_, err := ca.IssueServer(opts)
			if tt.wantValue == "" {
				if err != nil {
					t.Fatalf("IssueServer: %v", err)
				}
				return
			}
			var ce *ConstraintError
			if !errors.As(err, &ce) {
				t.Fatalf("IssueServer error = %v, want *ConstraintError", err)
			}
			if ce.Value != tt.wantValue {
				t.Errorf("ConstraintError.Value = %q, want %q", ce.Value, tt.wantValue)
			}
			if !strings.Contains(err.Error(), tt.wantValue) {
				t.Errorf("error %q does not name %q", err, tt.wantValue)
			}
		})
	}
}

func parseAddrs(t *testing.T, ips []string) []netip.Addr {
	t.Helper()
	var addrs []netip.Addr
	for _, s := range ips {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	return addrs
}

// TestOpenSSLRejectsForgedCertificate signs certificates outside the name
// constraints with the CA key directly, past garagectl's own check, to show
// that OpenSSL (and so mosquitto's clients) rejects them because of the CA's
// name constraints, and that IssueServer rejects the same request.
func TestOpenSSLRejectsForgedCertificate(t *testing.T) {
	tests := []struct {
		name      string
		dnsNames  []string
		ips       []string
		wantValue string
	}{
		{"DNS name outside", []string{"evil.example.com"}, nil, "evil.example.com"},
		{"IP address outside", []string{"hub.home.arpa"}, []string{"10.0.0.1"}, "10.0.0.1"},
	}
	ca := testCA(t, KeyRSA2048)
	dir := t.TempDir()
	caFile := writeTemp(t, dir, "ca.crt", ca.CertPEM())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forged := forgeServerCert(t, ca, tt.dnsNames, parseAddrs(t, tt.ips))
			certFile := writeTemp(t, t.TempDir(), "forged.crt", forged)
			out, err := runOpenSSL(t, verifyArgs(caFile, certFile)...)
			if err == nil {
				t.Fatalf("openssl verify accepted the forged certificate:\n%s", out)
			}
			// X509_V_ERR_PERMITTED_VIOLATION, the name constraints error.
			if !strings.Contains(out, "permitted subtree violation") {
				t.Errorf("openssl verify output does not mention the name constraints:\n%s", out)
			}

			opts := testServerOptions(KeyRSA2048)
			opts.DNSNames = tt.dnsNames
			opts.IPAddresses = parseAddrs(t, tt.ips)
			_, err = ca.IssueServer(opts)
			var ce *ConstraintError
			if !errors.As(err, &ce) || ce.Value != tt.wantValue {
				t.Errorf("IssueServer error = %v, want *ConstraintError for %s", err, tt.wantValue)
			}
		})
	}
}

// forgeServerCert signs a server certificate with crypto/x509 alone, so no
// garagectl check applies.
func forgeServerCert(t *testing.T, ca *CA, names []string, ips []netip.Addr) []byte {
	t.Helper()
	key, err := generateKey(KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, ip := range ips {
		template.IPAddresses = append(template.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.Cert, key.Public(), ca.signer)
	if err != nil {
		t.Fatalf("create forged certificate: %v", err)
	}
	return pemCert(der)
}

func TestIssueClient(t *testing.T) {
	ca := testCA(t, KeyRSA2048)
	issued, err := ca.IssueClient(ClientOptions{Name: "relay1", Now: fixedNow})
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	want := leafSummary{
		CommonName:     "relay1",
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		AuthorityKeyID: ca.Cert.SubjectKeyId,
		KeyType:        KeyRSA2048,
		NotBefore:      testNow.Add(-backdate),
		NotAfter:       testNow.Add(-backdate + MaxServerValidity),
	}
	if diff := cmp.Diff(want, summarizeLeaf(issued.Cert)); diff != "" {
		t.Errorf("client certificate (-want +got):\n%s", diff)
	}

	dir := t.TempDir()
	caFile := writeTemp(t, dir, "ca.crt", ca.CertPEM())
	certFile := writeTemp(t, dir, "relay1.crt", issued.CertPEM)
	mustOpenSSL(t, verifyArgs(caFile, certFile, "-purpose", "sslclient")...)
	if out, err := runOpenSSL(t, verifyArgs(caFile, certFile, "-purpose", "sslserver")...); err == nil {
		t.Errorf("openssl verify accepted a client certificate as a server certificate:\n%s", out)
	}
}

func TestIssueClientRejects(t *testing.T) {
	tests := []struct {
		name    string
		opts    ClientOptions
		wantErr string
	}{
		{"empty name", ClientOptions{}, "invalid account name"},
		{"dotted name", ClientOptions{Name: "relay.1"}, `invalid account name "relay.1"`},
		{"name with space", ClientOptions{Name: "relay 1"}, "invalid account name"},
		{"name of 65 characters", ClientOptions{Name: strings.Repeat("a", 65)}, "invalid account name"},
		{"DNS SAN outside", ClientOptions{Name: "phone1", DNSNames: []string{"evil.example.com"}},
			"DNS name evil.example.com is outside the CA's name constraints"},
		{"IP SAN outside", ClientOptions{Name: "phone1", IPAddresses: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
			"IP address 10.0.0.1 is outside the CA's name constraints"},
	}
	ca := testCA(t, KeyECDSAP256)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Now = fixedNow
			_, err := ca.IssueClient(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("IssueClient error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestIssueServerMissingNames(t *testing.T) {
	opts := testServerOptions(KeyECDSAP256)
	opts.DNSNames = nil
	_, err := testCA(t, KeyECDSAP256).IssueServer(opts)
	if err == nil || !strings.Contains(err.Error(), "missing DNS names") {
		t.Errorf("IssueServer error = %v, want one about missing DNS names", err)
	}
}
