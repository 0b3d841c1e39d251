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
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/internal/testutil/hubtest"
	"github.com/garagectl/garagectl/internal/testutil/proctest"
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
	return testutil.GoBuild(ctx, bin, "github.com/garagectl/garagectl/cmd/garagectl")
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

// newHub runs garagectl init on a new root, from the example config with the
// named relays appended to its devices.
func newHub(t *testing.T, extraDevices ...string) *hub {
	t.Helper()
	dir := hubtest.ScratchDir(t)
	root, err := hostfs.NewRoot(filepath.Join(dir, "root"))
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{dir: dir, root: root, configPath: filepath.Join(dir, "garage.yaml")}

	config := mustGaragectl(t, "config", "example").stdout
	if !strings.Contains(config, "names: ["+serverName+"]") {
		t.Fatalf("the example config does not name the broker %s:\n%s", serverName, config)
	}
	config = hubtest.AppendRelays(t, config, extraDevices...)
	secrets := mustGaragectl(t, "config", "example", "--secrets").stdout
	testutil.WriteFile(t, h.configPath, config, 0o644)
	testutil.WriteFile(t, filepath.Join(dir, "secrets.yaml"), secrets, 0o600)
	pass := filepath.Join(dir, "ca-passphrase")
	testutil.WriteFile(t, pass, "correct horse battery staple\n", 0o600)
	mustGaragectl(t, "init", "--config", h.configPath, "--root", root.Dir(), "--ca-passphrase-file", pass)
	return h
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
	exited <-chan struct{}
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

	b := &broker{addr: "127.0.0.1:" + strconv.Itoa(port)}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, setpriv,
		proctest.SetprivArgs(mosq.UID, mosq.GID, mosquitto, "-c", confPath)...)
	cmd.Stdout, cmd.Stderr = &b.log, &b.log
	b.exited = proctest.Start(t, cmd, cancel, "mosquitto", &b.log)
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
	testutil.WriteFile(t, path, strings.Join(lines, ""), 0o640)
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
