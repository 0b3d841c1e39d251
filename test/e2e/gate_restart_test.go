package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/layout"
)

// A deleted sequence file made the restarted gate send command 1 again, which
// the relay rejected as a replay while the phone got 202.
func TestGateMissingSequenceFile(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "1s"})
	phone := readPhone(t, h, "phone1")

	first := startGate(t, h, configPath, listen)
	if res := apiTrigger(t, first, phone, "relay1"); res.status != 202 {
		t.Fatalf("trigger before the restart: status %d (curl exit %d): %s",
			res.status, res.exitCode, res.body)
	}
	firedAt := time.Now()
	if cmd := relay.next(t); cmd.Seq != 1 {
		t.Fatalf("first command has seq %d, want 1", cmd.Seq)
	}
	relay.report(t, "state", "v1 idle 1 ok")
	first.stop(t)

	seqFile := filepath.Join(h.path(layout.GateStateDir), "relay1.seq")
	if err := os.Remove(seqFile); err != nil {
		t.Fatalf("remove the sequence file: %v", err)
	}
	second := startGate(t, h, configPath, listen)
	waitPage(t, second, phone, "idle, accepted command 1")
	time.Sleep(time.Until(firedAt.Add(time.Second))) // the cooldown of 1 s survives the restart

	res := apiTrigger(t, second, phone, "relay1")
	if res.status != 202 {
		t.Fatalf("trigger after the restart: status %d: %s", res.status, res.body)
	}
	if body := decodeAPI(t, res); body.Seq != 2 {
		t.Errorf("trigger after the restart reported seq %d, want 2", body.Seq)
	}
	if cmd := relay.next(t); cmd.Seq != 2 {
		t.Errorf("command after the restart has seq %d, want 2, above the relay's last", cmd.Seq)
	}
	log := second.log.String()
	if !strings.Contains(log, `msg="sequence file missing`) || !strings.Contains(log, "device=relay1") {
		t.Errorf("gate did not warn that the sequence file of relay1 was missing:\n%s", log)
	}
}

// A restart of the gate reset the cooldown, so a trigger right after the
// restart went out though the last one was within gate.cooldown.
func TestGateRestartKeepsCooldown(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "10s"})
	phone := readPhone(t, h, "phone1")

	first := startGate(t, h, configPath, listen)
	if res := apiTrigger(t, first, phone, "relay1"); res.status != 202 {
		t.Fatalf("trigger before the restart: status %d (curl exit %d): %s",
			res.status, res.exitCode, res.body)
	}
	relay.next(t)
	first.stop(t)

	second := startGate(t, h, configPath, listen)
	res := apiTrigger(t, second, phone, "relay1")
	if res.status != 429 {
		t.Fatalf("trigger right after the restart: status %d, want 429: %s", res.status, res.body)
	}
	if body := decodeAPI(t, res); body.Error != "cooldown" || body.RetryAfter < 1 || body.RetryAfter > 10 {
		t.Errorf("body = %+v, want error cooldown and retry_after 1 to 10", body)
	}
	relay.expectNone(t, time.Second)
}

// waitPage loads the gate's page as phone until it contains text, for up to
// gateStartTimeout.
func waitPage(t *testing.T, g *gateProc, p phoneSecrets, text string) {
	t.Helper()
	deadline := time.Now().Add(gateStartTimeout)
	for {
		res := curl(t, g, curlRequest{method: "GET", url: "http://" + gateHost + "/",
			proxyUser: p.name + ":" + p.password})
		if strings.Contains(res.body, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("page does not show %q within %s: status %d:\n%s",
				text, gateStartTimeout, res.status, res.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
