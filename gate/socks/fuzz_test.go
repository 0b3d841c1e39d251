package socks

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"testing"
)

const (
	// maxHandshakeInput is the most a handshake may read: a greeting with 255
	// methods, an RFC 1929 request with 255-byte fields and a request with a
	// 255-byte name.
	maxHandshakeInput = (2 + 255) + maxMessage + (4 + 1 + 255 + 2)
	// maxHandshakeOutput is a method reply, an RFC 1929 status and one reply.
	maxHandshakeOutput = 2 + 2 + 10
	// maxHandshakeAlloc bounds the bytes one handshake may allocate, log line
	// included. The strings it hands on take at most 765 bytes.
	maxHandshakeAlloc = 64 << 10
)

// FuzzHandshake feeds arbitrary bytes to the server side of the handshake. It
// checks that the server reads and allocates a bounded amount, and that the
// handler only ever gets a session that logged in and passed the rule.
func FuzzHandshake(f *testing.F) {
	seeds := []struct {
		noAuth bool
		in     []byte
	}{
		{false, loginAnd(requestHost(cmdConnect, gateHost, gatePort))},
		{false, loginAnd(requestAddr(cmdConnect, gateAddr, gatePort))},
		{false, loginAnd(requestAddr(cmdConnect, netip.MustParseAddr("::ffff:127.0.0.1"), gatePort))},
		{true, concat(greeting(methodNoAuth), requestHost(cmdConnect, gateHost, gatePort))},
		{true, concat(greeting(methodNoAuth, methodUserPass), userPass(testUser, "guess"))},
		{false, loginAnd(requestHost(0x02, gateHost, gatePort))},
		{false, loginAnd([]byte{socksVersion, cmdConnect, 0, 0x02, 1, 2, 3, 4, 0, 80})},
		{false, loginAnd(requestHost(cmdConnect, "other.gate", gatePort))},
		{false, []byte{0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0}},
		{false, nil},
	}
	for _, s := range seeds {
		f.Add(s.noAuth, s.in)
	}

	f.Fuzz(func(t *testing.T, noAuth bool, in []byte) {
		loggedIn := false
		srv := newTestServer(t, Config{
			Authenticate: func(user, password string) (string, bool) {
				account, ok := testAuthenticate(user, password)
				loggedIn = loggedIn || ok
				return account, ok
			},
			AllowNoAuth: noAuth,
			Allow:       gateRule(gateAddr),
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		conn := &fakeConn{}
		conn.in.Reset(in)
		var sessions []Session

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		srv.serveConn(conn, clientSource, sourceKey(clientSource.Addr()),
			func(_ net.Conn, s Session) { sessions = append(sessions, s) })
		runtime.ReadMemStats(&after)

		if read := len(in) - conn.in.Len(); read > maxHandshakeInput {
			t.Errorf("handshake read %d bytes, want at most %d", read, maxHandshakeInput)
		}
		if n := conn.out.Len(); n > maxHandshakeOutput {
			t.Errorf("handshake wrote %d bytes, want at most %d", n, maxHandshakeOutput)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > maxHandshakeAlloc {
			t.Errorf("handshake allocated %d bytes, want at most %d", n, maxHandshakeAlloc)
		}
		checkSessions(t, sessions, conn.out.Bytes(), noAuth, loggedIn)
	})
}

// checkSessions checks that a handler got a session only after a success reply
// to a client that logged in, or used no authentication where allowed, and
// asked for the gate.
func checkSessions(t *testing.T, sessions []Session, out []byte, noAuth, loggedIn bool) {
	t.Helper()
	succeeded := bytes.HasSuffix(out, socksReply(replySucceeded))
	if len(sessions) == 0 {
		if succeeded {
			t.Errorf("success reply %x sent, but the handler got no session", out)
		}
		return
	}
	if len(sessions) > 1 {
		t.Fatalf("handler called %d times, want at most once", len(sessions))
	}
	s := sessions[0]
	if !succeeded {
		t.Errorf("handler got %+v, but the server sent %x", s, out)
	}
	if !gateRule(gateAddr)(s.Dest) {
		t.Errorf("handler got a destination the rule rejects: %+v", s.Dest)
	}
	switch s.Account {
	case testUser:
		if !loggedIn {
			t.Errorf("handler got account %q, but Authenticate never accepted", s.Account)
		}
	case "":
		if !noAuth {
			t.Errorf("handler got a session without a login, but AllowNoAuth is false")
		}
	default:
		t.Errorf("handler got unknown account %q", s.Account)
	}
}
