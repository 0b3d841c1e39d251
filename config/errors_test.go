package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	minimalBroker  = "broker:\n  names: [hub.home.arpa]\n"
	minimalDevices = `devices:
  - name: relay1
    relay_pin: 5
    wifi_ssid: !secret wifi_ssid
    wifi_password: !secret wifi_password
`
)

// completeConfig appends the minimal broker and devices sections unless the config has
// its own, so a test case shows only the lines it is about and its positions stay
// those of the case's text.
func completeConfig(config string) string {
	if !strings.HasSuffix(config, "\n") {
		config += "\n"
	}
	if !strings.Contains(config, "broker:") {
		config += minimalBroker
	}
	if !strings.Contains(config, "devices:") {
		config += minimalDevices
	}
	return config
}

func lineColumn(e *Error) string { return fmt.Sprintf("%d:%d", e.Line, e.Column) }

// checkError fails unless e is at file and pos ("line:column") and its message
// contains each string of contains.
func checkError(t *testing.T, e *Error, file, pos string, contains []string) {
	t.Helper()
	if got := filepath.Base(e.File) + ":" + lineColumn(e); got != file+":"+pos {
		t.Errorf("error %q is at %s, want %s:%s", e, got, file, pos)
	}
	for _, s := range contains {
		if !strings.Contains(e.Msg, s) {
			t.Errorf("error %q does not contain %q", e, s)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		pos      string // line:column in garage.yaml, column 0 when yaml.v3 gives none
		contains []string
	}{
		// Structure and types.
		{"unknown top-level key", "sitte: garage", "1:1",
			[]string{`unknown key "sitte"`, "valid keys are site, broker, network, pki, gate, devices"}},
		{"unknown nested key", "gate:\n  cooldwn: 5s", "2:3",
			[]string{`unknown key "cooldwn" in gate`, "hostname, cooldown, phones"}},
		{"unknown device key", "devices:\n  - name: relay1\n    relay: 5", "3:5",
			[]string{`unknown key "relay" in devices[0]`, "relay_pin"}},
		{"duplicate key", "site: a\nsite: b", "2:1",
			[]string{`duplicate key "site"`, "line 1, column 1"}},
		{"key that is not a string", "1: x", "1:1", []string{"invalid key the number 1"}},
		{"merge key", "gate:\n  <<: {cooldown: 5s}", "2:3", []string{"merge keys (<<)"}},
		{"number for a string", "site: 12", "1:7",
			[]string{"site: expected a string, got the number 12", "quotes"}},
		{"unquoted TLS version", minimalBroker + "  tls_min_version: 1.2", "3:20",
			[]string{"expected a string, got the number 1.2", `put it in quotes, as in "1.2"`}},
		{"string for a list", "network:\n  ssh_from: 10.0.0.0/8", "2:13",
			[]string{"network.ssh_from: expected a list", `"10.0.0.0/8"`, "[10.0.0.0/8]"}},
		{"list for a mapping", "gate: [a]", "1:7",
			[]string{"gate: expected a mapping of keys, got a list"}},
		{"float for an integer", "devices:\n  - name: relay1\n    relay_pin: 5.5", "3:16",
			[]string{"expected a whole number, got the number 5.5"}},
		{"list for a secret", strings.Replace(minimalDevices, "!secret wifi_password", "[a]", 1),
			"5:20",
			[]string{"wifi_password: expected a string or !secret NAME, got a list"}},
		{"empty list entry", "gate:\n  phones: [~]", "2:12", []string{"gate.phones[0]: empty list entry"}},
		{"secret tag on a plain key", "site: !secret site", "1:7",
			[]string{"!secret is allowed only for wifi_ssid and wifi_password"}},
		{"unknown tag", "site: !garage x", "1:7", []string{"unknown tag !garage"}},
		{"second document", "site: a\n---\nsite: b", "2:1", []string{"second YAML document"}},
		{"syntax error", "site: a\n  b: 2", "2:0", []string{"invalid YAML"}},

		// Addresses and ports.
		{"invalid CIDR", "network:\n  mqtt_from: [192.168.1.0/33]", "2:15",
			[]string{`invalid CIDR "192.168.1.0/33"`, "192.168.1.0/24"}},
		{"CIDR without length", "network:\n  gate_from: [192.168.1.5]", "2:15",
			[]string{`invalid CIDR "192.168.1.5"`, "192.168.1.5/32 for one host"}},
		{"CIDR with host bits", "network:\n  ssh_from: [10.1.2.3/8]", "2:14",
			[]string{`"10.1.2.3/8" has host bits set`, "write 10.0.0.0/8"}},
		{"invalid IP address", minimalBroker + "  addresses: [192.168.1.300]", "3:15",
			[]string{`invalid IP address "192.168.1.300"`}},
		{"IP address with zone", minimalBroker + `  addresses: ["fe80::1%eth0"]`, "3:15",
			[]string{`invalid IP address "fe80::1%eth0"`}},
		{"unspecified IP address", minimalBroker + "  addresses: [0.0.0.0]", "3:15",
			[]string{"0.0.0.0 is not an address that clients can connect to"}},
		{"duplicate IP address", minimalBroker + "  addresses: [10.0.0.1, 10.0.0.1]", "3:25",
			[]string{`duplicate address "10.0.0.1"`, "line 3, column 15"}},
		{"port above 65535", "network:\n  ssh_port: 70000", "2:13",
			[]string{"invalid port 70000", "1 to 65535"}},
		{"port zero", minimalBroker + "  port: 0", "3:9", []string{"broker.port: invalid port 0"}},
		{"port that is not a number", "network:\n  ssh_port: ssh", "2:13",
			[]string{"expected a port number", `"ssh"`}},
		{"listen without address", "gate:\n  listen: \"1080\"", "2:11",
			[]string{`invalid listen address "1080"`, "0.0.0.0:1080"}},
		{"listen on port zero", "gate:\n  listen: 0.0.0.0:0", "2:11",
			[]string{`invalid port 0 in "0.0.0.0:0"`}},
		{"SSH and broker on one port", "network:\n  ssh_port: 8883", "2:13",
			[]string{"network.ssh_port and broker.port both use port 8883"}},
		{"gate and broker on one port", "gate:\n  listen: 0.0.0.0:8883", "2:11",
			[]string{"broker.port and gate.listen both use port 8883"}},

		// Durations.
		{"duration without unit", "gate:\n  cooldown: 10", "2:13",
			[]string{`invalid duration "10"`, "400ms, 10s, 2h or 397d"}},
		{"duration with a word", "pki:\n  ca_validity: 10 days", "2:16",
			[]string{`invalid duration "10 days"`}},
		{"duration of too many days", "pki:\n  ca_validity: 999999999d", "2:16",
			[]string{`invalid duration "999999999d"`}},

		// Names.
		{"uppercase site name", "site: Garage", "1:7",
			[]string{`site: invalid name "Garage"`, "lowercase letters", "MQTT topic"}},
		{"site name with a slash", "site: garage/1", "1:7", []string{`invalid name "garage/1"`}},
		{"site name of 32 characters", "site: a2345678901234567890123456789012", "1:7",
			[]string{`invalid name "a2345678901234567890123456789012"`, "1 to 31"}},

		// Broker.
		{"broker section null", "broker: ~", "1:1", []string{"broker.names is empty"}},
		{"broker names missing", "broker:\n  port: 8883", "2:3", []string{"broker.names is empty"}},
		{"broker names empty", "broker:\n  names: []", "2:10", []string{"broker.names is empty"}},
		{"broker name with underscore", "broker:\n  names: [hub_1.home.arpa]", "2:11",
			[]string{`invalid host name "hub_1.home.arpa"`}},
		{"broker name wildcard", "broker:\n  names: [\"*.home.arpa\"]", "2:11",
			[]string{`invalid host name "*.home.arpa"`}},
		{"broker name trailing dot", "broker:\n  names: [hub.home.arpa.]", "2:11",
			[]string{`invalid host name "hub.home.arpa."`}},
		{"broker name is an IP", "broker:\n  names: [192.168.1.10]", "2:11",
			[]string{"192.168.1.10 is an IP address", "broker.addresses"}},
		{"duplicate broker name", "broker:\n  names: [hub.home.arpa, HUB.home.arpa]", "2:26",
			[]string{`duplicate name "hub.home.arpa"`, "line 2, column 11"}},
		{"invalid TLS version", minimalBroker + "  tls_min_version: \"1.1\"", "3:20",
			[]string{`invalid version "1.1"`, `"1.2" or "1.3"`}},
		{"TLS 1.3 with a device", minimalBroker + "  tls_min_version: \"1.3\"", "3:20",
			[]string{`"1.3" locks out the devices (relay1)`, "TLS 1.2 at most"}},
		{"max connections zero", minimalBroker + "  max_connections: 0", "3:20",
			[]string{"broker.max_connections: 0 is too low"}},

		// PKI.
		{"invalid key type", "pki:\n  key_type: rsa-1024", "2:13",
			[]string{`invalid key type "rsa-1024"`, "rsa-2048, rsa-3072 or ecdsa-p256"}},
		{"server validity above 397 days", "pki:\n  server_validity: 398d", "2:20",
			[]string{"398d is out of range", "at most 397d"}},
		{"server validity zero", "pki:\n  server_validity: 0s", "2:20",
			[]string{"pki.server_validity: 0s is out of range"}},
		{"CA validity not longer", "pki:\n  ca_validity: 397d", "2:16",
			[]string{"pki.ca_validity: 397d is not longer than pki.server_validity 397d"}},
		{"relative offline dir", "pki:\n  offline_dir: garage-ca", "2:16",
			[]string{`"garage-ca" is not an absolute path`}},
		{"offline dir under /etc", "pki:\n  offline_dir: /etc/garagectl/ca", "2:16",
			[]string{"/etc/garagectl/ca is on the host's system disk", "removable storage",
				"backups"}},
		{"offline dir under /var/lib", "pki:\n  offline_dir: /var/lib/garagectl/ca", "2:16",
			[]string{"/var/lib/garagectl/ca is on the host's system disk"}},
		{"offline dir through ..", "pki:\n  offline_dir: /media/../var/lib/ca", "2:16",
			[]string{"/var/lib/ca is on the host's system disk"}},
		{"offline dir is /", "pki:\n  offline_dir: /", "2:16",
			[]string{"/ is on the host's system disk"}},

		// Gate and phones.
		{"gate hostname with underscore", "gate:\n  hostname: garage_gate", "2:13",
			[]string{`gate.hostname: invalid host name "garage_gate"`}},
		{"gate hostname is an IP", "gate:\n  hostname: 10.0.0.1", "2:13",
			[]string{"10.0.0.1 is an IP address", "virtual host name"}},
		{"cooldown below 1s", "gate:\n  cooldown: 500ms", "2:13",
			[]string{"gate.cooldown: 500ms is too short", "at least 1s"}},
		{"invalid phone name", "gate:\n  phones:\n    - name: Phone1", "3:13",
			[]string{`gate.phones[0].name: invalid phone name "Phone1"`}},
		{"duplicate phone name", "gate:\n  phones:\n    - name: phone1\n    - name: phone1",
			"4:13", []string{`duplicate phone name "phone1"`, "line 3, column 13"}},
		{"phone without name", "gate:\n  phones:\n    - {}", "3:7",
			[]string{"gate.phones[0]: the phone has no name"}},
		{"allow_no_auth yes", "gate:\n  allow_no_auth: yes", "2:18",
			[]string{"gate.allow_no_auth: expected true or false", `"yes"`}},
		{"allow_no_auth number", "gate:\n  allow_no_auth: 1", "2:18",
			[]string{"gate.allow_no_auth: expected true or false"}},
		{"gate max_connections 0", "gate:\n  max_connections: 0", "2:20",
			[]string{"gate.max_connections: 0 is too low"}},
		{"per-source cap above total", "gate:\n  max_connections: 4\n  max_connections_per_source: 5",
			"3:31", []string{"gate.max_connections_per_source: 5 is out of range", "1 to " +
				"gate.max_connections (4)"}},
		{"total cap below default per-source cap", "gate:\n  max_connections: 4", "2:20",
			[]string{"gate.max_connections_per_source: 8 is out of range"}},
		{"lockout_failures 0", "gate:\n  lockout_failures: 0", "2:21",
			[]string{"gate.lockout_failures: 0 is too low"}},
		{"lockout_base 0", "gate:\n  lockout_base: 0s", "2:17",
			[]string{"gate.lockout_base: 0s is too short"}},
		{"lockout_max below base", "gate:\n  lockout_base: 2h\n  lockout_max: 1h", "3:16",
			[]string{"gate.lockout_max: 1h0m0s is shorter than gate.lockout_base 2h0m0s"}},

		// Devices.
		{"invalid device name", strings.Replace(minimalDevices, "relay1", "Relay1", 1), "2:11",
			[]string{`devices[0].name: invalid device name "Relay1"`}},
		{"device named gate", strings.Replace(minimalDevices, "relay1", "gate", 1), "2:11",
			[]string{`"gate" is the broker account of garage-gate`}},
		{"duplicate device name", minimalDevices + minimalDevices[len("devices:\n"):], "6:11",
			[]string{`duplicate device name "relay1"`, "line 2, column 11"}},
		{"device without name", strings.Replace(minimalDevices, "name: relay1\n    ", "", 1),
			"2:5", []string{"devices[0]: the device has no name"}},
		{"relay pin missing", strings.Replace(minimalDevices, "    relay_pin: 5\n", "", 1),
			"2:5", []string{"relay_pin is missing"}},
		{"relay pin above 16", strings.Replace(minimalDevices, "pin: 5", "pin: 17", 1), "3:16",
			[]string{"devices[0].relay_pin: 17 is not an ESP8266 GPIO", "0 to 16"}},
		{"relay pin negative", strings.Replace(minimalDevices, "pin: 5", "pin: -1", 1), "3:16",
			[]string{"-1 is not an ESP8266 GPIO"}},
		{"relay pin 6 on flash", strings.Replace(minimalDevices, "pin: 5", "pin: 6", 1), "3:16",
			[]string{"GPIO6 is one of GPIO6 to GPIO11", "flash chip"}},
		{"relay pin 11 on flash", strings.Replace(minimalDevices, "pin: 5", "pin: 11", 1),
			"3:16", []string{"GPIO11 is one of GPIO6 to GPIO11"}},
		{"pulse below 50ms", minimalDevices + "    pulse: 10ms", "6:12",
			[]string{"devices[0].pulse: 10ms is out of range", "50ms to 10s"}},
		{"pulse above 10s", minimalDevices + "    pulse: 11s", "6:12",
			[]string{"11s is out of range"}},
		{"wifi ssid missing", strings.Replace(minimalDevices,
			"    wifi_ssid: !secret wifi_ssid\n", "", 1), "2:5",
			[]string{"devices[0]: wifi_ssid is missing"}},
		{"wifi password missing", strings.Replace(minimalDevices,
			"    wifi_password: !secret wifi_password\n", "", 1), "2:5",
			[]string{"devices[0]: wifi_password is missing"}},
		{"secret with no entry", strings.Replace(minimalDevices, "secret wifi_password",
			"secret wifi_pass", 1), "5:20",
			[]string{"!secret wifi_pass", "secrets.yaml has no entry \"wifi_pass\"",
				`"wifi_password", "wifi_ssid"`}},
		{"secret without name", strings.Replace(minimalDevices, "!secret wifi_password",
			"!secret", 1), "5:20", []string{"!secret needs the name of an entry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFiles(t, completeConfig(tt.config), testSecrets))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("Load returned %d errors, want 1:\n%v", len(errs), err)
			}
			checkError(t, errs[0], "garage.yaml", tt.pos, tt.contains)
		})
	}
}

// TestLoadSecrets covers secrets.yaml. No message may contain a secret's value.
func TestLoadSecrets(t *testing.T) {
	type wantError struct {
		file, pos string
		contains  []string
	}
	const (
		longSSID  = "ssid-7f3a9c-0123456789abcdefghijk" // 33 bytes
		shortPass = "p-7f3a9"
	)
	tests := []struct {
		name    string
		secrets string
		want    []wantError
	}{
		{"file missing", "", []wantError{
			{"garage.yaml", "4:16", []string{"!secret wifi_ssid", "secrets.yaml not found",
				"wifi_ssid: VALUE"}},
			{"garage.yaml", "5:20", []string{"!secret wifi_password", "secrets.yaml not found"}},
		}},
		{"syntax error", "wifi_ssid: ssid-7f3a9c\nwifi_password: 'pass-7f3a9c-e41d\n",
			[]wantError{{"secrets.yaml", "2:0", []string{"invalid YAML"}}}},
		{"duplicate entry", testSecrets + "wifi_ssid: ssid-7f3a9c\n",
			[]wantError{{"secrets.yaml", "3:1",
				[]string{`duplicate entry "wifi_ssid"`, "line 1, column 1"}}}},
		{"entry is a list", "wifi_ssid: [ssid-7f3a9c]\nwifi_password: pass-7f3a9c-e41d\n",
			[]wantError{{"secrets.yaml", "1:12",
				[]string{`entry "wifi_ssid": expected a single plain value`}}}},
		{"entry with a tag", "wifi_ssid: !secret ssid-7f3a9c\nwifi_password: pass-7f3a9c-e41d\n",
			[]wantError{{"secrets.yaml", "1:12", []string{`entry "wifi_ssid"`}}}},
		{"not a mapping", "- ssid-7f3a9c\n",
			[]wantError{{"secrets.yaml", "1:1", []string{"expected a mapping of names"}}}},
		{"ssid too long", "wifi_ssid: " + longSSID + "\nwifi_password: pass-7f3a9c-e41d\n",
			[]wantError{{"garage.yaml", "4:16",
				[]string{`the secrets.yaml entry "wifi_ssid" must be 1 to 32 bytes long`}}}},
		{"ssid with NUL", "wifi_ssid: \"ssid\\0-7f3a9c\"\nwifi_password: pass-7f3a9c-e41d\n",
			[]wantError{{"garage.yaml", "4:16", []string{"contains a control character"}}}},
		{"ssid empty", "wifi_ssid:\nwifi_password: pass-7f3a9c-e41d\n",
			[]wantError{{"garage.yaml", "4:16", []string{"must be 1 to 32 bytes long"}}}},
		{"password too short", "wifi_ssid: ssid-7f3a9c\nwifi_password: " + shortPass + "\n",
			[]wantError{{"garage.yaml", "5:20",
				[]string{`the secrets.yaml entry "wifi_password" must be 8 to 63`}}}},
		{"password not ASCII", "wifi_ssid: ssid-7f3a9c\nwifi_password: pässwort-7f3a9c\n",
			[]wantError{{"garage.yaml", "5:20", []string{"printable ASCII"}}}},
		{"password of 64 characters not hex",
			"wifi_ssid: ssid-7f3a9c\nwifi_password: " + strings.Repeat("x7f3a9c-", 8) + "\n",
			[]wantError{{"garage.yaml", "5:20", []string{"or 64 hex digits"}}}},
	}
	secretValues := []string{"ssid-7f3a9c", "pass-7f3a9c", "x7f3a9c", "p-7f3a9", "pässwort"}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFiles(t, completeConfig(minimalDevices), tt.secrets))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, v := range secretValues {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error contains the secret value %q:\n%v", v, err)
				}
			}
			errs := configErrors(t, err)
			if len(errs) != len(tt.want) {
				t.Fatalf("Load returned %d errors, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, w := range tt.want {
				checkError(t, errs[i], w.file, w.pos, w.contains)
			}
		})
	}
}

