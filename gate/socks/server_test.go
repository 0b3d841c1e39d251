package socks

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewServerRejectsConfig(t *testing.T) {
	allow := gateRule(gateAddr)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no Allow", Config{Authenticate: testAuthenticate}, "Allow is missing"},
		{"no way to log in", Config{Allow: allow}, "Authenticate is missing"},
		{"negative cap", Config{Allow: allow, Authenticate: testAuthenticate, MaxConns: -1},
			"negative"},
		{"base past max", Config{Allow: allow, Authenticate: testAuthenticate,
			LockoutBase: time.Hour, LockoutMax: time.Minute}, "longer than LockoutMax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewServer: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNewServerDefaults(t *testing.T) {
	srv := newTestServer(t, Config{Allow: gateRule(gateAddr), AllowNoAuth: true})
	got := []any{srv.cfg.HandshakeTimeout, srv.cfg.MaxConns, srv.cfg.MaxConnsPerSource,
		srv.cfg.LockoutFailures, srv.cfg.LockoutBase, srv.cfg.LockoutMax, srv.readTimeout}
	want := []any{10 * time.Second, 64, 8, 5, time.Minute, time.Hour, 5 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestServeSession(t *testing.T) {
	sessions := make(chan Session, 1)
	ts := startServer(t, testConfig(&logRecorder{}), func(c net.Conn, s Session) {
		sessions <- s
		echoLine(c, s)
	})
	c := dialFrom(t, "127.0.0.1", ts.addr)
	reply, err := clientHandshake(c, testUser, testPassword,
		requestHost(cmdConnect, gateHost, gatePort))
	if err != nil || reply != replySucceeded {
		t.Fatalf("handshake: reply %#x, %v; want success", reply, err)
	}
	if err := exchange(c, []byte("ping\n"), []byte("ping\n")); err != nil {
		t.Fatalf("echo through the tunnel: %v", err)
	}

	s := <-sessions
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	want := Session{Account: testUser, Source: local, Dest: Destination{Host: gateHost, Port: gatePort}}
	if diff := cmp.Diff(want, s, equateNetip); diff != "" {
		t.Errorf("session (-want +got):\n%s", diff)
	}
}

// TestServeRejectsOtherLoopback checks that a CONNECT to another loopback
// address or name is rejected with 0x02 and that a listener there accepts no
// connection.
func TestServeRejectsOtherLoopback(t *testing.T) {
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2: %v", err)
	}
	defer other.Close()
	otherAddr := netip.MustParseAddrPort(other.Addr().String())

	logs := &logRecorder{}
	handled := make(chan Session, 4)
	ts := startServer(t, testConfig(logs), func(c net.Conn, s Session) {
		handled <- s
		c.Close()
	})
	requests := map[string][]byte{
		"other loopback address":   requestAddr(cmdConnect, otherAddr.Addr(), otherAddr.Port()),
		"gate address, other port": requestAddr(cmdConnect, gateAddr, otherAddr.Port()),
		"other name":               requestHost(cmdConnect, "other.gate", gatePort),
		"localhost":                requestHost(cmdConnect, "localhost", otherAddr.Port()),
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.1", ts.addr)
			reply, err := clientHandshake(c, testUser, testPassword, req)
			if err != nil || reply != replyNotAllowed {
				t.Errorf("reply %#x, %v; want %#x", reply, err, replyNotAllowed)
			}
		})
	}

	other.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
	if c, err := other.Accept(); err == nil {
		c.Close()
		t.Errorf("listener on %v got a connection from %v", otherAddr, c.RemoteAddr())
	}
	if len(handled) != 0 {
		t.Errorf("handler got %d sessions, want none", len(handled))
	}
	ts.stop()
	if got := logs.rejections(); got != len(requests) {
		t.Errorf("%d rejections logged or counted as suppressed, want %d", got, len(requests))
	}
}

