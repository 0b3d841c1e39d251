package socks

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test credentials and the gate's virtual host. The password exists only in
// these tests.
const (
	testUser     = "phone1"
	testPassword = "test-only-password"
	gateHost     = "garage.gate"
	gatePort     = 80
)

var (
	clientSource = netip.MustParseAddrPort("127.0.0.1:40000")
	gateAddr     = netip.MustParseAddr("127.0.0.1")
)

func testAuthenticate(user, password string) (string, bool) {
	return user, user == testUser && password == testPassword
}

// gateRule is a sample destination rule like the gate's: the gate's host name
// on port 80, in any letter case, or the gate's own address on port 80.
func gateRule(self netip.Addr) func(Destination) bool {
	return func(d Destination) bool {
		if d.Port != gatePort {
			return false
		}
		if d.Host != "" {
			return strings.EqualFold(d.Host, gateHost)
		}
		return d.Addr == self
	}
}

// testConfig returns a config with the test credentials and gateRule, logging
// to logs.
func testConfig(logs *logRecorder) Config {
	return Config{
		Authenticate: testAuthenticate,
		Allow:        gateRule(gateAddr),
		Logger:       slog.New(logs),
	}
}

func newTestServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	return srv
}

// logRecorder is a slog.Handler that keeps every record, for tests that read or
// count log lines.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	Time  time.Time
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Time: r.Time, Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, rec)
	return nil
}

