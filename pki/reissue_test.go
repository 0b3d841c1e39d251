package pki

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestServerNeedsReissue(t *testing.T) {
	ca := testCA(t, KeyECDSAP256)
	server := issueTestServer(t, ca, KeyECDSAP256)
	client, err := ca.IssueClient(ClientOptions{Name: "relay1", KeyType: KeyECDSAP256, Now: fixedNow})
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	day := 24 * time.Hour
	renew := 30 * day

	tests := []struct {
		name       string
		certPEM    []byte
		names      []string
		ips        []string
		now        time.Time
		wantReason string // substring of the reason; empty when no reissue is needed
	}{
		{"matches", server.CertPEM, testNames, []string{"192.168.1.10", "fd00::10"}, testNow, ""},
		{"other case and IP order", server.CertPEM, []string{"HUB.home.arpa", "mqtt.home.arpa"},
			[]string{"fd00::10", "192.168.1.10"}, testNow, ""},
		{"just outside the renewal window", server.CertPEM, testNames, []string{"192.168.1.10", "fd00::10"},
			server.Cert.NotAfter.Add(-renew - time.Second), ""},
		{"inside the renewal window", server.CertPEM, testNames, []string{"192.168.1.10", "fd00::10"},
			server.Cert.NotAfter.Add(-renew), "within the renewal window"},
		{"expired", server.CertPEM, testNames, []string{"192.168.1.10", "fd00::10"},
			server.Cert.NotAfter.Add(time.Hour), "certificate expired on"},
		{"not yet valid", server.CertPEM, testNames, []string{"192.168.1.10", "fd00::10"},
			testNow.Add(-time.Hour), "not valid before"},
		{"name added", server.CertPEM, append([]string{"hub.home.arpa", "mqtt.home.arpa"}, "a.hub.home.arpa"),
			[]string{"192.168.1.10", "fd00::10"}, testNow, "DNS names are [hub.home.arpa mqtt.home.arpa]"},
		{"first name changed", server.CertPEM, []string{"mqtt.home.arpa", "hub.home.arpa"},
			[]string{"192.168.1.10", "fd00::10"}, testNow, `common name is "hub.home.arpa", want "mqtt.home.arpa"`},
		{"address removed", server.CertPEM, testNames, []string{"192.168.1.10"}, testNow,
			"IP addresses are [192.168.1.10 fd00::10], want [192.168.1.10]"},
		{"client certificate", client.CertPEM, testNames, nil, testNow, "lacks the serverAuth"},
		{"not a certificate", []byte("garbage"), testNames, nil, testNow, "no PEM certificate found"},
		{"invalid name in config", server.CertPEM, []string{"bad name"}, nil, testNow, "invalid DNS name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ips []netip.Addr
			for _, s := range tt.ips {
				ips = append(ips, netip.MustParseAddr(s))
			}
			need, reason := ServerNeedsReissue(tt.certPEM, tt.names, ips, tt.now, renew)
			if want := tt.wantReason != ""; need != want {
				t.Fatalf("ServerNeedsReissue = %t (%q), want %t", need, reason, want)
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason = %q, want one containing %q", reason, tt.wantReason)
			}
		})
	}
}
