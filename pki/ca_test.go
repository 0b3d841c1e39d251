package pki

import (
	"crypto/x509"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// caSummary is what TestNewCAFields compares for every key type.
type caSummary struct {
	Subject            string
	Issuer             string
	IsCA               bool
	MaxPathLen         int
	MaxPathLenZero     bool
	KeyUsage           x509.KeyUsage
	ConstraintCritical bool
	PermittedDNS       []string
	PermittedIPs       []string
	ExcludedIPs        []string
	KeyType            KeyType
	SignatureAlgorithm x509.SignatureAlgorithm
	NotBefore          time.Time
	NotAfter           time.Time
}

func summarizeCA(cert *x509.Certificate) caSummary {
	return caSummary{
		Subject:            cert.Subject.String(),
		Issuer:             cert.Issuer.String(),
		IsCA:               cert.IsCA,
		MaxPathLen:         cert.MaxPathLen,
		MaxPathLenZero:     cert.MaxPathLenZero,
		KeyUsage:           cert.KeyUsage,
		ConstraintCritical: cert.PermittedDNSDomainsCritical,
		PermittedDNS:       cert.PermittedDNSDomains,
		PermittedIPs:       rangeStrings(cert.PermittedIPRanges),
		ExcludedIPs:        rangeStrings(cert.ExcludedIPRanges),
		KeyType:            keyTypeOf(cert.PublicKey),
		SignatureAlgorithm: cert.SignatureAlgorithm,
		NotBefore:          cert.NotBefore,
		NotAfter:           cert.NotAfter,
	}
}

func TestNewCAFields(t *testing.T) {
	tests := []struct {
		keyType KeyType
		sigAlg  x509.SignatureAlgorithm
	}{
		{KeyRSA2048, x509.SHA256WithRSA},
		{KeyRSA3072, x509.SHA256WithRSA},
		{KeyECDSAP256, x509.ECDSAWithSHA256},
	}
	for _, tt := range tests {
		t.Run(string(tt.keyType), func(t *testing.T) {
			ca := testCA(t, tt.keyType)
			want := caSummary{
				Subject:            "CN=garage garage CA,O=garage",
				Issuer:             "CN=garage garage CA,O=garage",
				IsCA:               true,
				MaxPathLen:         0,
				MaxPathLenZero:     true,
				KeyUsage:           x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
				ConstraintCritical: true,
				PermittedDNS:       []string{"hub.home.arpa", "mqtt.home.arpa"},
				PermittedIPs:       []string{"192.168.1.10/32", "fd00::10/128"},
				ExcludedIPs:        []string{},
				KeyType:            tt.keyType,
				SignatureAlgorithm: tt.sigAlg,
				NotBefore:          testNow.Add(-backdate),
				NotAfter:           testNow.Add(-backdate + tenYears),
			}
			if diff := cmp.Diff(want, summarizeCA(ca.Cert)); diff != "" {
				t.Errorf("CA certificate (-want +got):\n%s", diff)
			}
			if got := ca.KeyType(); got != tt.keyType {
				t.Errorf("KeyType() = %s, want %s", got, tt.keyType)
			}
		})
	}
}

func TestNewCASerialIsRandom128Bit(t *testing.T) {
	a, b := testCA(t, KeyRSA2048), testCA(t, KeyECDSAP256)
	for _, ca := range []*CA{a, b} {
		if n := ca.Cert.SerialNumber.BitLen(); n > 128 || n < 64 {
			t.Errorf("serial %s has %d bits, want a random value below 2^128", serialHex(ca.Cert.SerialNumber), n)
		}
	}
	if a.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 {
		t.Errorf("two CAs share serial %s", serialHex(a.Cert.SerialNumber))
	}
}

func TestNewCAWithoutIPsExcludesAllAddresses(t *testing.T) {
	opts := testCAOptions(KeyECDSAP256)
	opts.IPAddresses = nil
	ca, err := NewCA(opts)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	want := []string{"0.0.0.0/0", "::/0"}
	if diff := cmp.Diff(want, rangeStrings(ca.Cert.ExcludedIPRanges)); diff != "" {
		t.Errorf("excluded IP ranges (-want +got):\n%s", diff)
	}

	serverOpts := testServerOptions(KeyECDSAP256)
	serverOpts.IPAddresses = []netip.Addr{netip.MustParseAddr("192.168.1.10")}
	_, err = ca.IssueServer(serverOpts)
	var ce *ConstraintError
	if !errors.As(err, &ce) {
		t.Fatalf("IssueServer with an IP SAN: error %v, want *ConstraintError", err)
	}
}

func TestNewCAInvalidOptions(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*CAOptions)
		wantErr string
	}{
		{"missing site", func(o *CAOptions) { o.Site = "" }, "missing site name"},
		{"zero validity", func(o *CAOptions) { o.Validity = 0 }, "invalid CA validity 0d"},
		{"no DNS names", func(o *CAOptions) { o.DNSNames = nil }, "missing DNS names"},
		{"wildcard name", func(o *CAOptions) { o.DNSNames = []string{"*.home.arpa"} }, `invalid DNS name "*.home.arpa"`},
		{"trailing dot", func(o *CAOptions) { o.DNSNames = []string{"hub.home.arpa."} }, "invalid DNS name"},
		{"zoned IP", func(o *CAOptions) {
			o.IPAddresses = []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}
		}, "has a zone"},
		{"zero IP", func(o *CAOptions) { o.IPAddresses = []netip.Addr{{}} }, "invalid (zero) IP address"},
		{"unknown key type", func(o *CAOptions) { o.KeyType = "rsa-1024" }, `unsupported key type "rsa-1024"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testCAOptions(KeyECDSAP256)
			tt.modify(&opts)
			_, err := NewCA(opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewCA error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewCANormalizesNames(t *testing.T) {
	opts := testCAOptions(KeyECDSAP256)
	opts.DNSNames = []string{"Hub.Home.ARPA", "hub.home.arpa"}
	opts.IPAddresses = []netip.Addr{netip.MustParseAddr("::ffff:192.168.1.10")}
	ca, err := NewCA(opts)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	if diff := cmp.Diff([]string{"hub.home.arpa"}, ca.Cert.PermittedDNSDomains); diff != "" {
		t.Errorf("permitted DNS domains (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"192.168.1.10/32"}, rangeStrings(ca.Cert.PermittedIPRanges)); diff != "" {
		t.Errorf("permitted IP ranges (-want +got):\n%s", diff)
	}
}

func TestNewCAOpenSSLText(t *testing.T) {
	dir := t.TempDir()
	caFile := writeTemp(t, dir, "ca.crt", testCA(t, KeyRSA2048).CertPEM())
	text := mustOpenSSL(t, "x509", "-in", caFile, "-noout", "-text")
	for _, want := range []string{
		"X509v3 Name Constraints: critical",
		"DNS:hub.home.arpa",
		"DNS:mqtt.home.arpa",
		"IP:192.168.1.10/255.255.255.255",
		"CA:TRUE, pathlen:0",
		"Certificate Sign, CRL Sign",
		"Subject: O = garage, CN = garage garage CA",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
		}
	}
}
