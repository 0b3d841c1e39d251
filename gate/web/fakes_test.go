package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/garagectl/garagectl/gate/auth"
	"github.com/garagectl/garagectl/gate/mqttclient"
	"github.com/garagectl/garagectl/gate/trigger"
	"github.com/garagectl/garagectl/internal/testutil"
)

// testNow is the fixed clock of the handler under test.
var testNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// fakeTrigger returns err for each Fire, or a Result with the next number.
type fakeTrigger struct {
	mu    sync.Mutex
	err   error
	fired []string
}

func (f *fakeTrigger) Fire(_ context.Context, device string) (trigger.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if device != "relay1" && device != "relay2" {
		return trigger.Result{}, trigger.ErrUnknownDevice
	}
	if f.err != nil {
		return trigger.Result{}, f.err
	}
	f.fired = append(f.fired, device)
	return trigger.Result{Device: device, Seq: uint64(41 + len(f.fired)), Time: testNow}, nil
}

func (f *fakeTrigger) Devices() []string { return []string{"relay1", "relay2"} }

type fakeStatus struct{ connected bool }

func (f fakeStatus) Connected() bool { return f.connected }

func (f fakeStatus) Status(device string) (mqttclient.DeviceStatus, bool) {
	if device != "relay1" {
		return mqttclient.DeviceStatus{}, true
	}
	return mqttclient.DeviceStatus{
		State: mqttclient.Report{Value: "v1 idle 41 ok", Since: testNow.Add(-90 * time.Second)},
		Avail: mqttclient.Report{Value: "online", Since: testNow.Add(-2 * time.Hour)},
	}, true
}

type fixture struct {
	handler *Handler
	trigger *fakeTrigger
	signer  *auth.Signer
	log     *testutil.SyncBuffer // the handler's log, as text lines
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	phones, err := auth.NewPhones([]auth.Credentials{
		{Name: "phone1", Password: "pass-1", Token: "token-1"},
		{Name: "phone2", Password: "pass-2", Token: "token-2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	signer := auth.NewSigner(phones)
	f := &fixture{trigger: &fakeTrigger{}, signer: signer, log: &testutil.SyncBuffer{}}
	f.handler = NewHandler(Config{
		Hosts:   []string{"garage.gate", "127.0.0.1:1080"},
		Phones:  phones,
		Signer:  signer,
		Trigger: f.trigger,
		Status:  fakeStatus{connected: true},
		Now:     func() time.Time { return testNow },
		Logger:  slog.New(slog.NewTextHandler(f.log, nil)),
	})
	return f
}

// request describes one request to the handler under test.
type request struct {
	method, path string
	account      string // SOCKS5 account of the connection
	form         url.Values
	header       map[string]string
	cookie       string // value of the session cookie
	loginNonce   string // value of the login cookie
	source       string // client address and port; "" for 192.168.1.20:50000
}

func (f *fixture) do(t *testing.T, req request) *httptest.ResponseRecorder {
	t.Helper()
	var body *strings.Reader
	if req.form != nil {
		body = strings.NewReader(req.form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(req.method, "http://garage.gate"+req.path, body)
	if req.form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range req.header {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	if req.cookie != "" {
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: req.cookie})
	}
	if req.loginNonce != "" {
		r.AddCookie(&http.Cookie{Name: loginCookie, Value: req.loginNonce})
	}

	source := netip.MustParseAddrPort("192.168.1.20:50000")
	if req.source != "" {
		source = netip.MustParseAddrPort(req.source)
	}
	peer := Peer{Account: req.account, Source: source}
	r = r.WithContext(WithPeer(r.Context(), peer))
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// loginForm returns the fields of a login form for nonce, with the phone token.
func (f *fixture) loginForm(nonce, token string) url.Values {
	return url.Values{"csrf": {f.signer.LoginToken(nonce)}, "token": {token}}
}
