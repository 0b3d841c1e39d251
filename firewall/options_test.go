package firewall

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// prefixes parses each argument as a netip.Prefix and panics on a bad one.
func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestNormalizeDefaults(t *testing.T) {
	got, err := Options{}.normalize()
	if err != nil {
		t.Fatalf("normalize zero Options: %v", err)
	}
	want := Options{
		SSHPort: 22, BrokerPort: 8883, GatePort: 1080, MaxConnections: 32,
		Broker:       Limits{Rate: 20, Per: time.Minute, Concurrent: 8},
		Gate:         Limits{Rate: 30, Per: time.Minute, Concurrent: 16},
		BlockTimeout: 10 * time.Minute, PingRate: 5,
	}
	if diff := cmp.Diff(want, got, comparePrefix); diff != "" {
		t.Errorf("normalize zero Options (-want +got):\n%s", diff)
	}
}

func TestNormalizePrefixes(t *testing.T) {
	tests := []struct {
		name string
		in   []netip.Prefix
		want []netip.Prefix
	}{
		{"empty", nil, nil},
		{"sorted IPv4 before IPv6",
			prefixes("fd00::/64", "10.0.0.0/8", "192.168.1.0/24"),
			prefixes("10.0.0.0/8", "192.168.1.0/24", "fd00::/64")},
		{"duplicate dropped", prefixes("10.0.0.0/8", "10.0.0.0/8"), prefixes("10.0.0.0/8")},
		{"contained dropped",
			prefixes("10.1.0.0/16", "10.0.0.0/8", "10.2.3.4/32", "11.0.0.0/8"),
			prefixes("10.0.0.0/8", "11.0.0.0/8")},
		{"adjacent kept", prefixes("192.168.1.0/24", "192.168.0.0/24"),
			prefixes("192.168.0.0/24", "192.168.1.0/24")},
		{"everything", prefixes("::/0", "0.0.0.0/0", "10.0.0.0/8"), prefixes("0.0.0.0/0", "::/0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalizePrefixes("MQTTFrom", tt.in)
			if err != nil {
				t.Fatalf("normalizePrefixes: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, comparePrefix); diff != "" {
				t.Errorf("normalizePrefixes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"same ports", Options{BrokerPort: 22}, "SSHPort 22, BrokerPort 22 and GatePort 1080 must differ"},
		{"host bits", Options{MQTTFrom: []netip.Prefix{netip.MustParsePrefix("192.168.1.5/24")}},
			"MQTTFrom: prefix 192.168.1.5/24 has host bits set: write 192.168.1.0/24, or 192.168.1.5/32"},
		{"mapped", Options{GateFrom: prefixes("::ffff:10.0.0.0/104")},
			"GateFrom: prefix ::ffff:10.0.0.0/104 is IPv4-mapped"},
		{"invalid prefix", Options{SSHFrom: []netip.Prefix{{}}}, "SSHFrom: prefix invalid Prefix is not valid"},
		{"negative max", Options{MaxConnections: -1}, "MaxConnections -1: use a number from 1"},
		{"negative rate", Options{Gate: Limits{Rate: -3}}, "Gate.Rate -3"},
		{"odd window", Options{Broker: Limits{Per: 10 * time.Second}}, "Broker.Per 10s: use 1s"},
		{"fractional block", Options{BlockTimeout: 1500 * time.Millisecond}, "BlockTimeout 1.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.opts.normalize()
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("normalize error = %v, want ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("normalize error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// comparePrefix lets cmp compare netip.Prefix, whose fields are unexported.
var comparePrefix = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
