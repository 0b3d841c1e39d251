package broker

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		wantErr bool
	}{
		{"device", "relay1", false},
		{"gate", "gate", false},
		{"dash underscore dot", "garage-door_2.left", false},
		{"digit first", "1relay", false},
		{"max length", strings.Repeat("a", 64), false},
		{"empty", "", true},
		{"too long", strings.Repeat("a", 65), true},
		{"colon", "relay:1", true},
		{"plus wildcard", "+", true},
		{"hash wildcard", "relay#", true},
		{"comment start", "#relay", true},
		{"slash", "relay/1", true},
		{"space", "relay 1", true},
		{"newline", "relay1\ntopic readwrite #", true},
		{"dash first", "-relay", true},
		{"dot first", ".relay", true},
		{"non-ASCII letter", "relä", true},
		{"percent", "%u", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.input)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("ValidateName(%q) = %v, want error: %v", tt.input, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidName) {
				t.Errorf("ValidateName(%q) = %v, want it to wrap ErrInvalidName", tt.input, err)
			}
		})
	}
}
