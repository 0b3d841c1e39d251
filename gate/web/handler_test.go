package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/gate/mqttclient"
	"github.com/garagectl/garagectl/gate/trigger"
)

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	want := map[string]string{
		"Cache-Control":          "no-store",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
	}
	tests := []struct {
		name string
		req  request
	}{
		{"page", request{method: "GET", path: "/"}},
		{"not found", request{method: "GET", path: "/favicon.ico"}},
		{"api unauthorized", request{method: "POST", path: "/api/v1/devices/relay1/trigger"}},
		{"other host", request{method: "GET", path: "/", header: map[string]string{"Host": "example.com"}}},
		{"cross-origin", request{method: "POST", path: "/login",
			header: map[string]string{"Sec-Fetch-Site": "cross-site"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.req)
			for name, value := range want {
				if got := w.Header().Get(name); got != value {
					t.Errorf("%s = %q, want %q", name, got, value)
				}
			}
			csp := w.Header().Get("Content-Security-Policy")
			for _, directive := range []string{"default-src 'none'", "form-action 'self'",
				"frame-ancestors 'none'", "style-src 'sha256-"} {
				if !strings.Contains(csp, directive) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, directive)
				}
			}
		})
	}
}

// The style block must match the hash in the policy, or browsers drop the styles.
func TestStyleHashMatchesPage(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, request{method: "GET", path: "/", account: "phone1"})
	body := w.Body.String()
	start := strings.Index(body, "<style>")
	end := strings.Index(body, "</style>")
	if start < 0 || end < start {
		t.Fatalf("page has no style block:\n%s", body)
	}
	sum := sha256.Sum256([]byte(body[start+len("<style>") : end]))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "style-src "+hash) {
		t.Errorf("Content-Security-Policy %q does not allow the page's style block %s", csp, hash)
	}
}

func TestHostCheck(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		host string
		want int
	}{
		{"garage.gate", http.StatusOK},
		{"GARAGE.gate", http.StatusOK},
		{"garage.gate:80", http.StatusOK},
		{"127.0.0.1:1080", http.StatusOK},
		{"garage.gate:8080", http.StatusMisdirectedRequest},
		{"example.com", http.StatusMisdirectedRequest},
		{"", http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			w := f.do(t, request{method: "GET", path: "/", header: map[string]string{"Host": tt.host}})
			if w.Code != tt.want {
				t.Errorf("status = %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestPageSignedOut(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, request{method: "GET", path: "/"})
	body := w.Body.String()
	if !strings.Contains(body, `action="/login"`) {
		t.Errorf("page without a phone has no login form:\n%s", body)
	}
	if strings.Contains(body, "relay1") {
		t.Errorf("page without a phone shows a device:\n%s", body)
	}
}

func TestPageSignedIn(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, request{method: "GET", path: "/", account: "phone1"})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	body := w.Body.String()
	for _, want := range []string{
		`action="/devices/relay1/trigger"`,
		`action="/devices/relay2/trigger"`,
		`name="csrf" value="` + f.signer.CSRFToken("phone1") + `"`,
		"Broker: connected",
		"online <small>since 2 h ago</small>",
		"idle, accepted command 41 <small>1 min ago</small>",
		"no state reported yet",
		"Signed in as phone1.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("page contains a script")
	}
	if strings.Contains(body, `action="/logout"`) {
		t.Error("page of a SOCKS5 session offers to sign out, but has no cookie to delete")
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	form := f.do(t, request{method: "GET", path: "/"})
	nonce := cookieValue(t, form, loginCookie)
	if want := `name="csrf" value="` + f.signer.LoginToken(nonce) + `"`; !strings.Contains(form.Body.String(), want) {
		t.Fatalf("login form lacks %q:\n%s", want, form.Body)
	}

	w := f.do(t, request{method: "POST", path: "/login", loginNonce: nonce,
		form: f.loginForm(nonce, "token-1")})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("login = %d to %q, want 303 to /", w.Code, w.Header().Get("Location"))
	}
	c := findCookie(t, w, sessionCookie)
	if login := findCookie(t, w, loginCookie); login.MaxAge >= 0 {
		t.Errorf("login cookie MaxAge = %d after signing in, want it deleted", login.MaxAge)
	}
	got := []any{c.Name, c.Path, c.HttpOnly, c.SameSite, c.MaxAge}
	want := []any{sessionCookie, "/", true, http.SameSiteStrictMode, int(DefaultSessionLifetime.Seconds())}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cookie attributes mismatch (-want +got):\n%s", diff)
	}

	page := f.do(t, request{method: "GET", path: "/", cookie: c.Value})
	if body := page.Body.String(); !strings.Contains(body, "Signed in as phone1.") ||
		!strings.Contains(body, `action="/logout"`) {
		t.Errorf("page with the session cookie is not signed in as phone1:\n%s", body)
	}
}

func TestLoginRejects(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		token   string
		account string
	}{
		{"wrong token", "token-9", ""},
		{"empty token", "", ""},
		{"password as token", "pass-1", ""},
		{"token of another phone than the SOCKS5 account", "token-2", "phone1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, request{method: "POST", path: "/login", account: tt.account,
				loginNonce: "nonce-1", form: f.loginForm("nonce-1", tt.token)})
			if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "/?result=badtoken" {
				t.Errorf("login = %d to %q, want 303 to /?result=badtoken", w.Code, loc)
			}
			if len(w.Result().Cookies()) != 0 {
				t.Error("a rejected login set a cookie")
			}
		})
	}
}

