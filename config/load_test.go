package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testSecrets is a secrets.yaml with values that no message may contain.
const testSecrets = `wifi_ssid: ssid-7f3a9c
wifi_password: pass-7f3a9c-e41d
`

// compareNetip lets cmp compare the netip types, whose fields are unexported.
var compareNetip = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})

// writeFiles writes the config and, unless secrets is empty, secrets.yaml (mode 0600)
// into a new directory and returns the config's path.
func writeFiles(t *testing.T, config, secrets string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "garage.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if secrets != "" {
		err := os.WriteFile(filepath.Join(dir, SecretsFile), []byte(secrets), 0o600)
		if err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// configErrors returns the *Error values in err, which Load joins when there are several.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	list := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		list = joined.Unwrap()
	}
	var out []*Error
	for _, e := range list {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is not a *config.Error", e)
		}
		out = append(out, ce)
	}
	return out
}

func TestLoadExample(t *testing.T) {
	path := writeFiles(t, string(Example()), string(ExampleSecrets()))
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load(example): %v", err)
	}

	want := &Config{
		Site: "garage",
		Broker: Broker{
			Names:          []string{"hub.home.arpa"},
			Addresses:      []netip.Addr{netip.MustParseAddr("192.168.1.10")},
			Port:           8883,
			TLSMinVersion:  "1.2",
			MaxConnections: 32,
		},
		Network: Network{
			SSHPort:  22,
			SSHFrom:  []netip.Prefix{},
			MQTTFrom: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")},
			GateFrom: []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")},
		},
		PKI: PKI{
			OfflineDir:     "/media/garage-ca",
			KeyType:        RSA2048,
			CAValidity:     Duration(3650 * 24 * time.Hour),
			ServerValidity: Duration(397 * 24 * time.Hour),
		},
		Gate: Gate{
			Listen:   netip.MustParseAddrPort("0.0.0.0:1080"),
			Hostname: "garage.gate",
			Cooldown: Duration(10 * time.Second),
			Phones:   []Phone{{Name: "phone1"}},

			MaxConnections:          64,
			MaxConnectionsPerSource: 8,
			LockoutFailures:         5,
			LockoutBase:             Duration(time.Minute),
			LockoutMax:              Duration(time.Hour),
		},
		Devices: []Device{{
			Name:         "relay1",
			RelayPin:     5,
			Pulse:        Duration(400 * time.Millisecond),
			WiFiSSID:     Secret{Value: placeholderSSID, Ref: "wifi_ssid"},
			WiFiPassword: Secret{Value: placeholderPassword, Ref: "wifi_password"},
		}},
		File: path,
		Warnings: []Warning{
			{File: path, Line: 30, Column: 16, Msg: `devices[0].wifi_ssid: the secrets.yaml ` +
				`entry "wifi_ssid" is still the placeholder of the example secrets.yaml: ` +
				`replace it with the real value`},
			{File: path, Line: 31, Column: 20, Msg: `devices[0].wifi_password: the ` +
				`secrets.yaml entry "wifi_password" is still the placeholder of the example ` +
				`secrets.yaml: replace it with the real value`},
		},
	}
	if diff := cmp.Diff(want, got, compareNetip); diff != "" {
		t.Errorf("Load(example) mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadDefaults(t *testing.T) {
	path := writeFiles(t, minimalBroker+minimalDevices, testSecrets)
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	want := Default()
	want.File = path
	want.Broker.Names = []string{"hub.home.arpa"}
	want.Devices = []Device{{
		Name:         "relay1",
		RelayPin:     5,
		Pulse:        DefaultPulse,
		WiFiSSID:     Secret{Value: "ssid-7f3a9c", Ref: "wifi_ssid"},
		WiFiPassword: Secret{Value: "pass-7f3a9c-e41d", Ref: "wifi_password"},
	}}
	ignore := cmpopts.IgnoreFields(Config{}, "Warnings")
	if diff := cmp.Diff(want, got, compareNetip, ignore); diff != "" {
		t.Errorf("Load(minimal config) mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadNormalizes(t *testing.T) {
	config := `broker:
  names: [Hub.Home.ARPA]
  addresses: ["::ffff:192.168.1.10"]
pki:
  offline_dir: /media/usb/../garage-ca
gate:
  hostname: Garage.Gate
  listen: "[::ffff:10.0.0.1]:1080"
` + minimalDevices
	c, err := Load(writeFiles(t, config, testSecrets))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	tests := []struct{ name, got, want string }{
		{"broker name", c.Broker.Names[0], "hub.home.arpa"},
		{"broker address", c.Broker.Addresses[0].String(), "192.168.1.10"},
		{"offline_dir", c.PKI.OfflineDir, "/media/garage-ca"},
		{"gate hostname", c.Gate.Hostname, "garage.gate"},
		{"gate listen", c.Gate.Listen.String(), "10.0.0.1:1080"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadGateKeys(t *testing.T) {
	config := `gate:
  allow_no_auth: true
  max_connections: 16
  max_connections_per_source: 4
  lockout_failures: 3
  lockout_base: 30s
  lockout_max: 2h
` + minimalBroker + minimalDevices
	c, err := Load(writeFiles(t, config, testSecrets))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Default().Gate
	want.AllowNoAuth = true
	want.MaxConnections = 16
	want.MaxConnectionsPerSource = 4
	want.LockoutFailures = 3
	want.LockoutBase = Duration(30 * time.Second)
	want.LockoutMax = Duration(2 * time.Hour)
	if diff := cmp.Diff(want, c.Gate, compareNetip); diff != "" {
		t.Errorf("Gate mismatch (-want +got):\n%s", diff)
	}
}

// garage-gate loads the config in a sandbox that hides secrets.yaml, so
// LoadWithoutSecrets must never open it.
func TestLoadWithoutSecrets(t *testing.T) {
	path := writeFiles(t, string(Example()), "")
	// A directory in place of secrets.yaml fails any attempt to read it.
	if err := os.Mkdir(filepath.Join(filepath.Dir(path), SecretsFile), 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := LoadWithoutSecrets(path)
	if err != nil {
		t.Fatalf("LoadWithoutSecrets(example): %v", err)
	}
	got := []Secret{c.Devices[0].WiFiSSID, c.Devices[0].WiFiPassword}
	want := []Secret{{Ref: "wifi_ssid"}, {Ref: "wifi_password"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secrets mismatch (-want +got):\n%s", diff)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", c.Warnings)
	}
}

func TestLoadWithoutSecretsRejects(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"inline password too short", strings.Replace(minimalDevices,
			"!secret wifi_password", "short", 1), "must be 8 to 63 printable ASCII"},
		{"password missing", strings.Replace(minimalDevices,
			"    wifi_password: !secret wifi_password\n", "", 1), "wifi_password is missing"},
		{"unknown key", "gate:\n  colldown: 10s\n" + minimalDevices, `unknown key "colldown"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithoutSecrets(writeFiles(t, minimalBroker+tt.config, ""))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadWithoutSecrets error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadNullKeepsDefault(t *testing.T) {
	config := "site:\nbroker:\n  names: [hub.home.arpa]\n  port: ~\n" + minimalDevices
	c, err := Load(writeFiles(t, config, testSecrets))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Site != DefaultSite {
		t.Errorf("Site = %q, want the default %q", c.Site, DefaultSite)
	}
	if c.Broker.Port != DefaultBrokerPort {
		t.Errorf("Broker.Port = %d, want the default %d", c.Broker.Port, DefaultBrokerPort)
	}
}

func TestLoadAnchorsAndAliases(t *testing.T) {
	config := `network:
  mqtt_from: &lan [192.168.1.0/24]
  gate_from: *lan
` + minimalBroker + minimalDevices
	c, err := Load(writeFiles(t, config, testSecrets))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}
	if diff := cmp.Diff(want, c.Network.GateFrom, compareNetip); diff != "" {
		t.Errorf("GateFrom mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadTLS13WithoutDevices(t *testing.T) {
	config := "broker:\n  names: [hub.home.arpa]\n  tls_min_version: \"1.3\"\n"
	c, err := Load(writeFiles(t, config, ""))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Broker.TLSMinVersion != "1.3" {
		t.Errorf("TLSMinVersion = %q, want 1.3", c.Broker.TLSMinVersion)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garage.yaml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing file) = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if errors.As(err, new(*Error)) {
		t.Errorf("Load(missing file) returned a *config.Error, which means a bad config")
	}
	if !strings.Contains(err.Error(), "garagectl config example") {
		t.Errorf("error %q has no hint to run garagectl config example", err)
	}
}

func TestLoadUnreadableSecrets(t *testing.T) {
	path := writeFiles(t, minimalBroker+minimalDevices, "")
	// A directory in place of secrets.yaml fails to read even for root.
	if err := os.Mkdir(filepath.Join(filepath.Dir(path), SecretsFile), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded with a directory as secrets.yaml")
	}
	if errors.As(err, new(*Error)) {
		t.Errorf("Load returned a *config.Error for an I/O error: %v", err)
	}
}

func TestLoadSeveralErrors(t *testing.T) {
	config := "network:\n  ssh_port: 0\nsite: 12\n"
	_, err := Load(writeFiles(t, config, ""))
	got := configErrors(t, err)

	want := []string{"2:13", "3:7"}
	var gotPositions []string
	for _, e := range got {
		gotPositions = append(gotPositions, lineColumn(e))
	}
	if diff := cmp.Diff(want, gotPositions); diff != "" {
		t.Errorf("error positions mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadSecretsFileMode(t *testing.T) {
	path := writeFiles(t, minimalBroker+minimalDevices, testSecrets)
	if err := os.Chmod(filepath.Join(filepath.Dir(path), SecretsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !hasWarning(c.Warnings, "readable by other users (mode 0644)") {
		t.Errorf("no warning about mode 0644 of secrets.yaml in %v", c.Warnings)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"line and column", Error{"g.yaml", 3, 9, "bad"}, "g.yaml:3:9: bad"},
		{"line only", Error{"g.yaml", 3, 0, "bad"}, "g.yaml:3: bad"},
		{"no position", Error{"g.yaml", 0, 0, "bad"}, "g.yaml: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigDevice(t *testing.T) {
	c := &Config{Devices: []Device{{Name: "relay1"}, {Name: "relay2"}}}
	d, ok := c.Device("relay2")
	if !ok || d != &c.Devices[1] {
		t.Errorf("Device(relay2) = %v, %v, want the second device", d, ok)
	}
	if d, ok := c.Device("relay3"); ok || d != nil {
		t.Errorf("Device(relay3) = %v, %v, want nil, false", d, ok)
	}
}

func TestConfigSecretsPath(t *testing.T) {
	c := &Config{File: "/etc/garagectl/garage.yaml"}
	if got, want := c.SecretsPath(), "/etc/garagectl/secrets.yaml"; got != want {
		t.Errorf("SecretsPath() = %q, want %q", got, want)
	}
}
