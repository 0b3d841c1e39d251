package loglimit

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"short", "relay1", "relay1"},
		{"exactly the limit", strings.Repeat("a", MaxValueBytes), strings.Repeat("a", MaxValueBytes)},
		{"cut", strings.Repeat("a", 15<<10), strings.Repeat("a", MaxValueBytes) + "…"},
		{"control and non-ASCII bytes", "a\nb c\x00é", "a?b?c???"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Value(tt.in); got != tt.want {
				t.Errorf("Value = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSourceKey(t *testing.T) {
	tests := []struct {
		name string
		addr netip.Addr
		want netip.Prefix
		str  string
	}{
		{"ipv4", netip.MustParseAddr("192.0.2.7"), netip.MustParsePrefix("192.0.2.7/32"), "192.0.2.7"},
		{"ipv4-mapped", netip.MustParseAddr("::ffff:192.0.2.7"), netip.MustParsePrefix("192.0.2.7/32"),
			"192.0.2.7"},
		{"ipv6 keeps /64", netip.MustParseAddr("2001:db8:1:2:3:4:5:6"),
			netip.MustParsePrefix("2001:db8:1:2::/64"), "2001:db8:1:2::/64"},
		{"ipv6 zone dropped", netip.MustParseAddr("fe80::1%eth0"), netip.MustParsePrefix("fe80::/64"),
			"fe80::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SourceKey(tt.addr)
			if got != tt.want {
				t.Errorf("SourceKey(%v) = %v, want %v", tt.addr, got, tt.want)
			}
			if s := SourceString(got); s != tt.str {
				t.Errorf("SourceString(%v) = %q, want %q", got, s, tt.str)
			}
		})
	}
}
