package config

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoad checks that parsing never panics, that every rejection is an *Error, and
// that no message contains a value from secrets.yaml.
func FuzzLoad(f *testing.F) {
	f.Add(Example())
	f.Add([]byte(completeConfig("")))
	f.Add([]byte("broker: &x\n  names: *x\n"))
	f.Add([]byte("devices: &d [*d]\n"))
	f.Add([]byte("<<: {site: x}\nsite: !secret wifi_ssid\n"))
	f.Add([]byte("site: a\n---\nsite: b\n"))
	f.Add([]byte("gate:\n  listen: \"[::]:1080\"\n  cooldown: 3650d\n"))

	secrets := fstest.MapFS{SecretsFile: {Data: []byte(testSecrets), Mode: 0o600}}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("garage.yaml", data, secrets)
		if err == nil {
			if c == nil || len(c.Broker.Names) == 0 {
				t.Fatalf("parse accepted a config without broker names: %+v", c)
			}
			return
		}
		if !errors.As(err, new(*Error)) {
			t.Fatalf("parse returned %T, want *Error: %v", err, err)
		}
		if !strings.Contains(string(data), "7f3a9c") && strings.Contains(err.Error(), "7f3a9c") {
			t.Fatalf("error contains a secret value: %v", err)
		}
	})
}
