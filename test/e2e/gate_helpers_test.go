package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/internal/testutil/proctest"
)

// gateHost is the gate's virtual host in the example config.
const gateHost = "garage.gate"

// gateStartTimeout bounds the wait for a line in the gate's log.
const gateStartTimeout = 15 * time.Second

// gateBuild builds the garage-gate binary once per test run, beside garagectl,
// so that TestMain removes it with garagectl's directory.
var gateBuild struct {
	once sync.Once
	path string
	err  error
}

func gateBinary(t *testing.T) string {
	t.Helper()
	gateBuild.once.Do(func() {
		path := filepath.Join(filepath.Dir(garagectlBin), "garage-gate")
		err := testutil.GoBuild(context.Background(), path, "github.com/garagectl/garagectl/cmd/garage-gate")
		if err != nil {
			gateBuild.err = fmt.Errorf("build garage-gate: %v", err)
			return
		}
		gateBuild.path = path
	})
	if gateBuild.err != nil {
		t.Fatal(gateBuild.err)
	}
	return gateBuild.path
}

// gateSettings are the gate keys a test sets in its copy of the hub's config.
type gateSettings struct {
	cooldown    string // gate.cooldown, such as "1s"
	allowNoAuth bool
	// sandboxed puts gate.yaml in a directory of its own, without secrets.yaml,
	// as the systemd unit shows the gate only garage.yaml.
	sandboxed bool
}

// writeGateConfig writes gate.yaml beside the hub's config, from the hub's
// config with broker.port moved to the test broker and gate.listen to a free
// loopback port, and returns its path and the gate's listen address. Unless
// sandboxed, the hub's secrets.yaml is beside it.
func writeGateConfig(t *testing.T, h *hub, b *broker, s gateSettings) (path, listen string) {
	t.Helper()
	data, err := os.ReadFile(h.configPath)
	if err != nil {
		t.Fatalf("read hub config: %v", err)
	}
	_, brokerPort, _ := strings.Cut(b.addr, ":")
	listen = "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	gateKeys := "  cooldown: " + s.cooldown + "\n"
	if s.allowNoAuth {
		gateKeys += "  allow_no_auth: true\n"
	}
	config := string(data)
	for _, r := range []struct{ old, new string }{
		{"  port: 8883\n", "  port: " + brokerPort + "\n"},
		{"  listen: 0.0.0.0:1080\n", "  listen: " + listen + "\n"},
		{"  cooldown: 10s\n", gateKeys},
	} {
		if !strings.Contains(config, r.old) {
			t.Fatalf("the hub config has no line %q to replace:\n%s", r.old, config)
		}
		config = strings.Replace(config, r.old, r.new, 1)
	}
	dir := h.dir
	if s.sandboxed {
		dir = t.TempDir()
	}
	path = filepath.Join(dir, "gate.yaml")
	testutil.WriteFile(t, path, config, 0o644)
	return path, listen
}

// gateProc is a running garage-gate binary.
type gateProc struct {
	addr   string // SOCKS5 listen address
	cmd    *exec.Cmd
	log    testutil.SyncBuffer
	exited chan struct{}
}

// startGate starts garage-gate on configPath with --root set to the hub's root
// and env added to its environment, and waits until it listens and has
// connected to the broker. t.Cleanup stops it and logs its output if the test
// failed.
func startGate(t *testing.T, h *hub, configPath, listen string, env ...string) *gateProc {
	t.Helper()
	return startGateBinary(t, gateBinary(t), h, configPath, listen, env...)
}

// startGateBinary is startGate with another build of the gate.
func startGateBinary(t *testing.T, bin string, h *hub, configPath, listen string, env ...string) *gateProc {
	t.Helper()
	g := &gateProc{addr: listen, exited: make(chan struct{})}
	g.cmd = exec.Command(bin, "--config", configPath, "--root", h.root.Dir())
	g.cmd.Env = append(os.Environ(), env...)
	g.cmd.Stdout, g.cmd.Stderr = &g.log, &g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start garage-gate: %v", err)
	}
	go func() {
		g.cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() {
		g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(15 * time.Second):
			g.cmd.Process.Kill()
			<-g.exited
		}
		if t.Failed() {
			t.Logf("garage-gate output:\n%s", g.log.String())
		}
	})
	g.waitLog(t, `msg="gate started"`, 1)
	g.waitLog(t, `msg="connected to the broker"`, 1)
	return g
}