func TestServeLockout(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig(logs)
	cfg.LockoutFailures = 2 // so that every line fits in the log rate limit
	cfg.LockoutBase = 400 * time.Millisecond
	cfg.LockoutMax = 2 * time.Second
	ts := startServer(t, cfg, echoLine)
	req := requestHost(cmdConnect, gateHost, gatePort)
	login := func(local, password string) error {
		_, err := clientHandshake(dialFrom(t, local, ts.addr), testUser, password, req)
		return err
	}

	for i := range cfg.LockoutFailures {
		if err := login("127.0.0.1", "guess"); !errors.Is(err, errAuthRejected) {
			t.Fatalf("wrong password %d: %v, want rejected", i, err)
		}
	}
	lockedAt := time.Now()
	if err := login("127.0.0.1", testPassword); !errors.Is(err, errAuthRejected) {
		t.Errorf("right password while locked out: %v, want rejected", err)
	}
	if err := login("127.0.0.2", testPassword); err != nil {
		t.Errorf("right password from another source: %v", err)
	}
	if got := logs.withMsg("socks source locked out"); len(got) != 1 {
		t.Errorf("%d lockout lines logged, want 1", len(got))
	}

	time.Sleep(time.Until(lockedAt.Add(cfg.LockoutBase + 50*time.Millisecond)))
	if err := login("127.0.0.1", testPassword); err != nil {
		t.Errorf("right password after the lockout: %v", err)
	}
	want := []string{"authentication failed", "authentication failed", "source locked out"}
	if diff := cmp.Diff(want, logs.reasons()); diff != "" {
		t.Errorf("logged reasons (-want +got):\n%s", diff)
	}
}

// TestServeLockoutSkipsAuthenticate checks that a locked-out source never
// reaches Authenticate, so that its timing reveals nothing.
func TestServeLockoutSkipsAuthenticate(t *testing.T) {
	calls := 0
	cfg := testConfig(&logRecorder{})
	cfg.LockoutFailures = 1
	cfg.Authenticate = func(user, password string) (string, bool) {
		calls++
		return testAuthenticate(user, password)
	}
	srv := newTestServer(t, cfg)
	runPipe(t, srv, concat(greeting(methodUserPass), userPass(testUser, "guess")))
	out, _ := runPipe(t, srv, loginAnd(requestHost(cmdConnect, gateHost, gatePort)))

	want := concat(methodReply(methodUserPass), authReply(authFailed))
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("server output while locked out (-want +got):\n%s", diff)
	}
	if calls != 1 {
		t.Errorf("Authenticate called %d times, want 1", calls)
	}
}

func TestServeLockoutRejectsNoAuth(t *testing.T) {
	cfg := testConfig(&logRecorder{})
	cfg.AllowNoAuth = true
	cfg.LockoutFailures = 1
	srv := newTestServer(t, cfg)
	runPipe(t, srv, concat(greeting(methodUserPass), userPass(testUser, "guess")))
	out, sessions := runPipe(t, srv, concat(greeting(methodNoAuth),
		requestHost(cmdConnect, gateHost, gatePort)))

	if diff := cmp.Diff(methodReply(methodNoAcceptable), out); diff != "" {
		t.Errorf("server output while locked out (-want +got):\n%s", diff)
	}
	if len(sessions) != 0 {
		t.Errorf("handler got %d sessions, want none", len(sessions))
	}
}

func TestServePerSourceCap(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig(logs)
	cfg.MaxConnsPerSource = 2
	ts := startServer(t, cfg, echoLine)

	dialFrom(t, "127.0.0.1", ts.addr)
	dialFrom(t, "127.0.0.1", ts.addr)
	ts.waitConns(t, 2)

	over := dialFrom(t, "127.0.0.1", ts.addr)
	if took, got := readClosed(t, over, time.Second); len(got) != 0 {
		t.Errorf("over-cap connection got %x before close after %v, want nothing", got, took)
	}
	other := dialFrom(t, "127.0.0.2", ts.addr)
	if _, err := clientHandshake(other, testUser, testPassword,
		requestHost(cmdConnect, gateHost, gatePort)); err != nil {
		t.Errorf("handshake from another source: %v", err)
	}
	waitLogged(t, logs, 1)
	if diff := cmp.Diff([]string{"too many connections from source"}, logs.reasons()); diff != "" {
		t.Errorf("logged reasons (-want +got):\n%s", diff)
	}
}