// withMsg returns the records whose message is msg.
func (h *logRecorder) withMsg(msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range h.records {
		if r.Msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// reasons returns the reason of every rejection logged, in order.
func (h *logRecorder) reasons() []string {
	var out []string
	for _, r := range h.withMsg("socks connection rejected") {
		out = append(out, r.Attrs["reason"])
	}
	return out
}

// rejections returns the number of rejections logged plus those counted in
// summary lines.
func (h *logRecorder) rejections() int {
	n := len(h.withMsg("socks connection rejected"))
	for _, r := range h.withMsg("socks log lines suppressed") {
		count, _ := strconv.Atoi(r.Attrs["count"])
		n += count
	}
	return n
}

// Client messages of RFC 1928 and RFC 1929.

func greeting(methods ...byte) []byte {
	return append([]byte{socksVersion, byte(len(methods))}, methods...)
}

func userPass(user, password string) []byte {
	b := []byte{authVersion, byte(len(user))}
	b = append(b, user...)
	b = append(b, byte(len(password)))
	return append(b, password...)
}

func requestHost(cmd byte, host string, port uint16) []byte {
	b := []byte{socksVersion, cmd, 0, atypDomain, byte(len(host))}
	b = append(b, host...)
	return binary.BigEndian.AppendUint16(b, port)
}

func requestAddr(cmd byte, addr netip.Addr, port uint16) []byte {
	atyp := byte(atypIPv4)
	if addr.Is6() {
		atyp = atypIPv6
	}
	b := append([]byte{socksVersion, cmd, 0, atyp}, addr.AsSlice()...)
	return binary.BigEndian.AppendUint16(b, port)
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// loginAnd returns a greeting offering username/password, the test login and then rest.
func loginAnd(rest ...[]byte) []byte {
	return concat(append([][]byte{greeting(methodUserPass), userPass(testUser, testPassword)},
		rest...)...)
}

// Server messages.

func methodReply(m byte) []byte    { return []byte{socksVersion, m} }
func authReply(status byte) []byte { return []byte{authVersion, status} }

func socksReply(code byte) []byte {
	return []byte{socksVersion, code, 0, atypIPv4, 0, 0, 0, 0, 0, 0}
}

// runPipe runs one server handshake over net.Pipe, so that no socket is opened.
// It sends in, collects what the server sends until it closes the connection,
// and returns that output and the sessions handed to the handler.
func runPipe(t *testing.T, srv *Server, in []byte) ([]byte, []Session) {
	t.Helper()
	client, server := net.Pipe()
	defer client.Close()
	if err := client.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("set pipe deadline: %v", err)
	}

	var sessions []Session
	var wg sync.WaitGroup
	wg.Go(func() {
		srv.serveConn(server, clientSource, sourceKey(clientSource.Addr()),
			func(c net.Conn, s Session) {
				sessions = append(sessions, s)
				c.Close()
			})
	})
	wg.Go(func() { client.Write(in) })

	out, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("read server output: %v", err)
	}
	client.Close()
	wg.Wait()
	return out, sessions
}

// startServer serves cfg on a loopback port and stops the server when the test
// ends, checking that Serve returns nil.
func startServer(t *testing.T, cfg Config, handle func(net.Conn, Session)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	ts := &testServer{srv: newTestServer(t, cfg), addr: ln.Addr().String(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- ts.srv.Serve(ctx, ln, handle) }()
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

type testServer struct {
	srv    *Server
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels Serve's context and returns what Serve returned.
func (ts *testServer) stop() error {
	ts.once.Do(func() {
		ts.cancel()
		select {
		case ts.err = <-ts.done:
		case <-time.After(5 * time.Second):
			ts.err = errors.New("Serve did not return within 5s of cancel")
		}
	})
	return ts.err
}

// waitConns waits until the server counts n connections.
func (ts *testServer) waitConns(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.tracker.connections() != n {
		if time.Now().After(deadline) {
			t.Fatalf("server counts %d connections, want %d", ts.srv.tracker.connections(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialFrom connects to addr from the loopback address local, such as
// "127.0.0.2", so that a test can act as several sources.
func dialFrom(t testing.TB, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)},
		Timeout:   5 * time.Second,
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, local, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// errAuthRejected is returned by clientHandshake when the server sends RFC 1929
// status 0x01.
var errAuthRejected = errors.New("server rejected the username/password")

// clientHandshake runs the client side: it offers username/password, logs in
// and sends req. It returns the server's reply code.
func clientHandshake(c net.Conn, user, password string, req []byte) (byte, error) {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return 0, err
	}
	if err := exchange(c, greeting(methodUserPass), methodReply(methodUserPass)); err != nil {
		return 0, fmt.Errorf("method: %w", err)
	}
	buf := make([]byte, 10)
	if _, err := c.Write(userPass(user, password)); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		return 0, fmt.Errorf("read auth status: %w", err)
	}
	if buf[1] != authSucceeded {
		return 0, errAuthRejected
	}
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, fmt.Errorf("read reply: %w", err)
	}
	return buf[1], c.SetDeadline(time.Time{})
}

// exchange writes msg and checks that the server replies with want.
func exchange(c net.Conn, msg, want []byte) error {
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("server sent %x, want %x", got, want)
	}
	return nil
}

// echoLine is a handler that echoes one line back and closes the connection.
func echoLine(c net.Conn, _ Session) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line := make([]byte, 64)
	n, err := c.Read(line)
	if err != nil {
		return
	}
	c.Write(line[:n])
}

// readClosed waits up to limit for the server to close c and returns how long
// that took and the bytes read before.
func readClosed(t *testing.T, c net.Conn, limit time.Duration) (time.Duration, []byte) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start), got
}

// fakeConn is an in-memory net.Conn that reads from a fixed input and records
// what is written. Its deadlines do nothing.
type fakeConn struct {
	in  bytes.Reader
	out bytes.Buffer
}

func (f *fakeConn) Read(b []byte) (int, error)       { return f.in.Read(b) }
func (f *fakeConn) Write(b []byte) (int, error)      { return f.out.Write(b) }
func (f *fakeConn) Close() error                     { return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return net.TCPAddrFromAddrPort(clientSource) }
func (f *fakeConn) RemoteAddr() net.Addr             { return net.TCPAddrFromAddrPort(clientSource) }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }
