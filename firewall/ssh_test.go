package firewall

import (
	"net/netip"
	"testing"
)

func TestWouldDropSSH(t *testing.T) {
	lan := Options{SSHFrom: prefixes("192.168.1.0/24", "fd00:1::/64")}
	tests := []struct {
		name   string
		opts   Options
		remote string
		want   bool
	}{
		{"anywhere", Options{}, "203.0.113.9:50000", false},
		{"inside IPv4", lan, "192.168.1.20:50000", false},
		{"outside IPv4", lan, "203.0.113.9:50000", true},
		{"inside IPv6", lan, "[fd00:1::20]:50000", false},
		{"outside IPv6", lan, "[2001:db8::1]:50000", true},
		{"mapped IPv4", lan, "[::ffff:192.168.1.20]:50000", false},
		{"zoned link-local", Options{SSHFrom: prefixes("fe80::/10")}, "[fe80::1%eth0]:50000", false},
		{"loopback", lan, "127.0.0.1:50000", false},
		{"IPv6 loopback", lan, "[::1]:50000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote := netip.MustParseAddrPort(tt.remote)
			if got := WouldDropSSH(tt.opts, remote); got != tt.want {
				t.Errorf("WouldDropSSH(%v) = %t, want %t", remote, got, tt.want)
			}
		})
	}
}