func TestLoginCSRF(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		nonce string // login cookie
		form  url.Values
	}{
		{"no login cookie", "", f.loginForm("nonce-1", "token-1")},
		{"token for another cookie", "nonce-2", f.loginForm("nonce-1", "token-1")},
		{"no CSRF token", "nonce-1", url.Values{"token": {"token-1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, request{method: "POST", path: "/login", loginNonce: tt.nonce, form: tt.form})
			if w.Code != http.StatusForbidden {
				t.Errorf("status = %d, want 403", w.Code)
			}
			if len(w.Result().Cookies()) != 0 {
				t.Error("a rejected login set a cookie")
			}
		})
	}
}

// The page keeps a login cookie that the browser already has, so that two open
// login forms both work.
func TestLoginCookieKept(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, request{method: "GET", path: "/", loginNonce: "nonce-1"})
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("page replaced the login cookie: %v", w.Result().Cookies())
	}
	if want := f.signer.LoginToken("nonce-1"); !strings.Contains(w.Body.String(), want) {
		t.Errorf("login form lacks the token of the existing cookie:\n%s", w.Body)
	}
}

func findCookie(t *testing.T, w *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("response sets no cookie %s: %v", name, w.Result().Cookies())
	return nil
}

func cookieValue(t *testing.T, w *httptest.ResponseRecorder, name string) string {
	t.Helper()
	c := findCookie(t, w, name)
	if c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %s: value %q, HttpOnly %v, SameSite %v, want a value, true, Strict",
			name, c.Value, c.HttpOnly, c.SameSite)
	}
	return c.Value
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, request{method: "POST", path: "/logout"})
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != sessionCookie || cookies[0].MaxAge >= 0 {
		t.Errorf("logout cookies = %v, want the session cookie deleted", cookies)
	}
}

