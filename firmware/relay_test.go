package firmware

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/internal/testutil/mqtttest"
	"github.com/garagectl/garagectl/pki"
)

// relayCooldown is the host relay's cooldown in these tests, in ms: short,
// so that the test does not wait the default 10 s between commands.
const relayCooldown = 1500

// mqttTimeout bounds each MQTT step and each wait for a state message.
const mqttTimeout = 10 * time.Second

// TestHostRelay runs the host build of the relay against mosquitto started
// from what garagectl init wrote, on a hub with relay1 and relay2. The gate's
// account sends commands, as garage-gate would, and reads the state.
func TestHostRelay(t *testing.T) {
	bin := buildHostRelay(t)
	h := newHub(t, "relay2")
	b := startBroker(t, h)
	key := deviceKey(t, h, "relay1")

	t.Run("broker accepts fragment length", func(t *testing.T) {
		checkFragmentLength(t, h, b)
	})

	relay := startRelay(t, bin, h, b, "relay1")
	relay.waitLog(t, "session ready")
	if !strings.Contains(relay.stderr.String(), "cipher suite 0xc02f") {
		t.Errorf("the relay did not use ECDHE-RSA-AES128-GCM-SHA256 (0xc02f):\n%s", relay.stderr.String())
	}
	gate := connectMQTT(t, b, h, "gate")
	gate.subscribe(t, "garage/relay1/state")
	gate.subscribe(t, "garage/relay1/avail")
	gate.expect(t, "garage/relay1/state", "v1 idle 0 boot")
	gate.expect(t, "garage/relay1/avail", "online")

	first := signCommand(key, "relay1", 1, time.Now().Unix())
	t.Run("command pulses once", func(t *testing.T) {
		gate.publish(t, "garage/relay1/cmd", first)
		gate.expect(t, "garage/relay1/state", "v1 pulsing 1 ok")
		gate.expect(t, "garage/relay1/state", "v1 idle 1 ok")
		relay.checkPulses(t, 1)
	})

	t.Run("replay rejected", func(t *testing.T) {
		time.Sleep(relayCooldown * time.Millisecond) // so that only the sequence number stops it
		gate.publish(t, "garage/relay1/cmd", first)
		gate.expect(t, "garage/relay1/state", "v1 idle 1 replay")
		relay.checkPulses(t, 1)
	})

	t.Run("other account denied by ACL", func(t *testing.T) {
		// relay2's account may not write relay1's cmd topic. mosquitto drops
		// the message, so the next state is about the gate's seq 3, not seq 2.
		other := connectMQTT(t, b, h, "relay2")
		other.publish(t, "garage/relay1/cmd", signCommand(key, "relay1", 2, time.Now().Unix()))
		gate.publish(t, "garage/relay1/cmd", signCommand(key, "relay1", 3, time.Now().Unix()))
		gate.expect(t, "garage/relay1/state", "v1 pulsing 3 ok")
		gate.expect(t, "garage/relay1/state", "v1 idle 3 ok")
		relay.checkPulses(t, 2)
	})

	t.Run("forged rejected", func(t *testing.T) {
		time.Sleep(relayCooldown * time.Millisecond)
		forged := []byte(signCommand(key, "relay1", 4, time.Now().Unix()))
		// Another hex digit, so that the payload still parses.
		if forged[len(forged)-1] == '0' {
			forged[len(forged)-1] = '1'
		} else {
			forged[len(forged)-1] = '0'
		}
		gate.publish(t, "garage/relay1/cmd", string(forged))
		gate.expect(t, "garage/relay1/state", "v1 idle 3 forged")
		relay.checkPulses(t, 2)
	})

	t.Run("will offline", func(t *testing.T) {
		relay.stop(t)
		gate.expect(t, "garage/relay1/avail", "offline")
	})
}

