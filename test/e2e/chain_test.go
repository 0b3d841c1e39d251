package e2e

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/firmware"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
)

// Timing of the host relay in TestChainPhoneGateBrokerRelay.
const (
	// relayPulse is how long the relay stays closed: relay1's pulse in the
	// example config, and the host relay's default.
	relayPulse = 400 * time.Millisecond
	// pulseMargin is how long the test watches for a second pulse after the
	// first one ended.
	pulseMargin = 2 * time.Second
	// relayStartTimeout bounds the wait for the relay's MQTT session, and
	// relayStopTimeout its exit after SIGTERM.
	relayStartTimeout = 15 * time.Second
	relayStopTimeout  = 10 * time.Second
	// relayBuildTimeout bounds the C compiler.
	relayBuildTimeout = 2 * time.Minute
	// quietPeriod is how long the test waits for a message that must not
	// arrive. mosquitto routes or drops a message before it sends the
	// PUBACK, so on loopback a message that got through would arrive, and
	// the relay would report on it, well within this time.
	quietPeriod = time.Second
)

// bearSSLHeader is installed by the Debian package libbearssl-dev, with the
// library that the host relay links.
const bearSSLHeader = "/usr/include/bearssl/bearssl.h"

// TestChainPhoneGateBrokerRelay runs the whole chain: a phone posts a trigger
// with curl through the gate's SOCKS5 port, garage-gate publishes the signed
// command to mosquitto, and the host build of the relay receives it over TLS
// with BearSSL and pulses once. The captured command, replayed by relay2's
// account, is dropped by the broker's ACL. Replayed by the gate's account, it
// reaches the relay, which rejects it as a replay.
func TestChainPhoneGateBrokerRelay(t *testing.T) {
	bin := buildHostRelay(t)
	h := newHub(t, "relay2")
	b := startBroker(t, h)
	tlsConfig := h.clientTLS(t)
	states := connectMQTT(t, b, tlsConfig, "gate", h.password(t, "gate"))
	states.mustSubscribe(t, "garage/relay1/avail")
	states.mustSubscribe(t, "garage/relay1/state")

	relay := startHostRelay(t, bin, h, b, "relay1")
	relay.waitLog(t, "tls: connected to "+serverName)
	relay.waitLog(t, "session ready")
	states.expectNext(t, "garage/relay1/avail", "online")
	states.expectNext(t, "garage/relay1/state", "v1 idle 0 boot")

	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "10s"})
	g := startGate(t, h, configPath, listen)
	captured := subscribeCommands(t, h, b, "relay1", false)
	phone := readPhone(t, h, "phone1")

	res := apiTrigger(t, g, phone, "relay1")
	if res.status != 202 {
		t.Fatalf("trigger: status %d (curl exit %d), want 202: %s", res.status, res.exitCode, res.body)
	}
	seq := decodeAPI(t, res).Seq
	cmd := captured.next(t)
	if cmd.Seq != seq {
		t.Fatalf("the gate published seq %d, the API reported %d", cmd.Seq, seq)
	}
	// Parse accepts only the canonical form, so Encode returns the bytes
	// that the gate published.
	payload := string(cmd.Encode())

	ok := t.Run("trigger pulses once", func(t *testing.T) {
		states.expectNext(t, "garage/relay1/state", "v1 pulsing "+strconv.FormatUint(seq, 10)+" ok")
		states.expectNext(t, "garage/relay1/state", "v1 idle "+strconv.FormatUint(seq, 10)+" ok")
		relay.waitPulses(t, 1)
		time.Sleep(relayPulse + pulseMargin)
		relay.checkPulses(t, 1)
		captured.expectNone(t, quietPeriod)
	})
	if !ok {
		return
	}

	t.Run("replay by relay2 denied by ACL", func(t *testing.T) {
		relay2 := connectMQTT(t, b, tlsConfig, "relay2", h.password(t, "relay2"))
		publishDenied(t, relay2, "garage/relay1/cmd", payload)
		captured.expectNone(t, quietPeriod)
		states.expectNothing(t, quietPeriod)
		relay.checkPulses(t, 1)
	})

	t.Run("replay by gate rejected by relay", func(t *testing.T) {
		gate := connectMQTT(t, b, tlsConfig, "gate", h.password(t, "gate"))
		gate.mustPublish(t, "garage/relay1/cmd", payload)
		if got := captured.next(t); got != cmd {
			t.Errorf("relay1's account received %+v, want the replayed %+v", got, cmd)
		}
		replay := "v1 idle " + strconv.FormatUint(seq, 10) + " replay"
		states.expectNext(t, "garage/relay1/state", replay)
		relay.waitLog(t, "command rejected: replay")
		// Had the relay accepted the command, it would have closed the relay
		// before it published the state, so a pulse would already show.
		relay.checkPulses(t, 1)

		// A new subscriber gets the retained state.
		late := connectMQTT(t, b, tlsConfig, "gate", h.password(t, "gate"))
		late.mustSubscribe(t, "garage/relay1/state")
		late.expectNext(t, "garage/relay1/state", replay)
	})
}

// requireBearSSL fails under CI=true and skips elsewhere unless BearSSL's
// headers are installed.
func requireBearSSL(t *testing.T) {
	t.Helper()
	testutil.RequireFile(t, bearSSLHeader, "libbearssl-dev")
}

// buildHostRelay compiles the host build of the relay and returns its path.
func buildHostRelay(t *testing.T) string {
	t.Helper()
	cc := testutil.RequireTool(t, "cc", "gcc")
	requireBearSSL(t)
	bin := filepath.Join(t.TempDir(), "garage-relay-host")
	ctx, cancel := context.WithTimeout(t.Context(), relayBuildTimeout)
	defer cancel()
	if err := firmware.BuildHostRelay(ctx, cc, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// hostRelay is a running host build of the relay. It prints "relay: closed"
// and "relay: open" on stdout where the board switches its relay pin, and
// logs everything else to stderr.
type hostRelay struct {
	cmd            *exec.Cmd
	stdout, stderr testutil.SyncBuffer
	exited         chan struct{}
}

// startHostRelay starts the host relay as device. It connects to the broker's
// loopback address, checks the name hub.home.arpa in the broker's certificate
// and trusts only the hub's CA. It reads the device's MQTT password and
// command key from their files. t.Cleanup stops it and logs its output if the
// test failed.
func startHostRelay(t *testing.T, bin string, h *hub, b *broker, device string) *hostRelay {
	t.Helper()
	host, port, err := net.SplitHostPort(b.addr)
	if err != nil {
		t.Fatalf("broker address %q: %v", b.addr, err)
	}
	r := &hostRelay{exited: make(chan struct{})}
	r.cmd = exec.Command(bin,
		"--device", device, "--broker", serverName, "--connect", host, "--port", port,
		"--ca", h.path(layout.CACert),
		"--password-file", h.path(layout.MQTTPassword(device)),
		"--key-file", h.path(layout.DeviceKey(device)),
		"--pulse-ms", strconv.FormatInt(relayPulse.Milliseconds(), 10))
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

// stop sends SIGTERM and waits for the relay to exit, and kills it after
// relayStopTimeout.
func (r *hostRelay) stop(t *testing.T) {
	t.Helper()
	select {
	case <-r.exited:
		return
	default:
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("send SIGTERM to the relay: %v", err)
	}
	select {
	case <-r.exited:
	case <-time.After(relayStopTimeout):
		t.Errorf("the relay did not exit within %s of SIGTERM: killing it", relayStopTimeout)
		r.cmd.Process.Kill()
		<-r.exited
	}
}

// waitLog waits until the relay's stderr contains text, and fails the test if
// the relay exits or relayStartTimeout passes first.
func (r *hostRelay) waitLog(t *testing.T, text string) {
	t.Helper()
	r.waitFor(t, "log "+strconv.Quote(text), func() bool {
		return strings.Contains(r.stderr.String(), text)
	})
}

// waitPulses waits until the relay has opened again after n pulses.
func (r *hostRelay) waitPulses(t *testing.T, n int) {
	t.Helper()
	r.waitFor(t, "open "+strconv.Itoa(n)+" times", func() bool {
		return strings.Count(r.stdout.String(), "relay: open\n") >= n
	})
}

func (r *hostRelay) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(relayStartTimeout)
	for !cond() {
		select {
		case <-r.exited:
			t.Fatalf("the relay exited while the test waited for it to %s:\n%s", what, r.stderr.String())
		case <-deadline:
			t.Fatalf("the relay did not %s within %s:\nstdout:\n%s\nstderr:\n%s",
				what, relayStartTimeout, r.stdout.String(), r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkPulses fails the test unless the relay's stdout contains exactly n
// pulses: n times "relay: closed" followed by "relay: open", and nothing else.
func (r *hostRelay) checkPulses(t *testing.T, n int) {
	t.Helper()
	out := r.stdout.String()
	want := strings.Repeat("relay: closed\nrelay: open\n", n)
	if out != want {
		t.Errorf("relay stdout is %q, want %d pulses: %q", out, n, want)
	}
}

// expectNothing fails the test if a message arrives within d.
func (c *mqttClient) expectNothing(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.messages:
		t.Errorf("%s received %v, want no message", c.username, m)
	case err := <-c.lost:
		t.Errorf("%s lost its connection: %v", c.username, err)
	case <-time.After(d):
	}
}
