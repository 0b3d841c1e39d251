package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
)

// apiBody is the JSON body of the gate's trigger API.
type apiBody struct {
	Status     string `json:"status"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	Seq        uint64 `json:"seq"`
	RetryAfter int    `json:"retry_after"`
}

func decodeAPI(t *testing.T, res curlResult) apiBody {
	t.Helper()
	var body apiBody
	if err := json.Unmarshal([]byte(res.body), &body); err != nil {
		t.Fatalf("API response %d %q is not JSON: %v", res.status, res.body, err)
	}
	return body
}

// TestGateTrigger posts a trigger through the SOCKS5 port with curl and checks
// that the relay gets exactly one command, signed with its key, and that a
// second trigger inside the cooldown is refused and publishes nothing.
func TestGateTrigger(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "10s"})
	g := startGate(t, h, configPath, listen)
	phone := readPhone(t, h, "phone1")

	first := apiTrigger(t, g, phone, "relay1")
	if first.status != 202 {
		t.Fatalf("first trigger: status %d (curl exit %d), want 202: %s",
			first.status, first.exitCode, first.body)
	}
	body := decodeAPI(t, first)
	if body.Status != "sent" || body.Seq != 1 {
		t.Errorf("first trigger body = %+v, want status sent and seq 1", body)
	}
	cmd := relay.next(t)
	if cmd.Seq != body.Seq {
		t.Errorf("relay received seq %d, the API reported %d", cmd.Seq, body.Seq)
	}

	second := apiTrigger(t, g, phone, "relay1")
	if second.status != 429 {
		t.Fatalf("trigger inside the cooldown: status %d, want 429: %s", second.status, second.body)
	}
	retry, err := strconv.Atoi(second.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 10 {
		t.Errorf("Retry-After = %q, want 1 to 10 seconds", second.header.Get("Retry-After"))
	}
	if body := decodeAPI(t, second); body.Error != "cooldown" || body.RetryAfter != retry {
		t.Errorf("cooldown body = %+v, want error cooldown and retry_after %d", body, retry)
	}
	relay.expectNone(t, time.Second)

	if n := strings.Count(g.log.String(), `msg="trigger sent"`); n != 1 {
		t.Errorf("gate logged %d sent triggers, want 1:\n%s", n, g.log.String())
	}
	for _, secret := range []string{phone.password, phone.token} {
		if strings.Contains(g.log.String(), secret) {
			t.Errorf("gate log contains a phone secret:\n%s", g.log.String())
		}
	}
}

// TestGateRejects checks what the gate turns away: wrong SOCKS5 credentials,
// destinations other than its own, bad tokens and unknown devices. None of it
// may publish anything.
func TestGateRejects(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "1s"})
	g := startGate(t, h, configPath, listen)
	phone := readPhone(t, h, "phone1")
	login := phone.name + ":" + phone.password

	// curl exits with 97 when the SOCKS5 handshake fails.
	tests := []struct {
		name     string
		req      curlRequest
		exitCode int
		status   int
	}{
		{"wrong SOCKS5 password", curlRequest{method: "POST", url: triggerURL("relay1"),
			proxyUser: "phone1:not-the-password", token: phone.token}, 97, 0},
		{"no SOCKS5 credentials", curlRequest{method: "POST", url: triggerURL("relay1"),
			token: phone.token}, 97, 0},
		{"other host", curlRequest{method: "GET", url: "http://example.com/", proxyUser: login}, 97, 0},
		{"gate host on port 8080", curlRequest{method: "GET", url: "http://" + gateHost + ":8080/",
			proxyUser: login}, 97, 0},
		{"no token", curlRequest{method: "POST", url: triggerURL("relay1"), proxyUser: login}, 0, 401},
		{"password as token", curlRequest{method: "POST", url: triggerURL("relay1"),
			proxyUser: login, token: phone.password}, 0, 401},
		{"unknown device", curlRequest{method: "POST", url: triggerURL("relay9"),
			proxyUser: login, token: phone.token}, 0, 404},
		{"page by virtual host", curlRequest{method: "GET", url: "http://" + gateHost + "/",
			proxyUser: login}, 0, 200},
		{"page by listen address", curlRequest{method: "GET", url: "http://" + listen + "/",
			proxyUser: login}, 0, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := curl(t, g, tt.req)
			if res.exitCode != tt.exitCode || res.status != tt.status {
				t.Errorf("curl exit %d, status %d, want exit %d, status %d: %s",
					res.exitCode, res.status, tt.exitCode, tt.status, res.body)
			}
		})
	}
	relay.expectNone(t, 500*time.Millisecond)

	t.Run("security headers", func(t *testing.T) {
		res := curl(t, g, curlRequest{method: "GET", url: "http://" + gateHost + "/", proxyUser: login})
		want := map[string]string{
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"X-Content-Type-Options": "nosniff",
		}
		for name, value := range want {
			if got := res.header.Get(name); got != value {
				t.Errorf("%s = %q, want %q", name, got, value)
			}
		}
		if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("Content-Security-Policy = %q, want default-src 'none'", csp)
		}
	})
}

// TestGateBrokerDown stops the broker under a running gate: a trigger must fail
// with 503 within 2 s, and once the broker is back the next trigger works and
// nothing from the time it was down arrives at the relay.
func TestGateBrokerDown(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	// The relay keeps its session across the broker restart, so a command that
	// the gate sent late, right after reconnecting, would still reach it.
	relay := subscribeCommands(t, h, b, "relay1", true)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "1s"})
	g := startGate(t, h, configPath, listen)
	phone := readPhone(t, h, "phone1")

	stopBroker(t, b)
	g.waitLog(t, `msg="lost the broker connection"`, 1)
	down := apiTrigger(t, g, phone, "relay1")
	if down.status != 503 {
		t.Fatalf("trigger with the broker down: status %d (curl exit %d), want 503: %s",
			down.status, down.exitCode, down.body)
	}
	if down.took > 2*time.Second {
		t.Errorf("trigger with the broker down took %s, want at most 2 s", down.took)
	}
	if body := decodeAPI(t, down); body.Error != "broker_unreachable" {
		t.Errorf("error = %q, want broker_unreachable", body.Error)
	}

	startBrokerAgain(t, h, b)
	g.waitLog(t, `msg="connected to the broker"`, 2)
	up := apiTrigger(t, g, phone, "relay1")
	if up.status != 202 {
		t.Fatalf("trigger after the broker came back: status %d, want 202: %s", up.status, up.body)
	}
	body := decodeAPI(t, up)
	if cmd := relay.next(t); cmd.Seq != body.Seq {
		t.Errorf("relay received seq %d first, want %d, the trigger after the restart", cmd.Seq, body.Seq)
	}
	relay.expectNone(t, 2*time.Second)
}

// TestGateRestart restarts the gate under systemd's environment: secrets from
// $CREDENTIALS_DIRECTORY, sequence numbers in $STATE_DIRECTORY, and no
// secrets.yaml beside the config. The numbers must go on above the last one.
func TestGateRestart(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "1s", sandboxed: true})
	phone := readPhone(t, h, "phone1")

	// The credentials directory gets its own phone password, so a login with it
	// proves that the gate read the directory and not the root's files.
	phone.password = "from-the-credentials-directory"
	credDir := filepath.Join(t.TempDir(), "credentials")
	writeCredentials(t, h, credDir, phone)
	stateDir := filepath.Join(t.TempDir(), "state")
	env := []string{"CREDENTIALS_DIRECTORY=" + credDir, "STATE_DIRECTORY=" + stateDir}

	first := startGate(t, h, configPath, listen, env...)
	if res := apiTrigger(t, first, phone, "relay1"); res.status != 202 {
		t.Fatalf("trigger before the restart: status %d (curl exit %d): %s",
			res.status, res.exitCode, res.body)
	}
	firedAt := time.Now()
	if cmd := relay.next(t); cmd.Seq != 1 {
		t.Errorf("first command has seq %d, want 1", cmd.Seq)
	}
	first.stop(t)

	second := startGate(t, h, configPath, listen, env...)
	time.Sleep(time.Until(firedAt.Add(time.Second))) // the cooldown of 1 s survives the restart
	if res := apiTrigger(t, second, phone, "relay1"); res.status != 202 {
		t.Fatalf("trigger after the restart: status %d: %s", res.status, res.body)
	}
	if cmd := relay.next(t); cmd.Seq != 2 {
		t.Errorf("command after the restart has seq %d, want 2", cmd.Seq)
	}

	data, err := os.ReadFile(filepath.Join(stateDir, "relay1.seq"))
	if err != nil || string(data) != "2\n" {
		t.Errorf("relay1.seq in $STATE_DIRECTORY = %q, %v, want \"2\\n\"", data, err)
	}
	if _, err := os.Stat(h.path(layout.GateStateDir)); err == nil {
		t.Errorf("%s exists in the root, but the state belongs in $STATE_DIRECTORY", layout.GateStateDir)
	}
}

// writeCredentials fills dir the way systemd's LoadCredential= does, with p's
// password and token, the gate's MQTT password and relay1's key.
func writeCredentials(t *testing.T, h *hub, dir string, p phoneSecrets) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		layout.GateMQTTCredential:              h.password(t, layout.GateAccount),
		layout.PhonePasswordCredential(p.name): p.password,
		layout.PhoneTokenCredential(p.name):    p.token,
		layout.DeviceKeyCredential("relay1"):   readSecret(t, h.path(layout.DeviceKey("relay1"))),
	}
	for name, secret := range files {
		testutil.WriteFile(t, filepath.Join(dir, name), secret+"\n", 0o400)
	}
}

// TestGateDrainsOnSIGTERM stops the gate while a trigger waits for the broker's
// PUBACK: the request must still get its response before the gate exits with 0.
func TestGateDrainsOnSIGTERM(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "1s"})
	g := startGate(t, h, configPath, listen)
	phone := readPhone(t, h, "phone1")

	// A stopped broker keeps its connections open but sends no PUBACK, so the
	// trigger waits for the publish timeout.
	b.signal(t, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(b.pid, syscall.SIGCONT) })
	trigger := prepareAPITrigger(t, g, phone, "relay1")
	result := make(chan curlResult, 1)
	go func() { result <- trigger.run() }()
	// SIGTERM must arrive while the trigger waits for its PUBACK, which takes
	// the publish timeout of 1.5 s.
	time.Sleep(500 * time.Millisecond)
	g.stop(t)

	res := <-result
	if res.status != 503 {
		t.Fatalf("trigger in flight at SIGTERM: status %d (curl exit %d), want 503: %s",
			res.status, res.exitCode, res.body)
	}
	body := decodeAPI(t, res)
	if body.Error != "not_acknowledged" {
		t.Errorf("error = %q, want not_acknowledged", body.Error)
	}
	if !strings.Contains(body.Message, "may still arrive at relay1 within 30 seconds") {
		t.Errorf("message = %q, want it to say the command may still arrive within 30 seconds",
			body.Message)
	}
	log := g.log.String()
	if i, j := strings.Index(log, "gate stopping"), strings.Index(log, "trigger refused"); i < 0 || j < i {
		t.Errorf("gate did not answer the trigger while draining:\n%s", log)
	}
}