func TestFormTrigger(t *testing.T) {
	f := newFixture(t)
	session := f.signer.Session("phone2", testNow.Add(time.Hour))
	tests := []struct {
		name     string
		req      request
		wantCode int
		wantLoc  string
	}{
		{"SOCKS5 account", request{account: "phone1",
			form: url.Values{"csrf": {f.signer.CSRFToken("phone1")}}},
			http.StatusSeeOther, "/?device=relay1&result=sent&seq=42"},
		{"session cookie", request{cookie: session,
			form: url.Values{"csrf": {f.signer.CSRFToken("phone2")}}},
			http.StatusSeeOther, "/?device=relay1&result=sent&seq=43"},
		{"no phone", request{form: url.Values{"csrf": {f.signer.CSRFToken("phone1")}}},
			http.StatusSeeOther, "/?result=signin"},
		{"no CSRF token", request{account: "phone1", form: url.Values{}},
			http.StatusForbidden, ""},
		{"CSRF token of another phone", request{account: "phone1",
			form: url.Values{"csrf": {f.signer.CSRFToken("phone2")}}},
			http.StatusForbidden, ""},
		{"expired session", request{cookie: f.signer.Session("phone2", testNow),
			form: url.Values{"csrf": {f.signer.CSRFToken("phone2")}}},
			http.StatusSeeOther, "/?result=signin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.method, tt.req.path = "POST", "/devices/relay1/trigger"
			w := f.do(t, tt.req)
			got := []any{w.Code, w.Header().Get("Location")}
			if diff := cmp.Diff([]any{tt.wantCode, tt.wantLoc}, got); diff != "" {
				t.Errorf("response mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"relay1", "relay1"}, f.trigger.fired); diff != "" {
		t.Errorf("fired mismatch (-want +got):\n%s", diff)
	}
}

func TestFormTriggerOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantLoc string
	}{
		{"cooldown", &trigger.CooldownError{Device: "relay1", Left: 6100 * time.Millisecond},
			"/?device=relay1&left=7&result=cooldown"},
		{"broker unreachable", fmt.Errorf("x: %w: %w", trigger.ErrUnavailable, mqttclient.ErrNotConnected),
			"/?device=relay1&result=broker_unreachable"},
		{"no PUBACK", fmt.Errorf("x: %w: timeout", trigger.ErrUnavailable),
			"/?device=relay1&result=not_acknowledged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.trigger.err = tt.err
			w := f.do(t, request{method: "POST", path: "/devices/relay1/trigger", account: "phone1",
				form: url.Values{"csrf": {f.signer.CSRFToken("phone1")}}})
			if loc := w.Header().Get("Location"); loc != tt.wantLoc {
				t.Errorf("Location = %q, want %q", loc, tt.wantLoc)
			}
		})
	}
}

func TestCrossOriginRejected(t *testing.T) {
	f := newFixture(t)
	csrf := url.Values{"csrf": {f.signer.CSRFToken("phone1")}}
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site fetch", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign origin", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"https origin", map[string]string{"Origin": "https://garage.gate"}, http.StatusForbidden},
		// Chromium sends Origin: null on the page's own posts, because of
		// Referrer-Policy: no-referrer; the CSRF token decides.
		{"null origin", map[string]string{"Origin": "null"}, http.StatusSeeOther},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin",
			"Origin": "http://garage.gate"}, http.StatusSeeOther},
		{"no browser headers", nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, request{method: "POST", path: "/devices/relay1/trigger",
				account: "phone1", form: csrf, header: tt.header})
			if w.Code != tt.want {
				t.Errorf("status = %d, want %d", w.Code, tt.want)
			}
		})
	}
	if n := len(f.trigger.fired); n != 3 {
		t.Errorf("fired %d times, want 3 (only the requests not marked cross-origin)", n)
	}
}