// TestHostRelayRejectsBroker checks that the relay does not connect to a
// broker whose certificate it must not trust.
func TestHostRelayRejectsBroker(t *testing.T) {
	bin := buildHostRelay(t)
	h := newHub(t)
	b := startBroker(t, h)

	otherCA := filepath.Join(t.TempDir(), "other-ca.crt")
	testutil.WriteFile(t, otherCA, string(newOtherCA(t)), 0o644)
	day := int64(24 * time.Hour / time.Second)
	cases := []struct {
		name  string
		args  []string
		codes []int // BearSSL error codes that count as the expected rejection
	}{
		// The other CA has the hub CA's subject, so only its key differs.
		// The error is 62, BR_ERR_X509_NOT_TRUSTED. A broker that also sends
		// its CA certificate gives 57, BR_ERR_X509_CRITICAL_EXTENSION: with
		// no trust anchor for the server certificate, BearSSL goes on to
		// the CA certificate and stops at its critical name constraints.
		{"signed by another CA", []string{"--ca", otherCA}, []int{57, 62}},
		// 54: BR_ERR_X509_EXPIRED, for "expired or not yet valid". The
		// server certificate is valid for 397 days from 5 minutes ago.
		{"clock after expiry", []string{"--clock-offset", strconv.FormatInt(398*day, 10)}, []int{54}},
		{"clock before validity", []string{"--clock-offset", "-3600"}, []int{54}},
		// 56: BR_ERR_X509_BAD_SERVER_NAME.
		{"wrong server name", []string{"--broker", "garage.example.org"}, []int{56}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			relay := startRelay(t, bin, h, b, "relay1", c.args...)
			relay.waitLog(t, "handshake with ")
			if code := handshakeError(t, relay.stderr.String()); !slices.Contains(c.codes, code) {
				t.Errorf("handshake failed with BearSSL error %d, want one of %v", code, c.codes)
			}
			relay.stop(t)
			if strings.Contains(relay.stderr.String(), "mqtt: connected") {
				t.Errorf("the relay reached MQTT:\n%s", relay.stderr.String())
			}
			relay.checkPulses(t, 0)
		})
	}
}

// checkFragmentLength checks with openssl s_client that the broker accepts
// the 512-byte maximum fragment length the relay requests, which lets the
// ESP8266 use a receive buffer of about 0.8 KiB instead of 16 KiB.
func checkFragmentLength(t *testing.T, h *hub, b *broker) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl", "openssl")
	header, err := fs.ReadFile(Sources, "core/garage_tls.h")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`#define GARAGE_TLS_FRAGMENT_LENGTH (\d+)`).FindSubmatch(header)
	if m == nil {
		t.Fatal("core/garage_tls.h does not define GARAGE_TLS_FRAGMENT_LENGTH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), mqttTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", b.addr, "-servername", serverName,
		"-tls1_2", "-maxfraglen", string(m[1]), "-tlsextdebug",
		"-CAfile", h.path(layout.CACert), "-verify_return_error")
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl s_client: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `TLS server extension "max fragment length"`) {
		t.Errorf("the broker did not accept the maximum fragment length:\n%s", out)
	}
}

// handshakeErrorPattern matches the host relay's log line of a failed handshake.
var handshakeErrorPattern = regexp.MustCompile(`handshake with \S+ failed: BearSSL error (\d+)`)

// handshakeError returns the BearSSL error code of the first failed
// handshake in the relay's log.
func handshakeError(t *testing.T, log string) int {
	t.Helper()
	m := handshakeErrorPattern.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no failed handshake in the relay's log:\n%s", log)
	}
	code, _ := strconv.Atoi(m[1])
	return code
}

// newOtherCA returns a CA certificate with the hub's subject and names but
// a key of its own.
func newOtherCA(t *testing.T) []byte {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{
		Site: "garage", DNSNames: []string{serverName}, Validity: 24 * time.Hour,
	})
	if err != nil {
		t.Fatalf("create another CA: %v", err)
	}
	return ca.CertPEM()
}

// deviceKey returns a device's command key from the hub.
func deviceKey(t *testing.T, h *hub, device string) []byte {
	t.Helper()
	key, err := hex.DecodeString(h.secret(t, layout.DeviceKey(device)))
	if err != nil || len(key) != KeySize {
		t.Fatalf("%s: want %d bytes in hex", layout.DeviceKey(device), KeySize)
	}
	return key
}

