package firewall

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// showCases are the options that the golden files in testdata and the
// comparison with nft in a network namespace cover.
var showCases = []struct {
	name string
	opts Options
}{
	{"reference", Options{
		SSHPort: 22, MQTTFrom: prefixes("192.168.1.0/24"), GateFrom: prefixes("192.168.1.0/24"),
		BrokerPort: 8883, GatePort: 1080, MaxConnections: 32,
	}},
	{"restricted", Options{
		SSHPort: 2222, SSHFrom: prefixes("10.0.0.0/8", "fd00:1::/64"),
		MQTTFrom:   prefixes("192.168.1.0/24", "192.168.2.7/32", "10.20.0.0/16", "fd00:1::/64", "2001:db8::7/128"),
		GateFrom:   prefixes("fd00:1::/64"),
		BrokerPort: 18883, GatePort: 11080, MaxConnections: 100,
		Broker:       Limits{Rate: 5, Per: time.Hour, Concurrent: 3},
		Gate:         Limits{Rate: 100, Per: 24 * time.Hour, Concurrent: 1},
		BlockTimeout: 90 * time.Second, PingRate: 1,
	}},
	{"edges", Options{
		MQTTFrom: prefixes("0.0.0.0/0", "::/0"),
		GateFrom: prefixes("255.255.255.255/32", "192.168.0.0/24", "192.168.1.0/24",
			"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120"),
		Broker:       Limits{Rate: 3, Per: time.Second},
		BlockTimeout: 25 * time.Hour,
	}},
}

func TestShowGolden(t *testing.T) {
	for _, tc := range showCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Show(tc.opts)
			if err != nil {
				t.Fatalf("Show: %v", err)
			}

			path := filepath.Join("testdata", tc.name+".nft")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatalf("write golden file: %v", err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Show differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestShowRejectsInvalidOptions(t *testing.T) {
	if got, err := Show(Options{GatePort: 8883}); err == nil {
		t.Errorf("Show with equal ports = %q, want an error", got)
	}
}
