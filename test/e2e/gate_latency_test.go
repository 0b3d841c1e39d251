package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
)

// benchEnv turns on the latency measurements. They take about a minute and
// log numbers instead of checking them, so the normal test run skips them.
// bench/gate.sh sets it.
const benchEnv = "GARAGE_BENCH"

// latencyTriggers is the number of measured triggers per case, after
// latencyWarmup triggers that are not measured.
const (
	latencyTriggers = 1000
	latencyWarmup   = 50
)

func requireBench(t *testing.T) {
	t.Helper()
	if os.Getenv(benchEnv) == "" {
		t.Skipf("set %s=1 to measure trigger latency (bench/gate.sh does)", benchEnv)
	}
}

// gateBenchBuild builds testdata/gatebench, the gate with no cooldown.
var gateBenchBuild struct {
	once sync.Once
	path string
	err  error
}

func gateBenchBinary(t *testing.T) string {
	t.Helper()
	gateBenchBuild.once.Do(func() {
		path := filepath.Join(filepath.Dir(garagectlBin), "gatebench")
		if err := testutil.GoBuild(context.Background(), path, "./testdata/gatebench"); err != nil {
			gateBenchBuild.err = fmt.Errorf("build gatebench: %v", err)
			return
		}
		gateBenchBuild.path = path
	})
	if gateBenchBuild.err != nil {
		t.Fatal(gateBenchBuild.err)
	}
	return gateBenchBuild.path
}

// countMessages drains the relay's messages in the background and returns a
// func that reports how many arrived.
func countMessages(s *commandSub) func() int {
	var mu sync.Mutex
	n := 0
	go func() {
		for range s.messages {
			mu.Lock()
			n++
			mu.Unlock()
		}
	}()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// TestGateTriggerLatency measures the trigger API of garage-gate from the HTTP
// request through SOCKS5 to the broker's PUBACK, on loopback with no cooldown,
// and the gate's memory.
func TestGateTriggerLatency(t *testing.T) {
	requireBench(t)
	h := newHub(t)
	b := startBroker(t, h)
	received := countMessages(subscribeCommands(t, h, b, "relay1", false))
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "1s"})
	g := startGateBinary(t, gateBenchBinary(t), h, configPath, listen)
	phone := readPhone(t, h, "phone1")

	measureLatency(t, "garage-gate", g.addr, g.cmd.Process.Pid, phone, latencyTriggers)
	waitFor(t, "every command to reach the relay", func() bool {
		return received() == 2*(latencyTriggers+latencyWarmup)
	})
}

// TestMitmproxyTriggerLatency measures the same for mitmproxy in SOCKS5 mode
// with an addon that publishes with python3-paho-mqtt, the setup that
// garage-gate replaces.
func TestMitmproxyTriggerLatency(t *testing.T) {
	requireBench(t)
	mitmdump := testutil.RequireTool(t, "mitmdump", "mitmproxy")
	h := newHub(t)
	b := startBroker(t, h)
	received := countMessages(subscribeCommands(t, h, b, "relay1", false))
	phone := readPhone(t, h, "phone1")
	addr, pid := startMitmdump(t, h, b, mitmdump, phone)

	measureLatency(t, "mitmproxy", addr, pid, phone, latencyTriggers)
	waitFor(t, "every command to reach the relay", func() bool {
		return received() == 2*(latencyTriggers+latencyWarmup)
	})
}

// startMitmdump starts mitmdump with testdata/mitm_trigger.py and returns its
// SOCKS5 address and process ID. The addon reads its secrets from a JSON file,
// so that none is on the command line.
func startMitmdump(t *testing.T, h *hub, b *broker, mitmdump string, p phoneSecrets) (string, int) {
	t.Helper()
	dir := t.TempDir()
	settings, err := json.Marshal(map[string]string{
		"hostname":       gateHost,
		"phone":          p.name,
		"phone_password": p.password,
		"phone_token":    p.token,
		"device_key":     readSecret(t, h.path(layout.DeviceKey("relay1"))),
		"mqtt_user":      "gate",
		"mqtt_password":  h.password(t, "gate"),
		"broker":         b.addr,
		"server_name":    serverName,
		"ca_file":        h.path(layout.CACert),
	})
	if err != nil {
		t.Fatal(err)
	}
	settingsPath := filepath.Join(dir, "settings.json")
	testutil.WriteFile(t, settingsPath, string(settings), 0o600)
	addon, err := filepath.Abs("testdata/mitm_trigger.py")
	if err != nil {
		t.Fatal(err)
	}

	port := testutil.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	// proxyauth=any makes mitmproxy ask for SOCKS5 credentials; the addon's
	// socks5_auth hook then checks them. A lazy connection strategy keeps
	// mitmproxy from connecting to the virtual host, to which the addon responds.
	cmd := exec.CommandContext(ctx, mitmdump, "--mode", "socks5", "--listen-host", "127.0.0.1",
		"--listen-port", strconv.Itoa(port), "--set", "confdir="+filepath.Join(dir, "conf"),
		"--set", "proxyauth=any", "--set", "connection_strategy=lazy",
		"--set", "flow_detail=0", "--set", "termlog_verbosity=warn", "-s", addon)
	cmd.Env = append(os.Environ(), "MITM_TRIGGER_CONFIG="+settingsPath)
	var log testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start mitmdump: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mitmdump output:\n%s", log.String())
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitCtx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	testutil.WaitListening(waitCtx, t, addr)
	return addr, cmd.Process.Pid
}

