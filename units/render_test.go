package units

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// exampleOptions returns the options of the example config that
// "garagectl config example" prints.
func exampleOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "garage.yaml")
	if err := os.WriteFile(file, config.Example(), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(dir, config.SecretsFile)
	if err := os.WriteFile(secrets, config.ExampleSecrets(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("load example config: %v", err)
	}
	return NewOptions(cfg)
}

func renderExample(t *testing.T) []File {
	t.Helper()
	files, err := Files(exampleOptions(t))
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	return files
}

func TestFilesMatchGolden(t *testing.T) {
	for _, f := range renderExample(t) {
		t.Run(f.Name, func(t *testing.T) {
			golden := filepath.Join("testdata", f.Name)
			if *update {
				if err := os.WriteFile(golden, f.Content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (rerun with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(f.Content)); diff != "" {
				t.Errorf("%s differs from %s (-want +got):\n%s", f.Name, golden, diff)
			}
		})
	}
}

func TestFilesDeterministic(t *testing.T) {
	first := renderExample(t)
	second := renderExample(t)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("two renders differ (-first +second):\n%s", diff)
	}
}

// The comments that render adds must not change what systemd reads: parsing
// a file back gives the directives in the order they were declared, grouped
// by section.
func TestFilesParseBack(t *testing.T) {
	opts := exampleOptions(t)
	declared := map[string][]directive{
		BrokerUnit:   brokerUnit(opts),
		GateUnit:     gateUnit(opts),
		FirewallUnit: firewallUnit(opts),
	}
	for _, f := range renderExample(t) {
		t.Run(f.Name, func(t *testing.T) {
			parsed, err := unit.Deserialize(bytes.NewReader(f.Content))
			if err != nil {
				t.Fatalf("parse %s: %v", f.Name, err)
			}
			var want, got []string
			for _, d := range groupBySection(declared[f.Name]) {
				want = append(want, d.section+"."+d.name+"="+d.value)
			}
			for _, o := range parsed {
				got = append(got, o.Section+"."+o.Name+"="+o.Value)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parsed directives (-want +got):\n%s", diff)
			}
		})
	}
}

// directiveValues returns the values of every directive name in section of a
// rendered unit.
func directiveValues(t *testing.T, f File, section, name string) []string {
	t.Helper()
	parsed, err := unit.Deserialize(bytes.NewReader(f.Content))
	if err != nil {
		t.Fatalf("parse %s: %v", f.Name, err)
	}
	var values []string
	for _, o := range parsed {
		if o.Section == section && o.Name == name {
			values = append(values, o.Value)
		}
	}
	return values
}

func fileNamed(t *testing.T, files []File, name string) File {
	t.Helper()
	for _, f := range files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no unit %s among %d files", name, len(files))
	return File{}
}

func TestFilesOptionsVary(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Options)
		unit    string
		section string // default [Service]
		key     string
		want    []string
		comment string // text that the unit must contain
	}{
		{
			name:   "broker on a privileged port gets only CAP_NET_BIND_SERVICE",
			modify: func(o *Options) { o.BrokerPort = 883 },
			unit:   BrokerUnit, key: "AmbientCapabilities",
			want:    []string{"CAP_NET_BIND_SERVICE"},
			comment: "Port 883 is below 1024",
		},
		{
			name:   "broker on a privileged port runs without a user namespace",
			modify: func(o *Options) { o.BrokerPort = 883 },
			unit:   BrokerUnit, key: "PrivateUsers",
			want: []string{"no"},
		},
		{
			name:   "broker on port 8883 has no capability",
			modify: func(o *Options) {},
			unit:   BrokerUnit, key: "CapabilityBoundingSet",
			want: []string{""},
		},
		{
			name:   "empty mqtt_from denies every outside source",
			modify: func(o *Options) { o.MQTTFrom = nil },
			unit:   BrokerUnit, key: "IPAddressDeny",
			want:    []string{"any"},
			comment: "An empty network.mqtt_from admits no",
		},
		{
			name:   "empty gate_from allows only localhost",
			modify: func(o *Options) { o.GateFrom = nil },
			unit:   GateUnit, key: "IPAddressAllow",
			want: []string{"localhost"},
		},
		{
			name: "sources are masked and deduplicated",
			modify: func(o *Options) {
				o.MQTTFrom = []netip.Prefix{
					netip.MustParsePrefix("10.0.0.7/8"),
					netip.MustParsePrefix("10.0.0.0/8"),
					netip.MustParsePrefix("fd00::1/64"),
				}
			},
			unit: BrokerUnit, key: "IPAddressAllow",
			want: []string{"localhost 10.0.0.0/8 fd00::/64"},
		},
		{
			name: "gate on one address waits for the network",
			modify: func(o *Options) {
				o.GateListen = netip.MustParseAddrPort("192.168.1.10:1080")
			},
			unit: GateUnit, section: sectionUnit, key: "Wants",
			want: []string{"network-online.target garage-mosquitto.service"},
		},
		{
			name:   "gate loads one credential per secret",
			modify: func(o *Options) { o.Phones = []string{"a"}; o.Devices = []string{"d1", "d2"} },
			unit:   GateUnit, key: "LoadCredential",
			want: []string{
				"mqtt-gate.password:/var/lib/garagectl/mqtt/gate.password",
				"phone-a.password:/var/lib/garagectl/phones/a.password",
				"phone-a.token:/var/lib/garagectl/phones/a.token",
				"device-d1.key:/var/lib/garagectl/devices/d1.key",
				"device-d2.key:/var/lib/garagectl/devices/d2.key",
			},
		},
		{
			name:   "firewall reads a config elsewhere with its secrets",
			modify: func(o *Options) { o.ConfigFile = "/srv/hub/garage.yaml" },
			unit:   FirewallUnit, key: "BindReadOnlyPaths",
			want: []string{"/srv/hub/garage.yaml -/srv/hub/secrets.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := exampleOptions(t)
			tt.modify(&opts)
			files, err := Files(opts)
			if err != nil {
				t.Fatalf("Files: %v", err)
			}
			f := fileNamed(t, files, tt.unit)
			section := tt.section
			if section == "" {
				section = sectionService
			}
			got := directiveValues(t, f, section, tt.key)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s values (-want +got):\n%s", tt.key, diff)
			}
			if tt.comment != "" && !strings.Contains(commentText(f.Content), tt.comment) {
				t.Errorf("%s has no comment %q:\n%s", tt.unit, tt.comment, f.Content)
			}
		})
	}
}

