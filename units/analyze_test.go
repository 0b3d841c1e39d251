package units

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/garagectl/garagectl/internal/testutil"
)

// writeUnitsWithStubs renders the example units into a temporary directory
// and returns their paths. systemd-analyze verify rejects an ExecStart=
// program that does not exist, so the gate and garagectl programs are stub
// scripts there; mosquitto must be installed at its Debian path.
func writeUnitsWithStubs(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	opts := exampleOptions(t)
	opts.GateBinary = stubProgram(t, dir, "garage-gate")
	opts.Garagectl = stubProgram(t, dir, "garagectl")
	files, err := Files(opts)
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func stubProgram(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// systemd-analyze verify and security --offline read unit files and the
// unit search path; neither needs systemd as PID 1.
func TestUnitsVerify(t *testing.T) {
	analyze := testutil.RequireTool(t, "systemd-analyze", "systemd")
	testutil.RequireTool(t, "mosquitto", "mosquitto")
	paths := writeUnitsWithStubs(t)

	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), analyze, "verify", "--man=no", p).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze verify %s: %v\n%s", p, err, out)
			}
			// verify exits 0 on some warnings, such as an unknown directive.
			if len(out) > 0 {
				t.Errorf("systemd-analyze verify %s printed warnings:\n%s", p, out)
			}
		})
	}
}

// exposurePattern matches the summary line of systemd-analyze security.
var exposurePattern = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+\.[0-9])`)

func TestUnitsSecurityExposure(t *testing.T) {
	analyze := testutil.RequireTool(t, "systemd-analyze", "systemd")
	testutil.RequireTool(t, "mosquitto", "mosquitto")
	paths := writeUnitsWithStubs(t)

	// Maximum exposure on systemd 252's 0-10 scale. The broker allows AF_UNIX
	// for sd_notify(); the firewall runs as root with CAP_NET_ADMIN.
	maxExposure := map[string]float64{
		BrokerUnit:   1.2,
		GateUnit:     1.1,
		FirewallUnit: 1.4,
	}
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), analyze,
				"security", "--offline=true", "--no-pager", p).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security %s: %v\n%s", p, err, out)
			}
			m := exposurePattern.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no overall exposure level in the output:\n%s", out)
			}
			got, err := strconv.ParseFloat(string(m[1]), 64)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: overall exposure %.1f", name, got)
			if got > maxExposure[name] {
				t.Errorf("%s: overall exposure %.1f, want at most %.1f:\n%s",
					name, got, maxExposure[name], out)
			}
		})
	}
}
