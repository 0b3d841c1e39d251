package broker

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestRenderConfigGolden(t *testing.T) {
	tests := []struct {
		name string
		opts ConfigOptions
	}{
		{"defaults", ConfigOptions{}},
		{"tls13-loopback", ConfigOptions{
			BindAddress:         "127.0.0.1",
			Port:                18883,
			TLSMinVersion:       "1.3",
			MaxConnections:      5,
			CertFile:            "/srv/hub/pki/server.crt",
			KeyFile:             "/srv/hub/pki/server.key",
			PasswordFile:        "/srv/hub/mosquitto/passwd",
			ACLFile:             "/srv/hub/mosquitto/acl",
			PersistenceLocation: "/srv/hub/lib/",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderConfig(tt.opts)
			if err != nil {
				t.Fatalf("RenderConfig: %v", err)
			}
			golden := filepath.Join("testdata", tt.name+".conf.golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatalf("update golden file: %v", err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("RenderConfig (-%s +got):\n%s", golden, diff)
			}
		})
	}
}

func TestRenderConfigDeterministic(t *testing.T) {
	first, err := RenderConfig(ConfigOptions{})
	if err != nil {
		t.Fatalf("RenderConfig: %v", err)
	}
	second, err := RenderConfig(ConfigOptions{})
	if err != nil {
		t.Fatalf("RenderConfig: %v", err)
	}
	if diff := cmp.Diff(string(first), string(second)); diff != "" {
		t.Errorf("second RenderConfig differs (-first +second):\n%s", diff)
	}
}

func TestRenderConfigDirectives(t *testing.T) {
	conf, err := RenderConfig(ConfigOptions{BindAddress: "::1", Port: 9999})
	if err != nil {
		t.Fatalf("RenderConfig: %v", err)
	}
	values := make(map[string]string)
	for _, d := range parseConfig(conf) {
		values[d.name] = d.value
	}
	want := map[string]string{
		"listener":              "9999 ::1",
		"allow_anonymous":       "false",
		"per_listener_settings": "false",
		"tls_version":           "tlsv1.2",
		"password_file":         DefaultPasswordFile,
		"acl_file":              DefaultACLFile,
		"certfile":              DefaultCertFile,
		"keyfile":               DefaultKeyFile,
		"persistence":           "true",
		"persistence_location":  DefaultPersistenceLocation,
		"max_connections":       "32",
		"log_dest":              "stderr",
		"connection_messages":   "true",
	}
	for name, v := range want {
		if values[name] != v {
			t.Errorf("%s = %q, want %q", name, values[name], v)
		}
	}
	ciphers := strings.Split(values["ciphers"], ":")
	if !slices.Contains(ciphers, "ECDHE-RSA-AES128-GCM-SHA256") {
		t.Errorf("ciphers %q lack ECDHE-RSA-AES128-GCM-SHA256, which the ESP8266 relays use", values["ciphers"])
	}
	for _, c := range ciphers {
		if !strings.HasPrefix(c, "ECDHE-") || !(strings.Contains(c, "-GCM-") || strings.Contains(c, "CHACHA20-POLY1305")) {
			t.Errorf("cipher %s is not an ECDHE AEAD suite", c)
		}
	}
	if values["ciphers_tls1.3"] == "" {
		t.Errorf("ciphers_tls1.3 is missing")
	}
}

func TestRenderConfigInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts ConfigOptions
	}{
		{"TLS 1.1", ConfigOptions{TLSMinVersion: "1.1"}},
		{"TLS version spelled like mosquitto", ConfigOptions{TLSMinVersion: "tlsv1.2"}},
		{"host name as bind address", ConfigOptions{BindAddress: "hub.home.arpa"}},
		{"bind address with injected line", ConfigOptions{BindAddress: "127.0.0.1\nlistener 1883"}},
		{"negative max connections", ConfigOptions{MaxConnections: -1}},
		{"relative certfile", ConfigOptions{CertFile: "server.crt"}},
		{"newline in keyfile", ConfigOptions{KeyFile: "/k.key\nallow_anonymous true"}},
		{"space in password file", ConfigOptions{PasswordFile: "/etc/my passwd"}},
		{"tab in acl file", ConfigOptions{ACLFile: "/etc/acl\tx"}},
		{"relative persistence", ConfigOptions{PersistenceLocation: "var/lib/mosquitto/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderConfig(tt.opts)
			if err == nil {
				t.Errorf("RenderConfig = %q, want an error", got)
			}
		})
	}
}

func TestCheckConfig(t *testing.T) {
	const secure = `per_listener_settings false
allow_anonymous false
password_file /p
acl_file /a
listener 8883
certfile /c
keyfile /k
tls_version tlsv1.2
`
	tests := []struct {
		name    string
		conf    string
		wantErr bool
	}{
		{"secure", secure, false},
		{"secure with comments", "# listener 1883\n\n" + secure, false},
		{"anonymous allowed", strings.Replace(secure, "allow_anonymous false", "allow_anonymous true", 1), true},
		{"anonymous set twice", secure + "allow_anonymous true\n", true},
		{"anonymous missing", strings.Replace(secure, "allow_anonymous false\n", "", 1), true},
		{"per-listener settings", strings.Replace(secure, "per_listener_settings false", "per_listener_settings true", 1), true},
		{"no password file", strings.Replace(secure, "password_file /p\n", "", 1), true},
		{"empty password file", strings.Replace(secure, "password_file /p", "password_file", 1), true},
		{"no acl file", strings.Replace(secure, "acl_file /a\n", "", 1), true},
		{"no certfile", strings.Replace(secure, "certfile /c\n", "", 1), true},
		{"no keyfile", strings.Replace(secure, "keyfile /k\n", "", 1), true},
		{"certfile before listener", strings.Replace(strings.Replace(secure, "certfile /c\n", "", 1),
			"listener 8883", "certfile /c\nlistener 8883", 1), true},
		{"no listener", strings.Replace(secure, "listener 8883\n", "", 1), true},
		{"second plain listener", secure + "listener 1883\n", true},
		{"default listener port", "port 1883\n" + secure, true},
		{"default listener bind address", "bind_address 0.0.0.0\n" + secure, true},
		{"include dir", secure + "include_dir /etc/mosquitto/conf.d\n", true},
		{"TLS 1.1", strings.Replace(secure, "tlsv1.2", "tlsv1.1", 1), true},
		{"no TLS version", strings.Replace(secure, "tls_version tlsv1.2\n", "", 1), true},
		{"TLS version before listener", strings.Replace(strings.Replace(secure, "tls_version tlsv1.2\n", "", 1),
			"listener 8883", "tls_version tlsv1.2\nlistener 8883", 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckConfig([]byte(tt.conf))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("CheckConfig = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInsecureConfig) {
				t.Errorf("CheckConfig error = %v, want it to wrap ErrInsecureConfig", err)
			}
		})
	}
}
