package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"3650d", 3650 * 24 * time.Hour, false},
		{"397d", 397 * 24 * time.Hour, false},
		{"0d", 0, false},
		{"10s", 10 * time.Second, false},
		{"400ms", 400 * time.Millisecond, false},
		{"1h30m", 90 * time.Minute, false},
		{"-5s", -5 * time.Second, false},
		{"10", 0, true},
		{"d", 0, true},
		{"1.5d", 0, true},
		{"-1d", 0, true},
		{"1d12h", 0, true},
		{"106752d", 0, true}, // beyond the range of time.Duration
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got.Std() != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got.Std(), tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   Duration
		want string
	}{
		{Duration(397 * 24 * time.Hour), "397d"},
		{Duration(400 * time.Millisecond), "400ms"},
		{Duration(36 * time.Hour), "36h0m0s"},
		{0, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}