func TestServeTotalCap(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig(logs)
	cfg.MaxConns = 3
	ts := startServer(t, cfg, echoLine)

	for _, local := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		dialFrom(t, local, ts.addr)
	}
	ts.waitConns(t, 3)

	over := dialFrom(t, "127.0.0.5", ts.addr)
	if took, got := readClosed(t, over, time.Second); len(got) != 0 {
		t.Errorf("over-cap connection got %x before close after %v, want nothing", got, took)
	}
	waitLogged(t, logs, 1)
	if diff := cmp.Diff([]string{"too many connections"}, logs.reasons()); diff != "" {
		t.Errorf("logged reasons (-want +got):\n%s", diff)
	}
}

func TestServeHandshakeTimeout(t *testing.T) {
	const timeout = 400 * time.Millisecond
	tests := []struct {
		name  string
		write func(c net.Conn, stop <-chan struct{})
	}{
		{"silent client", func(net.Conn, <-chan struct{}) {}},
		{"one byte at a time", func(c net.Conn, stop <-chan struct{}) {
			msg := loginAnd(requestHost(cmdConnect, gateHost, gatePort))
			ticker := time.NewTicker(40 * time.Millisecond)
			defer ticker.Stop()
			for _, b := range msg {
				select {
				case <-stop:
					return
				case <-ticker.C:
				}
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecorder{}
			cfg := testConfig(logs)
			cfg.HandshakeTimeout = timeout
			ts := startServer(t, cfg, echoLine)
			c := dialFrom(t, "127.0.0.1", ts.addr)
			stop := make(chan struct{})
			defer close(stop)
			go tt.write(c, stop)

			took, _ := readClosed(t, c, 5*time.Second)
			if took > timeout+500*time.Millisecond {
				t.Errorf("server closed the connection after %v, want at most %v", took, timeout)
			}
			ts.stop()
			if diff := cmp.Diff([]string{"handshake timed out"}, logs.reasons()); diff != "" {
				t.Errorf("logged reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServeClientClosesMidHandshake(t *testing.T) {
	logs := &logRecorder{}
	ts := startServer(t, testConfig(logs), echoLine)
	c := dialFrom(t, "127.0.0.1", ts.addr)
	c.Write([]byte{socksVersion, 2, methodUserPass})
	c.Close()
	waitLogged(t, logs, 1)
	if diff := cmp.Diff([]string{"connection closed during handshake"}, logs.reasons()); diff != "" {
		t.Errorf("logged reasons (-want +got):\n%s", diff)
	}
}

// TestServeStopsCleanly checks that Serve returns after its handlers once ctx
// ends, and that no goroutine outlives it.
func TestServeStopsCleanly(t *testing.T) {
	before := runtime.NumGoroutine()
	handlerDone := make(chan struct{})
	ts := startServer(t, testConfig(&logRecorder{}), func(c net.Conn, _ Session) {
		defer close(handlerDone)
		defer c.Close()
		io.Copy(io.Discard, c) // until Serve closes the connection
	})

	session := dialFrom(t, "127.0.0.1", ts.addr)
	if _, err := clientHandshake(session, testUser, testPassword,
		requestHost(cmdConnect, gateHost, gatePort)); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	dialFrom(t, "127.0.0.1", ts.addr) // stays silent in the handshake
	ts.waitConns(t, 2)

	if err := ts.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	select {
	case <-handlerDone:
	default:
		t.Error("Serve returned before its handler")
	}
	if n := ts.srv.tracker.connections(); n != 0 {
		t.Errorf("%d connections still counted after Serve returned", n)
	}
	waitGoroutines(t, before)
}

// waitLogged waits up to 5s for n rejections to be logged.
func waitLogged(t *testing.T, logs *logRecorder, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.reasons()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d rejections logged, want %d", len(logs.reasons()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGoroutines waits up to 2s for the goroutine count to fall to want.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), want, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeReturnsAcceptError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := newTestServer(t, testConfig(&logRecorder{}))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln, echoLine) }()
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve after the listener closed: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its listener closed")
	}
}

// Concurrent logins from one source were each checked before any failure was
// counted, so 8 connections tried 8 passwords against a lockout after 5.
func TestServeLockoutConcurrentLogins(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig(logs)
	var calls atomic.Int64
	cfg.Authenticate = func(user, password string) (string, bool) {
		calls.Add(1)
		// A slow check keeps every login of the burst in progress at once.
		time.Sleep(200 * time.Millisecond)
		return testAuthenticate(user, password)
	}
	ts := startServer(t, cfg, echoLine)
	const logins = 8 // the default MaxConnsPerSource

	conns := make([]net.Conn, logins)
	for i := range conns {
		conns[i] = dialFrom(t, "127.0.0.1", ts.addr)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_, err := clientHandshake(c, testUser, "guess", requestHost(cmdConnect, gateHost, gatePort))
			if !errors.Is(err, errAuthRejected) {
				t.Errorf("wrong password: %v, want rejected", err)
			}
		})
	}
	wg.Wait()

	if n := calls.Load(); n != int64(ts.srv.cfg.LockoutFailures) {
		t.Errorf("Authenticate called %d times for %d concurrent logins, want %d (LockoutFailures)",
			n, logins, ts.srv.cfg.LockoutFailures)
	}
	if got := logs.withMsg("socks source locked out"); len(got) != 1 {
		t.Errorf("%d lockout lines logged, want 1", len(got))
	}
}

// With AllowNoAuth, clients without a password could hold every connection
// slot by keeping their sessions busy, so no phone could log in.
func TestServeNoAuthCap(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig(logs)
	cfg.AllowNoAuth = true
	cfg.MaxConns = 4 // so at most 2 without authentication
	ts := startServer(t, cfg, echoLine)
	noAuth := concat(greeting(methodNoAuth), requestHost(cmdConnect, gateHost, gatePort))
	want := concat(methodReply(methodNoAuth), socksReply(replySucceeded))

	var held []net.Conn
	for _, local := range []string{"127.0.0.2", "127.0.0.3"} {
		c := dialFrom(t, local, ts.addr)
		if err := exchange(c, noAuth, want); err != nil {
			t.Fatalf("session without authentication from %s: %v", local, err)
		}
		held = append(held, c)
	}
	over := dialFrom(t, "127.0.0.4", ts.addr)
	if err := exchange(over, greeting(methodNoAuth), methodReply(methodNoAcceptable)); err != nil {
		t.Errorf("third session without authentication, past the cap: %v", err)
	}
	login := dialFrom(t, "127.0.0.5", ts.addr)
	if reply, err := clientHandshake(login, testUser, testPassword,
		requestHost(cmdConnect, gateHost, gatePort)); err != nil || reply != replySucceeded {
		t.Errorf("login while the sessions without authentication are full: reply %#x, %v", reply, err)
	}

	// A slot is free again once its connection ends.
	held[0].Close()
	ts.waitConns(t, 2)
	again := dialFrom(t, "127.0.0.4", ts.addr)
	if err := exchange(again, noAuth, want); err != nil {
		t.Errorf("session without authentication after one ended: %v", err)
	}
	waitLogged(t, logs, 1)
	if diff := cmp.Diff([]string{"too many connections without authentication"}, logs.reasons()); diff != "" {
		t.Errorf("logged reasons (-want +got):\n%s", diff)
	}
}

func TestNewServerNoAuthCapDefault(t *testing.T) {
	tests := []struct {
		name     string
		maxConns int
		want     int
	}{
		{"default MaxConns", 0, 32},
		{"MaxConns 10", 10, 5},
		{"MaxConns 1", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, Config{Allow: gateRule(gateAddr), AllowNoAuth: true, MaxConns: tt.maxConns})
			if srv.cfg.MaxNoAuthConns != tt.want {
				t.Errorf("MaxNoAuthConns = %d, want %d", srv.cfg.MaxNoAuthConns, tt.want)
			}
		})
	}
}
