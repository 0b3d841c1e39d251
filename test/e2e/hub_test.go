package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/internal/testutil/hubtest"
	"github.com/garagectl/garagectl/internal/testutil/mqtttest"
)

// serverName is the broker's DNS name in the example config. Clients connect
// to 127.0.0.1 and verify the certificate against this name, the way the
// relays and the gate do on the LAN.
const serverName = "hub.home.arpa"

// commandTimeout bounds one run of garagectl.
const commandTimeout = 2 * time.Minute

// garagectlBin is the garagectl binary that TestMain builds.
var garagectlBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds garagectl into a temporary directory, runs the tests and
// removes the directory.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "garagectl-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "create build directory: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	garagectlBin = filepath.Join(dir, "garagectl")
	err = testutil.GoBuild(ctx, garagectlBin, "github.com/garagectl/garagectl/cmd/garagectl")
	if err != nil {
		fmt.Fprintf(os.Stderr, "build garagectl: %v\n", err)
		return 1
	}
	return m.Run()
}

// cliResult is the outcome of one garagectl run.
type cliResult struct {
	stdout, stderr string
	exitCode       int
}

// runGaragectl runs the garagectl binary with args and an empty stdin, so a
// passphrase prompt fails instead of waiting.
func runGaragectl(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, garagectlBin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("garagectl %s did not finish within %s:\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), commandTimeout, stdout.String(), stderr.String())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run garagectl %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{
		stdout:   stdout.String(),
		stderr:   stderr.String(),
		exitCode: cmd.ProcessState.ExitCode(),
	}
}

// mustGaragectl runs garagectl and fails the test unless it exits with 0.
func mustGaragectl(t *testing.T, args ...string) cliResult {
	t.Helper()
	res := runGaragectl(t, args...)
	if res.exitCode != 0 {
		t.Fatalf("garagectl %s: exit status %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), res.exitCode, res.stdout, res.stderr)
	}
	return res
}

// hub is a scratch root provisioned by garagectl init from the example config.
type hub struct {
	dir            string // contains garage.yaml, secrets.yaml, the passphrase file and the root
	root           hostfs.Root
	configPath     string
	passphrasePath string
}

// newHub runs garagectl init on a new root, from the example config with the
// named relays appended to its devices. The relays share the example's Wi-Fi
// secrets.
func newHub(t *testing.T, extraDevices ...string) *hub {
	t.Helper()
	dir := hubtest.ScratchDir(t)
	h := &hub{
		dir:            dir,
		configPath:     filepath.Join(dir, "garage.yaml"),
		passphrasePath: filepath.Join(dir, "ca-passphrase"),
	}
	root, err := hostfs.NewRoot(filepath.Join(dir, "root"))
	if err != nil {
		t.Fatalf("resolve root: %v", err)
	}
	h.root = root

	config := mustGaragectl(t, "config", "example").stdout
	checkExampleBroker(t, config)
	config = hubtest.AppendRelays(t, config, extraDevices...)
	secrets := mustGaragectl(t, "config", "example", "--secrets").stdout
	testutil.WriteFile(t, h.configPath, config, 0o644)
	testutil.WriteFile(t, filepath.Join(dir, "secrets.yaml"), secrets, 0o600)
	testutil.WriteFile(t, h.passphrasePath, "correct horse battery staple\n", 0o600)

	mustGaragectl(t, "init", "--config", h.configPath, "--root", root.Dir(),
		"--ca-passphrase-file", h.passphrasePath)
	return h
}

// checkExampleBroker fails the test unless the example config names the
// broker the way the tests expect.
func checkExampleBroker(t *testing.T, config string) {
	t.Helper()
	for _, line := range []string{"names: [" + serverName + "]", "addresses: [192.168.1.10]"} {
		if !strings.Contains(config, line) {
			t.Fatalf("the example config has no %q line:\n%s", line, config)
		}
	}
}

// path maps a host path into the hub's root.
func (h *hub) path(hostPath string) string { return h.root.Path(hostPath) }

// password returns the MQTT password of account, after checking that its
// file holds the secret alone on one line.
func (h *hub) password(t *testing.T, account string) string {
	t.Helper()
	file := h.path(layout.MQTTPassword(account))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read the password of %s: %v", account, err)
	}
	secret, ok := strings.CutSuffix(string(data), "\n")
	if !ok || secret == "" || strings.ContainsAny(secret, "\r\n \t") {
		t.Fatalf("%s: want the secret alone on one line, got %d bytes in %d lines",
			file, len(data), strings.Count(string(data), "\n"))
	}
	return secret
}

// clientTLS returns the TLS settings of a client that trusts only the hub's
// CA and expects the broker's name.
func (h *hub) clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	data, err := os.ReadFile(h.path(layout.CACert))
	if err != nil {
		t.Fatalf("read CA certificate: %v", err)
	}
	return mqtttest.ClientTLS(t, data, layout.CACert, serverName)
}