// commentText joins a unit's comment lines into one line of text.
func commentText(content []byte) string {
	var words []string
	for _, line := range strings.Split(string(content), "\n") {
		if text, ok := strings.CutPrefix(line, "#"); ok {
			words = append(words, strings.Fields(text)...)
		}
	}
	return strings.Join(words, " ")
}

func TestFilesRejectInvalidOptions(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Options)
		wantErr string
	}{
		{"relative gate program",
			func(o *Options) { o.GateBinary = "garage-gate" },
			"invalid gate program path"},
		{"space in config path",
			func(o *Options) { o.ConfigFile = "/etc/my hub.yaml" },
			"invalid config file path"},
		{"specifier in program path",
			func(o *Options) { o.Garagectl = "/opt/%n" },
			"invalid garagectl program path"},
		{"unclean path",
			func(o *Options) { o.Mosquitto = "/usr/sbin/../sbin/mosquitto" },
			"invalid mosquitto program path"},
		{"zero broker port",
			func(o *Options) { o.BrokerPort = 0 },
			"invalid ports"},
		{"missing gate address",
			func(o *Options) { o.GateListen = netip.AddrPort{} },
			"invalid ports"},
		{"invalid prefix",
			func(o *Options) { o.GateFrom = []netip.Prefix{{}} },
			"invalid gate source prefix"},
		{"duplicate phone",
			func(o *Options) { o.Phones = []string{"p", "p"} },
			`duplicate phone name "p"`},
		{"phone name with a colon",
			func(o *Options) { o.Phones = []string{"a:b"} },
			"invalid phone name"},
		{"device name with a slash",
			func(o *Options) { o.Devices = []string{"a/b"} },
			"invalid device name"},
		{"site with a newline",
			func(o *Options) { o.Site = "a\nExecStart=/bin/sh" },
			"invalid site name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultOptions()
			tt.modify(&opts)
			_, err := Files(opts)
			if err == nil {
				t.Fatalf("Files accepted %+v", opts)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestChangesArePublicRootFiles(t *testing.T) {
	files := renderExample(t)
	changes := Changes(files)
	var got []string
	for _, c := range changes {
		got = append(got, c.Path+" "+c.Owner+":"+c.Group+" "+c.Mode.String())
	}
	want := []string{
		"/etc/systemd/system/garage-mosquitto.service root:root -rw-r--r--",
		"/etc/systemd/system/garage-gate.service root:root -rw-r--r--",
		"/etc/systemd/system/garage-firewall.service root:root -rw-r--r--",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
