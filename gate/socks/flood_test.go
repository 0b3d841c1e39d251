package socks

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodMessages are what flood clients send: each fails the handshake. A nil
// message stands for a client that sends nothing and holds its connection
// until the server drops it.
var floodMessages = [][]byte{
	nil,
	[]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), // a TLS ClientHello
	concat(greeting(methodUserPass), userPass(testUser, "guess")),
	[]byte("GET / HTTP/1.1\r\nHost: garage.gate\r\n\r\n"),
	greeting(methodNoAuth),
	concat(greeting(methodUserPass), userPass("admin", "admin")),
}

// TestFlood opens 2,000 connections from four loopback sources that send
// garbage, wrong passwords or nothing at all, while a client from a fifth source keeps opening
// sessions. Each session must complete within 1s, and the rejection lines must
// stay within the per-source rate limit.
func TestFlood(t *testing.T) {
	const (
		floodConns   = 2000
		workers      = 32
		floodLimit   = 20 * time.Second
		sessionLimit = time.Second
	)
	floodSources := []string{"127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.5"}
	logs := &logRecorder{}
	cfg := testConfig(logs)
	// Silent clients hold a slot for the read deadline, half of this.
	cfg.HandshakeTimeout = time.Second
	ts := startServer(t, cfg, echoLine)

	ctx, cancel := context.WithTimeout(t.Context(), floodLimit)
	defer cancel()
	start := time.Now()
	var next, dialErrors atomic.Int64
	var flood sync.WaitGroup
	for range workers {
		flood.Go(func() {
			for i := next.Add(1) - 1; i < floodConns && ctx.Err() == nil; i = next.Add(1) - 1 {
				source := floodSources[(i/int64(len(floodMessages)))%int64(len(floodSources))]
				msg := floodMessages[i%int64(len(floodMessages))]
				if !floodOnce(ctx, source, ts.addr, msg) {
					dialErrors.Add(1)
				}
			}
		})
	}
	floodDone := make(chan struct{})
	go func() {
		flood.Wait()
		close(floodDone)
	}()

	sessions, slowest := runSessionsUntil(t, ts.addr, floodDone, sessionLimit)
	elapsed := time.Since(start)
	if err := ts.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}

	t.Logf("%d flood connections in %v; %d sessions during the flood, the slowest in %v",
		min(next.Load(), floodConns), elapsed.Round(time.Millisecond), sessions,
		slowest.Round(time.Microsecond))
	if ctx.Err() != nil {
		t.Fatalf("flood of %d connections did not finish within %v", floodConns, floodLimit)
	}
	if n := dialErrors.Load(); n > 0 {
		t.Errorf("%d flood connections failed to dial", n)
	}
	if sessions == 0 {
		t.Error("no session completed during the flood")
	}
	checkFloodLogs(t, logs, floodSources, floodConns, elapsed)
}

// floodOnce connects from source, sends msg, reads until the server closes the
// connection and reports whether the dial succeeded.
func floodOnce(ctx context.Context, source, addr string, msg []byte) bool {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return ctx.Err() != nil
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write(msg)
	io.Copy(io.Discard, c)
	return true
}

// runSessionsUntil opens sessions from 127.0.0.2 one after another until done
// closes, fails the test for any that takes longer than limit, and returns how
// many completed and the longest one took.
func runSessionsUntil(t *testing.T, addr string, done <-chan struct{},
	limit time.Duration) (int, time.Duration) {
	t.Helper()
	sessions := 0
	var slowest time.Duration
	for {
		select {
		case <-done:
			return sessions, slowest
		default:
		}
		start := time.Now()
		c := dialFrom(t, "127.0.0.2", addr)
		_, err := clientHandshake(c, testUser, testPassword,
			requestHost(cmdConnect, gateHost, gatePort))
		if err == nil {
			err = exchange(c, []byte("ping\n"), []byte("ping\n"))
		}
		c.Close()
		took := time.Since(start)
		slowest = max(slowest, took)
		if err != nil || took > limit {
			t.Errorf("session %d during the flood: %v after %v, want success within %v",
				sessions, err, took, limit)
		}
		sessions++
		time.Sleep(5 * time.Millisecond)
	}
}

// checkFloodLogs checks that each flood source logged at most its burst of
// rejection lines per log window, and that the lines logged plus those counted
// as suppressed cover every flood connection.
func checkFloodLogs(t *testing.T, logs *logRecorder, sources []string, conns int,
	elapsed time.Duration) {
	t.Helper()
	perSource := map[string]int{}
	for _, r := range logs.withMsg("socks connection rejected") {
		src := netip.MustParseAddrPort(r.Attrs["source"]).Addr().String()
		perSource[src]++
	}
	windows := int(elapsed/logWindow) + 2
	for _, src := range sources {
		if n := perSource[src]; n > logBurstPerSource*windows {
			t.Errorf("%d rejection lines for %s in %v, want at most %d", n, src,
				elapsed, logBurstPerSource*windows)
		}
	}
	if n := logs.rejections(); n < conns {
		t.Errorf("%d rejections logged or counted, want at least one per flood connection (%d)",
			n, conns)
	}
	t.Logf("log lines: %d rejections, %d summaries, %d lockouts; %d rejections counted",
		len(logs.withMsg("socks connection rejected")),
		len(logs.withMsg("socks log lines suppressed")),
		len(logs.withMsg("socks source locked out")), logs.rejections())
}
