package firmware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
)

// serverName is the broker's DNS name in the example config. Clients connect
// to 127.0.0.1 and check the certificate against this name.
const serverName = "hub.home.arpa"

// commandTimeout bounds one run of garagectl or of a wait for a process.
const commandTimeout = 2 * time.Minute

var (
	garagectlOnce sync.Once
	garagectlPath string
	garagectlErr  error
	buildDir      string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// garagectl returns the path of a garagectl binary built once per test run.
func garagectl(t *testing.T) string {
	t.Helper()
	garagectlOnce.Do(func() {
		buildDir, garagectlErr = os.MkdirTemp("", "garagectl-firmware-")
		if garagectlErr != nil {
			return
		}
		garagectlPath = filepath.Join(buildDir, "garagectl")
		garagectlErr = buildGaragectl(garagectlPath)
	})
	if garagectlErr != nil {
		t.Fatalf("build garagectl: %v", garagectlErr)
	}
	return garagectlPath
}

// buildGaragectl builds the CLI into bin.
func buildGaragectl(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin,
		"github.com/garagectl/garagectl/cmd/garagectl").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// cliResult is the outcome of one garagectl run.
type cliResult struct {
	stdout, stderr string
	exitCode       int
}

// runGaragectl runs garagectl with args and env added to the environment.
func runGaragectl(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, garagectl(t), args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run garagectl %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// mustGaragectl runs garagectl and fails the test unless it exits with 0.
func mustGaragectl(t *testing.T, args ...string) cliResult {
	t.Helper()
	res := runGaragectl(t, nil, args...)
	if res.exitCode != 0 {
		t.Fatalf("garagectl %s: exit status %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), res.exitCode, res.stdout, res.stderr)
	}
	return res
}

// hub is a scratch root that garagectl init provisioned from the example
// config, with extra relays appended.
type hub struct {
	dir        string
	root       hostfs.Root
	configPath string
}

// exampleConfigEnd is how the example config ends: with the last key of its
// only device, so that a device appended after it joins the devices list.
const exampleConfigEnd = "    wifi_password: !secret wifi_password\n"

func newHub(t *testing.T, extraDevices ...string) *hub {
	t.Helper()
	testutil.RequireRoot(t, "init hands files to the mosq group inside the scratch root")
	testutil.RequireTool(t, "systemd-sysusers", "systemd")

	// The broker runs as the root's mosq account, which must pass through
	// every directory above the root, and t.TempDir makes its parent 0700.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatalf("open %s to the broker's account: %v", d, err)
		}
	}
	root, err := hostfs.NewRoot(filepath.Join(dir, "root"))
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{dir: dir, root: root, configPath: filepath.Join(dir, "garage.yaml")}

	config := mustGaragectl(t, "config", "example").stdout
	if !strings.Contains(config, "names: ["+serverName+"]") {
		t.Fatalf("the example config does not name the broker %s:\n%s", serverName, config)
	}
	if !strings.HasSuffix(config, exampleConfigEnd) && len(extraDevices) > 0 {
		t.Fatalf("the example config no longer ends with %q:\n%s", exampleConfigEnd, config)
	}
	for _, name := range extraDevices {
		config += "  - name: " + name + "\n    relay_pin: 4\n    pulse: 400ms\n" +
			"    wifi_ssid: !secret wifi_ssid\n    wifi_password: !secret wifi_password\n"
	}
	secrets := mustGaragectl(t, "config", "example", "--secrets").stdout
	writeTestFile(t, h.configPath, config, 0o644)
	writeTestFile(t, filepath.Join(dir, "secrets.yaml"), secrets, 0o600)
	pass := filepath.Join(dir, "ca-passphrase")
	writeTestFile(t, pass, "correct horse battery staple\n", 0o600)
	mustGaragectl(t, "init", "--config", h.configPath, "--root", root.Dir(), "--ca-passphrase-file", pass)
	return h
}

func writeTestFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// path maps a host path into the hub's root.
func (h *hub) path(hostPath string) string { return h.root.Path(hostPath) }

// secret returns the content of a credential file without its newline.
func (h *hub) secret(t *testing.T, hostPath string) string {
	t.Helper()
	data, err := os.ReadFile(h.path(hostPath))
	if err != nil {
		t.Fatalf("read %s: %v", hostPath, err)
	}
	return strings.TrimSuffix(string(data), "\n")
}

// broker is mosquitto started on a hub's generated config.
type broker struct {
	addr   string
	log    testutil.SyncBuffer
	exited chan struct{}
}

// brokerPathOption matches the mosquitto.conf options whose value is a host path.
var brokerPathOption = regexp.MustCompile(`^(password_file|acl_file|persistence_location|certfile|keyfile|cafile) (/.*)$`)

// startBroker starts mosquitto on a copy of the hub's mosquitto.conf with
// its paths mapped into the root and its listener on a free loopback port,
// as the root's mosq account with no supplementary groups.
func startBroker(t *testing.T, h *hub) *broker {
	t.Helper()
	mosquitto := testutil.RequireTool(t, "mosquitto", "mosquitto")
	setpriv := testutil.RequireTool(t, "setpriv", "util-linux")
	mosq, err := h.root.LookupUser("mosq")
	if err != nil {
		t.Fatalf("look up the broker's account in the root: %v", err)
	}
	port := testutil.FreePort(t)
	confPath := writeBrokerConfig(t, h, port, mosq.GID)

	b := &broker{addr: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, setpriv, "--reuid="+strconv.Itoa(mosq.UID),
		"--regid="+strconv.Itoa(mosq.GID), "--clear-groups", "--", mosquitto, "-c", confPath)
	cmd.Stdout, cmd.Stderr = &b.log, &b.log
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start mosquitto: %v", err)
	}
	go func() {
		cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-b.exited
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", b.log.String())
		}
	})
	waitFor(t, "mosquitto to start", 10*time.Second, b.exited, func() bool {
		return strings.Contains(b.log.String(), " running")
	})
	return b
}

func writeBrokerConfig(t *testing.T, h *hub, port, brokerGID int) string {
	t.Helper()
	generated, err := os.ReadFile(h.path(layout.MosquittoConf))
	if err != nil {
		t.Fatalf("read generated mosquitto.conf: %v", err)
	}
	lines := strings.SplitAfter(string(generated), "\n")
	for i, line := range lines {
		text := strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(text, "listener ") {
			lines[i] = fmt.Sprintf("listener %d 127.0.0.1\n", port)
		} else if m := brokerPathOption.FindStringSubmatch(text); m != nil {
			mapped := h.path(m[2])
			if strings.HasSuffix(m[2], "/") {
				mapped += "/"
			}
			lines[i] = m[1] + " " + mapped + "\n"
		}
	}
	dir := filepath.Join(h.dir, "broker")
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path, strings.Join(lines, ""), 0o640)
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, 0, brokerGID); err != nil {
			t.Fatalf("hand %s to the broker's group: %v", p, err)
		}
	}
	return path
}

// waitFor polls cond every 20 ms until it holds, and fails the test when
// timeout passes or exited is closed first.
func waitFor(t *testing.T, what string, timeout time.Duration, exited <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case <-exited:
			t.Fatalf("the process exited while waiting for %s", what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
