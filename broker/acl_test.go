package broker

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestACL(t *testing.T) {
	got, err := ACL("gate", []string{"relay2", "relay1"})
	if err != nil {
		t.Fatalf("ACL: %v", err)
	}
	want := aclHeader + `
# The gate sends commands and reads what the relays report.
user gate
topic write garage/relay1/cmd
topic read garage/relay1/state
topic read garage/relay1/avail
topic write garage/relay2/cmd
topic read garage/relay2/state
topic read garage/relay2/avail

# Relay relay1: its own commands in, its own state and availability out.
user relay1
topic read garage/relay1/cmd
topic write garage/relay1/state
topic write garage/relay1/avail

# Relay relay2: its own commands in, its own state and availability out.
user relay2
topic read garage/relay2/cmd
topic write garage/relay2/state
topic write garage/relay2/avail
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("ACL (-want +got):\n%s", diff)
	}
}

func TestACLNoDevices(t *testing.T) {
	got, err := ACL("gate", nil)
	if err != nil {
		t.Fatalf("ACL: %v", err)
	}
	want := aclHeader + "\n# The gate sends commands and reads what the relays report.\nuser gate\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("ACL (-want +got):\n%s", diff)
	}
}

func TestACLErrors(t *testing.T) {
	tests := []struct {
		name    string
		gate    string
		devices []string
		wantErr error
	}{
		{"empty gate", "", []string{"relay1"}, ErrInvalidName},
		{"wildcard device", "gate", []string{"+"}, ErrInvalidName},
		{"multi-level wildcard", "gate", []string{"relay1", "#"}, ErrInvalidName},
		{"slash in device", "gate", []string{"relay1/cmd"}, ErrInvalidName},
		{"newline in device", "gate", []string{"relay1\ntopic readwrite #"}, ErrInvalidName},
		{"pattern escape", "gate", []string{"%u"}, ErrInvalidName},
		{"duplicate device", "gate", []string{"relay1", "relay1"}, nil},
		{"device named like gate", "gate", []string{"gate"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ACL(tt.gate, tt.devices)
			if err == nil {
				t.Fatalf("ACL = %q, want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ACL error = %v, want it to wrap %v", err, tt.wantErr)
			}
		})
	}
}
