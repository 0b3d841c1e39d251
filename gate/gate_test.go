package gate

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/gate/socks"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

func TestStateDir(t *testing.T) {
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, want string
	}{
		{"systemd", "/var/lib/garage-gate", "/var/lib/garage-gate"},
		{"systemd with two directories", "/var/lib/a:/var/lib/b", "/var/lib/a"},
		{"no systemd", "", filepath.Join(root.Dir(), layout.GateStateDir)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(StateDirEnv, tt.env)
			if got := StateDir(root); got != tt.want {
				t.Errorf("StateDir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAllowDestination(t *testing.T) {
	specific := config.Gate{Hostname: "garage.gate", Listen: netip.MustParseAddrPort("192.168.1.10:1080")}
	any := config.Gate{Hostname: "garage.gate", Listen: netip.MustParseAddrPort("0.0.0.0:1080")}
	addr := netip.MustParseAddr
	tests := []struct {
		name string
		gate config.Gate
		dest socks.Destination
		want bool
	}{
		{"virtual host", specific, socks.Destination{Host: "garage.gate", Port: 80}, true},
		{"virtual host in capitals", specific, socks.Destination{Host: "Garage.GATE", Port: 80}, true},
		{"virtual host on 443", specific, socks.Destination{Host: "garage.gate", Port: 443}, false},
		{"virtual host with trailing dot", specific, socks.Destination{Host: "garage.gate.", Port: 80}, false},
		{"other host", specific, socks.Destination{Host: "example.com", Port: 80}, false},
		{"subdomain", specific, socks.Destination{Host: "x.garage.gate", Port: 80}, false},
		{"listen address", specific, socks.Destination{Addr: addr("192.168.1.10"), Port: 1080}, true},
		{"listen address, other port", specific, socks.Destination{Addr: addr("192.168.1.10"), Port: 80}, false},
		{"other address", specific, socks.Destination{Addr: addr("192.168.1.11"), Port: 1080}, false},
		{"broker on loopback", specific, socks.Destination{Addr: addr("127.0.0.1"), Port: 8883}, false},
		{"metadata address", specific, socks.Destination{Addr: addr("169.254.169.254"), Port: 80}, false},
		{"unspecified listen, loopback", any, socks.Destination{Addr: addr("127.0.0.1"), Port: 1080}, false},
		{"unspecified listen, 0.0.0.0", any, socks.Destination{Addr: addr("0.0.0.0"), Port: 1080}, false},
		{"unspecified listen, virtual host", any, socks.Destination{Host: "garage.gate", Port: 80}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := allowDestination(tt.gate)(tt.dest); got != tt.want {
				t.Errorf("allow %+v = %v, want %v", tt.dest, got, tt.want)
			}
		})
	}
}

func TestOwnHosts(t *testing.T) {
	tests := []struct {
		name   string
		listen string
		want   []string
	}{
		{"specific address", "192.168.1.10:1080", []string{"garage.gate", "192.168.1.10:1080"}},
		{"IPv6 address", "[fd00::10]:1080", []string{"garage.gate", "[fd00::10]:1080"}},
		{"unspecified address", "0.0.0.0:1080", []string{"garage.gate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := config.Gate{Hostname: "Garage.Gate", Listen: netip.MustParseAddrPort(tt.listen)}
			if diff := cmp.Diff(tt.want, ownHosts(g)); diff != "" {
				t.Errorf("ownHosts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