func TestLoadAcceptsHexWiFiKey(t *testing.T) {
	secrets := "wifi_ssid: home\nwifi_password: " + strings.Repeat("0123456789abcdef", 4) + "\n"
	if _, err := Load(writeFiles(t, completeConfig(""), secrets)); err != nil {
		t.Errorf("Load with a 64-digit hex key: %v", err)
	}
}

func TestSecretHiddenInFormatting(t *testing.T) {
	c, err := Load(writeFiles(t, completeConfig(""), testSecrets))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, c.Devices)
		if strings.Contains(out, "7f3a9c") {
			t.Errorf("fmt %s of the devices shows a secret: %s", verb, out)
		}
	}
}

func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		pos      string
		contains string
	}{
		{"relay pin 0", pinConfig(0), "3:16", "GPIO0 must be high at reset"},
		{"relay pin 1", pinConfig(1), "3:16", "GPIO1 is the serial TX pin"},
		{"relay pin 2", pinConfig(2), "3:16", "GPIO2 must be high at reset"},
		{"relay pin 3", pinConfig(3), "3:16", "GPIO3 is the serial RX pin"},
		{"relay pin 15", pinConfig(15), "3:16", "GPIO15 must be low at reset"},
		{"relay pin 16", pinConfig(16), "3:16", "GPIO16 is high at reset"},
		{"inline password", strings.Replace(minimalDevices, "!secret wifi_password",
			"pass-7f3a9c-e41d", 1), "5:20", "written in the config"},
		{"ECDSA with devices", "pki:\n  key_type: ecdsa-p256", "2:13", "take seconds"},
		{"MQTT from anywhere", "network:\n  mqtt_from: [0.0.0.0/0]", "2:15",
			"network.mqtt_from: 0.0.0.0/0 admits every source"},
		{"gate from anywhere", "network:\n  gate_from: [\"::/0\"]", "2:15",
			"network.gate_from: ::/0 admits every source"},
		{"offline dir not removable", "pki:\n  offline_dir: /srv/ca", "2:16",
			"/srv/ca is not under /media, /mnt or /run/media"},
		{"no gate section", "site: garage", "1:1", "gate.phones is empty"},
		{"no phones", "gate:\n  cooldown: 10s", "2:3", "gate.phones is empty"},
		{"gate without SOCKS5 auth", "gate:\n  allow_no_auth: true\n  phones: [{name: p1}]",
			"2:18", "gate.allow_no_auth: the SOCKS5 port accepts clients without a password"},
		{"no devices", "devices: []", "1:10", "devices is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFiles(t, completeConfig(tt.config), testSecrets))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var found []string
			for _, w := range c.Warnings {
				if strings.Contains(w.Msg, tt.contains) {
					found = append(found, fmt.Sprintf("%d:%d", w.Line, w.Column))
				}
			}
			if diff := cmp.Diff([]string{tt.pos}, found); diff != "" {
				t.Errorf("positions of warnings with %q (-want +got):\n%s\nall warnings: %v",
					tt.contains, diff, c.Warnings)
			}
		})
	}
}

func TestLoadSafePinsHaveNoWarning(t *testing.T) {
	for _, pin := range []int{4, 5, 12, 13, 14} {
		t.Run(fmt.Sprintf("GPIO%d", pin), func(t *testing.T) {
			c, err := Load(writeFiles(t, completeConfig(pinConfig(pin)), testSecrets))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for _, w := range c.Warnings {
				if strings.Contains(w.Msg, "relay_pin") {
					t.Errorf("unexpected warning: %v", w)
				}
			}
		})
	}
}

func pinConfig(pin int) string {
	return strings.Replace(minimalDevices, "relay_pin: 5", fmt.Sprintf("relay_pin: %d", pin), 1)
}

func hasWarning(warnings []Warning, text string) bool {
	for _, w := range warnings {
		if strings.Contains(w.String(), text) {
			return true
		}
	}
	return false
}