func TestAPITrigger(t *testing.T) {
	tests := []struct {
		name    string
		account string
		auth    string
		device  string
		err     error
		status  int
		want    apiResponse
		retry   string
	}{
		{"sent", "", "Bearer token-1", "relay1", nil, http.StatusAccepted,
			apiResponse{Status: "sent", Device: "relay1", Seq: 42}, ""},
		{"sent with SOCKS5 account", "phone1", "Bearer token-1", "relay1", nil, http.StatusAccepted,
			apiResponse{Status: "sent", Device: "relay1", Seq: 42}, ""},
		{"no token", "phone1", "", "relay1", nil, http.StatusUnauthorized,
			apiResponse{Error: "unauthorized"}, ""},
		{"wrong token", "", "Bearer token-9", "relay1", nil, http.StatusUnauthorized,
			apiResponse{Error: "unauthorized"}, ""},
		{"basic scheme", "", "Basic token-1", "relay1", nil, http.StatusUnauthorized,
			apiResponse{Error: "unauthorized"}, ""},
		{"token of another phone", "phone2", "Bearer token-1", "relay1", nil, http.StatusForbidden,
			apiResponse{Error: "forbidden"}, ""},
		{"unknown device", "", "Bearer token-1", "relay9", nil, http.StatusNotFound,
			apiResponse{Error: "unknown_device", Device: "relay9"}, ""},
		{"cooldown", "", "Bearer token-1", "relay1",
			&trigger.CooldownError{Device: "relay1", Left: 2500 * time.Millisecond},
			http.StatusTooManyRequests,
			apiResponse{Error: "cooldown", Device: "relay1", RetryAfter: 3}, "3"},
		{"broker unreachable", "", "Bearer token-1", "relay1",
			fmt.Errorf("%w: %w", trigger.ErrUnavailable, mqttclient.ErrNotConnected),
			http.StatusServiceUnavailable,
			apiResponse{Error: "broker_unreachable", Device: "relay1"}, ""},
		{"no PUBACK", "", "Bearer token-1", "relay1",
			fmt.Errorf("%w: timeout", trigger.ErrUnavailable), http.StatusServiceUnavailable,
			apiResponse{Error: "not_acknowledged", Device: "relay1"}, ""},
		{"shutting down", "", "Bearer token-1", "relay1", trigger.ErrClosed,
			http.StatusServiceUnavailable, apiResponse{Error: "shutting_down", Device: "relay1"}, ""},
		{"internal error", "", "Bearer token-1", "relay1", errors.New("disk full"),
			http.StatusInternalServerError, apiResponse{Error: "internal_error", Device: "relay1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.trigger.err = tt.err
			header := map[string]string{}
			if tt.auth != "" {
				header["Authorization"] = tt.auth
			}
			w := f.do(t, request{method: "POST", path: "/api/v1/devices/" + tt.device + "/trigger",
				account: tt.account, header: header})
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var got apiResponse
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if got.Message == "" {
				t.Error("response has no message")
			}
			got.Message = ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
			if retry := w.Header().Get("Retry-After"); retry != tt.retry {
				t.Errorf("Retry-After = %q, want %q", retry, tt.retry)
			}
			if tt.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestNotice(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		query string
		want  string // "" for no notice
	}{
		{"device=relay1&result=sent&seq=42", "Sent to relay1: command 42."},
		{"device=relay1&result=cooldown&left=7", "relay1 is cooling down: try again in 7 s."},
		{"device=relay1&result=broker_unreachable", "Broker unreachable: nothing was sent to relay1."},
		{"result=signin", "Sign in with the phone&#39;s token first."},
		{"device=%3Cscript%3E&result=sent&seq=1", ""},
		{"device=relay1&result=bogus", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := f.do(t, request{method: "GET", path: "/?" + tt.query, account: "phone1"})
			body := w.Body.String()
			has := strings.Contains(body, `id="notice"`)
			if tt.want == "" {
				if has {
					t.Errorf("page shows a notice for %q:\n%s", tt.query, body)
				}
				return
			}
			if !strings.Contains(body, tt.want) {
				t.Errorf("page lacks notice %q:\n%s", tt.want, body)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "just now"},
		{42 * time.Second, "42 s ago"},
		{5 * time.Minute, "5 min ago"},
		{3 * time.Hour, "3 h ago"},
		{72 * time.Hour, "3 days ago"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := age(tt.d); got != tt.want {
				t.Errorf("age(%s) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestDescribeState(t *testing.T) {
	tests := []struct{ payload, want string }{
		{"v1 idle 42 ok", "idle, accepted command 42"},
		{"v1 idle 0 boot", "idle, restarted (last command 0)"},
		{"v1 idle 42 replay", "idle, rejected a command: replay (last accepted 42)"},
		{"garbage", "unreadable state report"},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			if got := describeState(tt.payload); got != tt.want {
				t.Errorf("describeState = %q, want %q", got, tt.want)
			}
		})
	}
}

// The response to a command without a PUBACK read "may or may not arrive",
// though the command can still reach the relay and move the door 30 s later.
func TestUnconfirmedNamesWindow(t *testing.T) {
	f := newFixture(t)
	f.trigger.err = fmt.Errorf("x: %w: timeout", trigger.ErrUnavailable)
	w := f.do(t, request{method: "POST", path: "/api/v1/devices/relay1/trigger",
		header: map[string]string{"Authorization": "Bearer token-1"}})
	var body apiResponse
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if want := "may still arrive at relay1 within 30 seconds"; !strings.Contains(body.Message, want) {
		t.Errorf("API message %q lacks %q", body.Message, want)
	}

	page := f.do(t, request{method: "GET", path: "/?device=relay1&result=not_acknowledged",
		account: "phone1"})
	if want := "It may still arrive within 30 seconds"; !strings.Contains(page.Body.String(), want) {
		t.Errorf("page lacks %q:\n%s", want, page.Body)
	}
}