// signCommand returns the payload of a command, signed as docs/protocol.md
// specifies: HMAC-SHA256 of everything before the last space.
func signCommand(key []byte, device string, seq uint64, ts int64) string {
	signed := fmt.Sprintf("v1 %s pulse %d %d", device, seq, ts)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	return signed + " " + hex.EncodeToString(mac.Sum(nil))
}

// TestSignCommandVector checks the test's signer against the test vector.
func TestSignCommandVector(t *testing.T) {
	key, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	if got := signCommand(key, "relay1", 42, 1764849600); got != vectorPayload {
		t.Errorf("signCommand = %q, want %q", got, vectorPayload)
	}
}

// relayProc is a running host build of the relay.
type relayProc struct {
	cmd            *exec.Cmd
	stdout, stderr testutil.SyncBuffer
	exited         chan struct{}
}

// startRelay starts the host relay as device, connected to 127.0.0.1 but
// checking the name hub.home.arpa, with the hub's CA and the device's
// credentials. extra arguments come last and override earlier ones.
// t.Cleanup stops it.
func startRelay(t *testing.T, bin string, h *hub, b *broker, device string, extra ...string) *relayProc {
	t.Helper()
	_, port, _ := strings.Cut(b.addr, ":")
	args := []string{
		"--device", device, "--broker", serverName, "--connect", "127.0.0.1", "--port", port,
		"--ca", h.path(layout.CACert),
		"--password-file", h.path(layout.MQTTPassword(device)),
		"--key-file", h.path(layout.DeviceKey(device)),
		"--cooldown-ms", strconv.Itoa(relayCooldown),
	}
	r := &relayProc{exited: make(chan struct{})}
	r.cmd = exec.Command(bin, append(args, extra...)...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start the host relay: %v", err)
	}
	go func() {
		r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("relay stdout:\n%s\nrelay stderr:\n%s", r.stdout.String(), r.stderr.String())
		}
	})
	return r
}

func (r *relayProc) waitLog(t *testing.T, text string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the relay to log %q", text), 15*time.Second, r.exited, func() bool {
		return strings.Contains(r.stderr.String(), text)
	})
}

// stop sends SIGTERM and waits for the relay to exit. It is safe to call twice.
func (r *relayProc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-r.exited:
		return
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("stop the relay: %v", err)
	}
	select {
	case <-r.exited:
	case <-time.After(commandTimeout):
		r.cmd.Process.Kill()
		t.Errorf("the relay did not exit on SIGTERM")
		<-r.exited
	}
}

// checkPulses checks that the relay closed want times and is open again.
func (r *relayProc) checkPulses(t *testing.T, want int) {
	t.Helper()
	out := r.stdout.String()
	if got := strings.Count(out, "relay: closed\n"); got != want {
		t.Errorf("the relay closed %d times, want %d:\n%s", got, want, out)
	}
	if got := strings.Count(out, "relay: open\n"); got != want {
		t.Errorf("the relay opened %d times, want %d:\n%s", got, want, out)
	}
}

// message is a received MQTT message.
type message struct{ topic, payload string }

// mqttClient is a paho client of the hub's broker. Messages of all its
// subscriptions arrive on one channel, in the order the broker sent them.
type mqttClient struct {
	client   mqtt.Client
	account  string
	messages chan message
}

var clientCount atomic.Int64

