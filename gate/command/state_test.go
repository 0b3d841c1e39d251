package command

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		name, payload string
		want          State
	}{
		{"boot", "v1 idle 0 boot", State{StatusIdle, 0, "boot"}},
		{"accepted", "v1 pulsing 42 ok", State{StatusPulsing, 42, "ok"}},
		{"rejected", "v1 idle 42 replay", State{StatusIdle, 42, "replay"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseState([]byte(tt.payload))
			if err != nil {
				t.Fatalf("ParseState(%q): %v", tt.payload, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseState mismatch (-want +got):\n%s", diff)
			}
			if got.String() != tt.payload {
				t.Errorf("String() = %q, want %q", got.String(), tt.payload)
			}
		})
	}
}

func TestParseStateMalformed(t *testing.T) {
	tests := []struct{ name, payload string }{
		{"empty", ""},
		{"three fields", "v1 idle 0"},
		{"version v2", "v2 idle 0 boot"},
		{"unknown status", "v1 open 0 boot"},
		{"leading zero", "v1 idle 042 ok"},
		{"negative sequence", "v1 idle -1 ok"},
		{"unknown reason", "v1 idle 1 because"},
		{"trailing newline", "v1 idle 1 ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseState([]byte(tt.payload)); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseState(%q) error = %v, want ErrMalformed", tt.payload, err)
			}
		})
	}
}