// waitLog waits until the gate's log contains text at least count times.
func (g *gateProc) waitLog(t *testing.T, text string, count int) {
	t.Helper()
	deadline := time.After(gateStartTimeout)
	for strings.Count(g.log.String(), text) < count {
		select {
		case <-g.exited:
			t.Fatalf("garage-gate exited before logging %q %d times:\n%s", text, count, g.log.String())
		case <-deadline:
			t.Fatalf("garage-gate did not log %q %d times within %s:\n%s",
				text, count, gateStartTimeout, g.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and fails the test unless the gate exits with status 0
// within the drain timeout and a margin.
func (g *gateProc) stop(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM to garage-gate: %v", err)
	}
	select {
	case <-g.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("garage-gate did not exit within 15 s of SIGTERM:\n%s", g.log.String())
	}
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("garage-gate exited with status %d, want 0:\n%s", code, g.log.String())
	}
}

// phoneSecrets are the SOCKS5 password and bearer token that init wrote for a phone.
type phoneSecrets struct {
	name, password, token string
}

func readPhone(t *testing.T, h *hub, name string) phoneSecrets {
	t.Helper()
	return phoneSecrets{
		name:     name,
		password: readSecret(t, h.path(layout.PhonePassword(name))),
		token:    readSecret(t, h.path(layout.PhoneToken(name))),
	}
}

// readSecret returns the secret of a credential file, without its line end.
func readSecret(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read secret: %v", err)
	}
	return strings.TrimSuffix(string(data), "\n")
}

// deviceKey returns the command key that init wrote for device.
func deviceKey(t *testing.T, h *hub, device string) []byte {
	t.Helper()
	key, err := command.ParseKey(readSecret(t, h.path(layout.DeviceKey(device))))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// curlResult is the outcome of one curl run.
type curlResult struct {
	exitCode int // curl's own status: 0, or 97 for a SOCKS5 failure and so on
	status   int // HTTP status, 0 without a response
	header   http.Header
	body     string
	took     time.Duration
}

// curlRequest is one request through the gate's SOCKS5 port.
type curlRequest struct {
	method, url string
	// proxyUser is "phone:password" for the SOCKS5 login, empty for none.
	proxyUser string
	token     string // bearer token, empty for none
}

// curlRun is a prepared curl command, which run may start on any goroutine.
type curlRun struct {
	cmd                  *exec.Cmd
	stdout               bytes.Buffer
	headerPath, bodyPath string
}

// prepareCurl prepares curl with --socks5-hostname through the gate. The
// secrets go in a config file passed with -K, never on the command line, where
// the process list would show them.
func prepareCurl(t *testing.T, g *gateProc, req curlRequest) *curlRun {
	t.Helper()
	bin := testutil.RequireTool(t, "curl", "curl")
	dir := t.TempDir()
	var conf strings.Builder
	fmt.Fprintf(&conf, "url = %q\nrequest = %q\nsocks5-hostname = %q\n", req.url, req.method, g.addr)
	if req.proxyUser != "" {
		fmt.Fprintf(&conf, "proxy-user = %q\n", req.proxyUser)
	}
	if req.token != "" {
		fmt.Fprintf(&conf, "header = %q\n", "Authorization: Bearer "+req.token)
	}
	confPath := filepath.Join(dir, "curl.conf")
	testutil.WriteFile(t, confPath, conf.String(), 0o600)

	c := &curlRun{headerPath: filepath.Join(dir, "header"), bodyPath: filepath.Join(dir, "body")}
	c.cmd = exec.CommandContext(t.Context(), bin, "--silent", "--show-error", "--max-time", "10",
		"-K", confPath, "-D", c.headerPath, "-o", c.bodyPath, "-w", "%{http_code}")
	c.cmd.Stdout = &c.stdout
	return c
}

// run runs curl and collects what it received.
func (c *curlRun) run() curlResult {
	start := time.Now()
	c.cmd.Run()
	res := curlResult{exitCode: c.cmd.ProcessState.ExitCode(), took: time.Since(start)}
	res.status, _ = strconv.Atoi(c.stdout.String())
	if body, err := os.ReadFile(c.bodyPath); err == nil {
		res.body = string(body)
	}
	res.header = parseHeader(c.headerPath)
	return res
}

// curl runs one request through the gate.
func curl(t *testing.T, g *gateProc, req curlRequest) curlResult {
	t.Helper()
	return prepareCurl(t, g, req).run()
}

// parseHeader reads the header block that curl -D wrote.
func parseHeader(path string) http.Header {
	h := http.Header{}
	data, err := os.ReadFile(path)
	if err != nil {
		return h
	}
	for line := range strings.SplitSeq(string(data), "\r\n") {
		if name, value, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	return h
}

// triggerURL is the API endpoint that triggers device.
func triggerURL(device string) string {
	return "http://" + gateHost + "/api/v1/devices/" + device + "/trigger"
}

// apiTrigger posts a trigger for device as phone, logged in over SOCKS5.
func apiTrigger(t *testing.T, g *gateProc, p phoneSecrets, device string) curlResult {
	t.Helper()
	return prepareAPITrigger(t, g, p, device).run()
}

func prepareAPITrigger(t *testing.T, g *gateProc, p phoneSecrets, device string) *curlRun {
	t.Helper()
	return prepareCurl(t, g, curlRequest{method: "POST", url: triggerURL(device),
		proxyUser: p.name + ":" + p.password, token: p.token})
}

// stopBroker stops b with SIGTERM and waits for it to exit.
func stopBroker(t *testing.T, b *broker) {
	t.Helper()
	b.signal(t, syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(brokerStartTimeout):
		t.Fatalf("mosquitto did not exit within %s of SIGTERM", brokerStartTimeout)
	}
}

// startBrokerAgain starts mosquitto after stopBroker, on the config file that
// startBroker wrote and on the same port.
func startBrokerAgain(t *testing.T, h *hub, b *broker) *broker {
	t.Helper()
	mosq, err := h.root.LookupUser("mosq")
	if err != nil {
		t.Fatalf("look up the broker's account in the root: %v", err)
	}
	confPath := filepath.Join(h.dir, "broker", "mosquitto.conf")
	if _, err := os.Stat(confPath); err != nil {
		t.Fatalf("find the config that startBroker wrote: %v", err)
	}

	next := &broker{addr: b.addr}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, testutil.RequireTool(t, "setpriv", "util-linux"),
		proctest.SetprivArgs(mosq.UID, mosq.GID,
			testutil.RequireTool(t, "mosquitto", "mosquitto"), "-c", confPath)...)
	cmd.Stdout, cmd.Stderr = &next.log, &next.log
	next.exited = proctest.Start(t, cmd, cancel, "the restarted mosquitto", &next.log)
	next.pid = cmd.Process.Pid
	next.waitLog(t, " running")
	return next
}
