package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "garage.yaml")
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"help", []string{"--help"}, exitOK, "-config"},
		{"unknown flag", []string{"--bogus"}, exitUsage, "flag provided but not defined"},
		{"argument", []string{"extra"}, exitUsage, `unexpected argument "extra"`},
		{"missing config", []string{"--config", missing}, exitUsage, "load config failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(tt.args, &stderr); got != tt.status {
				t.Errorf("run(%q) = %d, want %d\nstderr:\n%s", tt.args, got, tt.status, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}

func TestLoggerDropsTimeUnderJournal(t *testing.T) {
	tests := []struct {
		name, journal string
		wantTime      bool
	}{
		{"terminal", "", true},
		{"journal", "8:12345", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tt.journal)
			var out bytes.Buffer
			newLogger(&out).Info("hello")
			if got := strings.Contains(out.String(), "time="); got != tt.wantTime {
				t.Errorf("line %q has a time: %v, want %v", out.String(), got, tt.wantTime)
			}
		})
	}
}