// measureLatency sends warm-up triggers, then n measured ones, once with a new
// connection per trigger and once over one kept-alive connection, and logs the
// percentiles and the proxy's memory.
func measureLatency(t *testing.T, name, proxy string, pid int, p phoneSecrets, n int) {
	t.Helper()
	for _, keepAlive := range []bool{false, true} {
		client := socksClient(proxy, p, keepAlive)
		var lat []time.Duration
		for i := range latencyWarmup + n {
			took := timeTrigger(t, client, p)
			if i >= latencyWarmup {
				lat = append(lat, took)
			}
		}
		client.CloseIdleConnections()
		slices.Sort(lat)
		mode := "new connection per trigger"
		if keepAlive {
			mode = "one kept-alive connection"
		}
		t.Logf("%s, %s: n=%d p50=%s p90=%s p99=%s max=%s; %s", name, mode, n,
			percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), lat[len(lat)-1].Round(10*time.Microsecond), memory(pid))
	}
}

// timeTrigger posts one trigger and returns how long the 202 took.
func timeTrigger(t *testing.T, client *http.Client, p phoneSecrets) time.Duration {
	t.Helper()
	req, err := http.NewRequest("POST", triggerURL("relay1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != 202 {
		t.Fatalf("trigger: status %d, want 202", resp.StatusCode)
	}
	return took
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)].Round(10 * time.Microsecond)
}

// memory returns the resident set size and its peak from /proc.
func memory(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "memory unknown: " + err.Error()
	}
	var rss, hwm string
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	return "RSS " + rss + ", peak " + hwm
}

// socksClient returns an HTTP client that reaches every host through the
// SOCKS5 proxy, logged in as the phone.
func socksClient(proxy string, p phoneSecrets, keepAlive bool) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: !keepAlive,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				host, portText, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				port, _ := strconv.Atoi(portText)
				return dialSOCKS5(ctx, proxy, p.name, p.password, host, uint16(port))
			},
		},
	}
}

// dialSOCKS5 connects to host:port through a SOCKS5 proxy with username and
// password authentication (RFC 1928, RFC 1929), asking the proxy to resolve
// the name.
func dialSOCKS5(ctx context.Context, proxy, user, password, host string, port uint16) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", proxy)
	if err != nil {
		return nil, err
	}
	if err := socks5Connect(c, user, password, host, port); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func socks5Connect(c net.Conn, user, password, host string, port uint16) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	reply := make([]byte, 2)
	if _, err := c.Write([]byte{5, 1, 2}); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 2 {
		return fmt.Errorf("socks5 method negotiation: reply %v: %v", reply, err)
	}
	auth := append([]byte{1, byte(len(user))}, user...)
	auth = append(append(auth, byte(len(password))), password...)
	if _, err := c.Write(auth); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 0 {
		return fmt.Errorf("socks5 authentication: reply %v: %v", reply, err)
	}
	req := append([]byte{5, 1, 0, 3, byte(len(host))}, host...)
	if _, err := c.Write(binary.BigEndian.AppendUint16(req, port)); err != nil {
		return err
	}
	return readConnectReply(c)
}

// readConnectReply reads the reply to CONNECT, whose bound address may be of
// any type.
func readConnectReply(c net.Conn) error {
	head := make([]byte, 4)
	if _, err := io.ReadFull(c, head); err != nil {
		return fmt.Errorf("socks5 connect: %w", err)
	}
	if head[1] != 0 {
		return fmt.Errorf("socks5 connect: the proxy rejected the request with reply code %d", head[1])
	}
	var addrLen int
	switch head[3] {
	case 1:
		addrLen = 4
	case 4:
		addrLen = 16
	case 3:
		n := make([]byte, 1)
		if _, err := io.ReadFull(c, n); err != nil {
			return err
		}
		addrLen = int(n[0])
	default:
		return fmt.Errorf("socks5 connect: invalid address type %d in the reply", head[3])
	}
	_, err := io.ReadFull(c, make([]byte, addrLen+2))
	return err
}
