package web

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/gate/loglimit"
)

// One global limit of one line per second let a flood of one kind from one
// source hide the failed token attempts of every other source.
func TestLogLimitPerSourceAndKind(t *testing.T) {
	f := newFixture(t)
	const flood = 20
	for range flood {
		f.do(t, apiRequest("192.168.1.20:50000", "Bearer token-9"))
	}
	f.do(t, apiRequest("192.168.1.21:50000", "Bearer token-8"))
	f.do(t, request{method: "POST", path: "/login", source: "192.168.1.20:50001",
		loginNonce: "nonce-1", form: f.loginForm("nonce-1", "token-9")})

	log := f.log.String()
	if n := countLines(log, `msg="api token rejected" source=192.168.1.20:`); n != logBurstPerKey {
		t.Errorf("%d token rejections of the flooding source logged, want %d:\n%s", n, logBurstPerKey, log)
	}
	if n := countLines(log, `msg="api token rejected" source=192.168.1.21:`); n != 1 {
		t.Errorf("%d token rejections of the other source logged, want 1:\n%s", n, log)
	}
	if n := countLines(log, `msg="login rejected" source=192.168.1.20:`); n != 1 {
		t.Errorf("%d login rejections of the flooding source logged, want 1:\n%s", n, log)
	}
}

// The count of suppressed lines went out only with the next line that passed
// the limit, so the last burst of a flood was never reported.
func TestLogLimitFlushesOnTimer(t *testing.T) {
	f := newFixture(t)
	f.handler.noise.flushAfter = 50 * time.Millisecond
	const flood = 20
	for range flood {
		f.do(t, apiRequest("192.168.1.20:50000", "Bearer token-9"))
	}

	want := `msg="web log lines suppressed" source=192.168.1.20 kind="api token rejected" count=` +
		strconv.Itoa(flood-logBurstPerKey)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(f.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no summary %q within 5 s of the flood:\n%s", want, f.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A flush with nothing suppressed logs nothing.
	before := f.log.String()
	f.handler.FlushLogs()
	if after := f.log.String(); after != before {
		t.Errorf("FlushLogs after the summary logged %q", strings.TrimPrefix(after, before))
	}
}

func TestLogLimitTotal(t *testing.T) {
	f := newFixture(t)
	for i := range 2 * logBurstTotal {
		f.do(t, apiRequest("192.168.2."+strconv.Itoa(i)+":50000", "Bearer token-9"))
	}
	f.handler.FlushLogs()

	log := f.log.String()
	if n := countLines(log, `msg="api token rejected"`); n != logBurstTotal {
		t.Errorf("%d lines from %d sources logged, want %d", n, 2*logBurstTotal, logBurstTotal)
	}
	want := `msg="web log lines suppressed" source=all count=` + strconv.Itoa(logBurstTotal)
	if !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
}

func apiRequest(source, auth string) request {
	return request{method: "POST", path: "/api/v1/devices/relay1/trigger", source: source,
		header: map[string]string{"Authorization": auth}}
}

// countLines returns the number of lines of log that contain text.
func countLines(log, text string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, text) {
			n++
		}
	}
	return n
}

// A 15 KB device name was logged in full, twice (as the device and in the
// error), which made a 30 KB line.
func TestLogCutsRequestValues(t *testing.T) {
	long := strings.Repeat("a", 15<<10)
	cut := strings.Repeat("a", loglimit.MaxValueBytes) + "…"
	tests := []struct {
		name string
		req  request
		want []string // attributes the line must contain
	}{
		{"unknown device", request{method: "POST", path: "/api/v1/devices/" + long + "/trigger",
			header: map[string]string{"Authorization": "Bearer token-1"}},
			[]string{`msg="trigger refused"`, "device=" + cut, "result=unknown_device"}},
		{"cross-origin", request{method: "POST", path: "/" + long,
			header: map[string]string{"Origin": "http://" + long, "Sec-Fetch-Site": long}},
			[]string{`msg="cross-origin request rejected"`, "origin=http://" + cut[len("http://"):],
				"sec_fetch_site=" + cut, "path=/" + cut[1:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.do(t, tt.req)
			log := f.log.String()
			if len(log) > 1024 {
				t.Errorf("logged %d bytes for one rejected request, want at most 1024", len(log))
			}
			for _, want := range tt.want {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%.2000s", want, log)
				}
			}
		})
	}
}