// connectMQTT connects as account with its generated password over TLS,
// trusting only the hub's CA and checking the name hub.home.arpa.
func connectMQTT(t *testing.T, b *broker, h *hub, account string) *mqttClient {
	t.Helper()
	caPEM, err := os.ReadFile(h.path(layout.CACert))
	if err != nil {
		t.Fatalf("load the hub's CA: %v", err)
	}
	c := &mqttClient{account: account, messages: make(chan message, 64)}
	opts := mqtt.NewClientOptions().
		AddBroker("ssl://" + b.addr).
		SetClientID(fmt.Sprintf("firmware-test-%s-%d", account, clientCount.Add(1))).
		SetTLSConfig(mqtttest.ClientTLS(t, caPEM, layout.CACert, serverName)).
		SetUsername(account).
		SetPassword(h.secret(t, layout.MQTTPassword(account))).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(mqttTimeout).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			c.messages <- message{m.Topic(), string(m.Payload())}
		})
	c.client = mqtt.NewClient(opts)
	if err := wait(t, c.client.Connect()); err != nil {
		t.Fatalf("connect as %s: %v", account, err)
	}
	t.Cleanup(func() { c.client.Disconnect(100) })
	return c
}

func wait(t *testing.T, token mqtt.Token) error {
	t.Helper()
	return mqtttest.WaitToken(t, token, mqttTimeout)
}

func (c *mqttClient) subscribe(t *testing.T, topic string) {
	t.Helper()
	mqtttest.MustSubscribe(t, c.client, c.account, topic, mqttTimeout)
}

// publish sends payload with QoS 1. With MQTT 3.1.1, mosquitto acknowledges
// a publish that the ACL denies and then drops it, so a PUBACK does not
// show that the message was delivered.
func (c *mqttClient) publish(t *testing.T, topic, payload string) {
	t.Helper()
	if err := wait(t, c.client.Publish(topic, 1, false, payload)); err != nil {
		t.Fatalf("%s: publish to %s: %v", c.account, topic, err)
	}
}

// expect waits for the next message and fails the test unless it is
// payload on topic.
func (c *mqttClient) expect(t *testing.T, topic, payload string) {
	t.Helper()
	want := message{topic, payload}
	select {
	case got := <-c.messages:
		if got != want {
			t.Fatalf("%s received %s %q, want %s %q", c.account, got.topic, got.payload, topic, payload)
		}
	case <-time.After(mqttTimeout):
		t.Fatalf("%s received nothing within %s, want %s %q", c.account, mqttTimeout, topic, payload)
	}
}

// TestHostRelayReconnects cuts the relay's connection and checks that it
// reconnects, reports itself online again and still takes commands.
func TestHostRelayReconnects(t *testing.T) {
	bin := buildHostRelay(t)
	h := newHub(t)
	b := startBroker(t, h)
	p := startProxy(t, b.addr)

	relay := startRelay(t, bin, h, &broker{addr: p.addr}, "relay1")
	relay.waitLog(t, "session ready")
	gate := connectMQTT(t, b, h, "gate")
	gate.subscribe(t, "garage/relay1/avail")
	gate.expect(t, "garage/relay1/avail", "online")
	gate.subscribe(t, "garage/relay1/state")
	gate.expect(t, "garage/relay1/state", "v1 idle 0 boot")

	p.cut()
	gate.expect(t, "garage/relay1/avail", "offline")
	gate.expect(t, "garage/relay1/avail", "online")
	gate.expect(t, "garage/relay1/state", "v1 idle 0 boot")
	// NOTE: the TLS session is not resumed here. OpenSSL drops a session
	// whose connection ends without close_notify, as a cut one does.
	t.Logf("handshakes:\n%s", grepLines(relay.stderr.String(), "tls: connected"))

	gate.publish(t, "garage/relay1/cmd", signCommand(deviceKey(t, h, "relay1"), "relay1", 1, time.Now().Unix()))
	gate.expect(t, "garage/relay1/state", "v1 pulsing 1 ok")
	gate.expect(t, "garage/relay1/state", "v1 idle 1 ok")
	relay.checkPulses(t, 1)
}

// grepLines returns the lines of s that contain text.
func grepLines(s, text string) string {
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, text) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// proxy forwards TCP connections from a loopback port to target, and cut
// closes the open ones, as a Wi-Fi drop would.
type proxy struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxy{addr: ln.Addr().String()}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, client, server)
			p.mu.Unlock()
			go copyAndClose(server, client)
			go copyAndClose(client, server)
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func copyAndClose(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
