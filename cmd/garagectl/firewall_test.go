package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/testutil"
)

// buildGaragectl builds the real binary: the confirm window re-executes it,
// which the test binary cannot stand in for.
func buildGaragectl(t *testing.T) string {
	t.Helper()
	testutil.RequireTool(t, "go", "golang-go")
	bin := filepath.Join(t.TempDir(), "garagectl")
	if err := testutil.GoBuild(t.Context(), bin, "."); err != nil {
		t.Fatal(err)
	}
	return bin
}

// newNetns creates a network namespace that the test owns and deletes.
func newNetns(t *testing.T) string {
	t.Helper()
	testutil.RequireTool(t, "ip", "iproute2")
	testutil.RequireTool(t, "nft", "nftables")
	testutil.RequireRoot(t, "it creates a network namespace")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "gctl-cli-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name
}

// inNetns runs a command inside ns and returns its stdout, stderr and error.
func inNetns(t *testing.T, ns string, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

var handleOrCounter = regexp.MustCompile(`packets \d+ bytes \d+|# handle \d+`)

func listTable(t *testing.T, ns string) string {
	t.Helper()
	out, _, err := inNetns(t, ns, nil, "nft", "list", "table", "inet", "garagectl")
	if err != nil {
		return "(no table)"
	}
	return handleOrCounter.ReplaceAllString(out, "")
}

// writeConfigs writes the example config, and a second one whose gate port
// differs, into dir.
func writeConfigs(t *testing.T, dir string) (string, string) {
	t.Helper()
	a := filepath.Join(dir, "a.yaml")
	b := filepath.Join(dir, "b.yaml")
	example := string(config.Example())
	other := strings.Replace(example, "0.0.0.0:1080", "0.0.0.0:1081", 1)
	if other == example {
		t.Fatal("the example config has no gate listen address 0.0.0.0:1080 to change")
	}
	for path, content := range map[string]string{a: example, b: other, filepath.Join(dir, "secrets.yaml"): string(config.ExampleSecrets())} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

func TestFirewallConfirmWindow(t *testing.T) {
	ns := newNetns(t)
	bin := buildGaragectl(t)
	dir := t.TempDir()
	cfgA, cfgB := writeConfigs(t, dir)
	state := filepath.Join(dir, "state")
	gctl := func(env []string, args ...string) (string, string, error) {
		return inNetns(t, ns, env, append([]string{bin, "--quiet", "--state-dir", state}, args...)...)
	}

	if _, stderr, err := gctl(nil, "firewall", "apply", "--boot", "--config", cfgA); err != nil {
		t.Fatalf("apply A: %v: %s", err, stderr)
	}
	tableA := listTable(t, ns)
	show, _, err := gctl(nil, "firewall", "show", "--config", cfgA)
	if err != nil {
		t.Fatal(err)
	}
	if got := handleOrCounter.ReplaceAllString(show, ""); got != tableA {
		t.Errorf("firewall show differs from nft list table:\nshow:\n%s\nnft:\n%s", got, tableA)
	}

	t.Run("expired window restores the previous table", func(t *testing.T) {
		if _, stderr, err := gctl(nil, "firewall", "apply", "--confirm", "2s", "--config", cfgB); err != nil {
			t.Fatalf("apply B: %v: %s", err, stderr)
		}
		if got := listTable(t, ns); got == tableA {
			t.Fatal("apply B left table A in place")
		}
		if !waitFor(t, 8*time.Second, func() bool { return listTable(t, ns) == tableA }) {
			t.Fatalf("table after the window:\n%s\nwant the previous one:\n%s", listTable(t, ns), tableA)
		}
	})

	t.Run("confirmed change stays", func(t *testing.T) {
		if _, stderr, err := gctl(nil, "firewall", "apply", "--confirm", "2s", "--config", cfgB); err != nil {
			t.Fatalf("apply B: %v: %s", err, stderr)
		}
		tableB := listTable(t, ns)
		if _, stderr, err := gctl(nil, "firewall", "confirm"); err != nil {
			t.Fatalf("confirm: %v: %s", err, stderr)
		}
		time.Sleep(3 * time.Second)
		if got := listTable(t, ns); got != tableB {
			t.Errorf("table changed after confirm:\n%s\nwant:\n%s", got, tableB)
		}
		if _, _, err := gctl(nil, "firewall", "confirm"); err == nil {
			t.Error("a second confirm succeeded with nothing pending")
		}
	})

	t.Run("SSH lockout is refused", func(t *testing.T) {
		locked := filepath.Join(dir, "ssh.yaml")
		content := strings.Replace(string(config.Example()), "ssh_from: []", "ssh_from: [192.168.1.0/24]", 1)
		if err := os.WriteFile(locked, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		before := listTable(t, ns)
		env := []string{"SSH_CONNECTION=203.0.113.9 50000 192.168.1.10 22"}
		_, stderr, err := gctl(env, "firewall", "apply", "--config", locked)
		if code := exitCode(err); code != exitUsage {
			t.Errorf("exit status %d, want %d; stderr: %s", code, exitUsage, stderr)
		}
		if !strings.Contains(stderr, "drops new SSH connections from 203.0.113.9") {
			t.Errorf("stderr does not name the session's address: %s", stderr)
		}
		if got := listTable(t, ns); got != before {
			t.Error("a refused apply changed the table")
		}
	})
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
