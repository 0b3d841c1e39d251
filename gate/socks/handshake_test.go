package socks

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var equateNetip = cmpopts.EquateComparable(netip.Addr{}, netip.AddrPort{})

func TestHandshake(t *testing.T) {
	const (
		cmdBind         = 0x02
		cmdUDPAssociate = 0x03
	)
	gateSession := &Session{Account: testUser, Source: clientSource,
		Dest: Destination{Host: gateHost, Port: gatePort}}
	loggedIn := concat(methodReply(methodUserPass), authReply(authSucceeded))

	tests := []struct {
		name        string
		noAuth      bool
		in          []byte
		wantOut     []byte
		wantSession *Session
		wantReason  string
	}{
		{
			name:        "connect to gate name",
			in:          loginAnd(requestHost(cmdConnect, gateHost, gatePort)),
			wantOut:     concat(loggedIn, socksReply(replySucceeded)),
			wantSession: gateSession,
		},
		{
			name:    "connect to gate name in capitals",
			in:      loginAnd(requestHost(cmdConnect, "GARAGE.Gate", gatePort)),
			wantOut: concat(loggedIn, socksReply(replySucceeded)),
			wantSession: &Session{Account: testUser, Source: clientSource,
				Dest: Destination{Host: "GARAGE.Gate", Port: gatePort}},
		},
		{
			name:    "connect to gate address",
			in:      loginAnd(requestAddr(cmdConnect, gateAddr, gatePort)),
			wantOut: concat(loggedIn, socksReply(replySucceeded)),
			wantSession: &Session{Account: testUser, Source: clientSource,
				Dest: Destination{Addr: gateAddr, Port: gatePort}},
		},
		{
			name: "ipv4-mapped gate address arrives unmapped",
			in: loginAnd(requestAddr(cmdConnect,
				netip.MustParseAddr("::ffff:127.0.0.1"), gatePort)),
			wantOut: concat(loggedIn, socksReply(replySucceeded)),
			wantSession: &Session{Account: testUser, Source: clientSource,
				Dest: Destination{Addr: gateAddr, Port: gatePort}},
		},
		{
			name:   "password preferred over no auth",
			noAuth: true,
			in: concat(greeting(methodNoAuth, methodUserPass), userPass(testUser, testPassword),
				requestHost(cmdConnect, gateHost, gatePort)),
			wantOut:     concat(loggedIn, socksReply(replySucceeded)),
			wantSession: gateSession,
		},
		{
			name:    "no auth when allowed",
			noAuth:  true,
			in:      concat(greeting(methodNoAuth), requestHost(cmdConnect, gateHost, gatePort)),
			wantOut: concat(methodReply(methodNoAuth), socksReply(replySucceeded)),
			wantSession: &Session{Source: clientSource,
				Dest: Destination{Host: gateHost, Port: gatePort}},
		},
		{
			name:       "no auth when not allowed",
			in:         concat(greeting(methodNoAuth), requestHost(cmdConnect, gateHost, gatePort)),
			wantOut:    methodReply(methodNoAcceptable),
			wantReason: "no acceptable authentication method",
		},
		{
			name:       "no methods offered",
			in:         greeting(),
			wantOut:    methodReply(methodNoAcceptable),
			wantReason: "no acceptable authentication method",
		},
		{
			name:       "gssapi only",
			in:         greeting(0x01),
			wantOut:    methodReply(methodNoAcceptable),
			wantReason: "no acceptable authentication method",
		},
		{
			name:       "socks4 request",
			in:         []byte{0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0},
			wantReason: "unsupported SOCKS version",
		},
		{
			name:       "http request",
			in:         []byte("GET / HTTP/1.1\r\nHost: garage.gate\r\n\r\n"),
			wantReason: "unsupported SOCKS version",
		},
		{
			name:       "wrong password",
			in:         concat(greeting(methodUserPass), userPass(testUser, "guess")),
			wantOut:    concat(methodReply(methodUserPass), authReply(authFailed)),
			wantReason: "authentication failed",
		},
		{
			name:       "unknown user",
			in:         concat(greeting(methodUserPass), userPass("admin", testPassword)),
			wantOut:    concat(methodReply(methodUserPass), authReply(authFailed)),
			wantReason: "authentication failed",
		},
		{
			name:       "empty username and password",
			in:         concat(greeting(methodUserPass), userPass("", "")),
			wantOut:    concat(methodReply(methodUserPass), authReply(authFailed)),
			wantReason: "authentication failed",
		},
		{
			name:       "auth subnegotiation version 5",
			in:         concat(greeting(methodUserPass), []byte{0x05, 0x01, 'a', 0x01, 'b'}),
			wantOut:    concat(methodReply(methodUserPass), authReply(authFailed)),
			wantReason: "unsupported authentication version",
		},
		{
			name:       "bind",
			in:         loginAnd(requestAddr(cmdBind, gateAddr, gatePort)),
			wantOut:    concat(loggedIn, socksReply(replyCommandNotSupported)),
			wantReason: "command not supported",
		},
		{
			name:       "udp associate",
			in:         loginAnd(requestHost(cmdUDPAssociate, gateHost, gatePort)),
			wantOut:    concat(loggedIn, socksReply(replyCommandNotSupported)),
			wantReason: "command not supported",
		},
		{
			name:       "unknown command",
			in:         loginAnd(requestHost(0x09, gateHost, gatePort)),
			wantOut:    concat(loggedIn, socksReply(replyCommandNotSupported)),
			wantReason: "command not supported",
		},
		{
			name:       "address type 2",
			in:         loginAnd([]byte{socksVersion, cmdConnect, 0, 0x02, 1, 2, 3, 4, 0, 80}),
			wantOut:    concat(loggedIn, socksReply(replyAddressTypeNotSupported)),
			wantReason: "address type not supported",
		},
		{
			name:       "address type 255",
			in:         loginAnd([]byte{socksVersion, cmdConnect, 0, 0xFF}),
			wantOut:    concat(loggedIn, socksReply(replyAddressTypeNotSupported)),
			wantReason: "address type not supported",
		},
		{
			name:       "empty domain name",
			in:         loginAnd(requestHost(cmdConnect, "", gatePort)),
			wantOut:    concat(loggedIn, socksReply(replyGeneralFailure)),
			wantReason: "empty domain name",
		},
		{
			name:       "request version 4",
			in:         loginAnd([]byte{0x04, cmdConnect, 0, atypIPv4, 127, 0, 0, 1, 0, 80}),
			wantOut:    loggedIn,
			wantReason: "unsupported SOCKS version",
		},
		{
			name:       "truncated greeting",
			in:         []byte{socksVersion},
			wantReason: "handshake timed out",
		},
		{
			name:       "truncated password",
			in:         concat(greeting(methodUserPass), []byte{authVersion, 1, 'a', 10, 'b'}),
			wantOut:    methodReply(methodUserPass),
			wantReason: "handshake timed out",
		},
		{
			name:       "truncated domain name",
			in:         loginAnd([]byte{socksVersion, cmdConnect, 0, atypDomain, 20, 'g'}),
			wantOut:    loggedIn,
			wantReason: "handshake timed out",
		},
		{
			name:       "missing port",
			in:         loginAnd([]byte{socksVersion, cmdConnect, 0, atypIPv4, 127, 0, 0, 1}),
			wantOut:    loggedIn,
			wantReason: "handshake timed out",
		},
		{
			name:       "other name",
			in:         loginAnd(requestHost(cmdConnect, "other.gate", gatePort)),
			wantOut:    concat(loggedIn, socksReply(replyNotAllowed)),
			wantReason: "destination not allowed",
		},
		{
			name:       "gate name on another port",
			in:         loginAnd(requestHost(cmdConnect, gateHost, 22)),
			wantOut:    concat(loggedIn, socksReply(replyNotAllowed)),
			wantReason: "destination not allowed",
		},
		{
			name:       "gate name with trailing dot",
			in:         loginAnd(requestHost(cmdConnect, gateHost+".", gatePort)),
			wantOut:    concat(loggedIn, socksReply(replyNotAllowed)),
			wantReason: "destination not allowed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecorder{}
			cfg := testConfig(logs)
			cfg.AllowNoAuth = tt.noAuth
			// A pipe cannot be half-closed, so a client that stops short
			// waits for the handshake deadline.
			cfg.HandshakeTimeout = 300 * time.Millisecond
			out, sessions := runPipe(t, newTestServer(t, cfg), tt.in)

			if diff := cmp.Diff(tt.wantOut, out, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("server output (-want +got):\n%s", diff)
			}
			var wantSessions []Session
			if tt.wantSession != nil {
				wantSessions = []Session{*tt.wantSession}
			}
			if diff := cmp.Diff(wantSessions, sessions, equateNetip); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
			var wantReasons []string
			if tt.wantReason != "" {
				wantReasons = []string{tt.wantReason}
			}
			if diff := cmp.Diff(wantReasons, logs.reasons()); diff != "" {
				t.Errorf("logged reasons (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGateRuleRejects checks the sample rule against destinations a proxy abuser
// would try. Each runs over net.Pipe, so no socket to them is ever opened.
func TestGateRuleRejects(t *testing.T) {
	addrs := map[string]string{
		"private 10/8":             "10.0.0.1",
		"private 172.16/12":        "172.16.0.1",
		"private 192.168/16":       "192.168.1.1",
		"unique local fd00::/8":    "fd00::1",
		"link-local metadata":      "169.254.169.254",
		"link-local fe80::/10":     "fe80::1",
		"other loopback 127.0.0.2": "127.0.0.2",
		"loopback ::1":             "::1",
		"unspecified 0.0.0.0":      "0.0.0.0",
		"public ipv4":              "8.8.8.8",
		"public ipv6":              "2606:4700:4700::1111",
		"mapped private":           "::ffff:192.168.1.1",
	}
	names := map[string]string{
		"localhost":            "localhost",
		"cloud metadata name":  "metadata.google.internal",
		"gate name as suffix":  "garage.gate.example.com",
		"gate name as prefix":  "evil-garage.gate",
		"gate name with a NUL": "garage.gate\x00.example.com",
		"public name":          "example.com",
		"address as a name":    "127.0.0.1",
	}
	check := func(t *testing.T, req []byte) {
		logs := &logRecorder{}
		out, sessions := runPipe(t, newTestServer(t, testConfig(logs)), loginAnd(req))
		want := concat(methodReply(methodUserPass), authReply(authSucceeded),
			socksReply(replyNotAllowed))
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("server output (-want +got):\n%s", diff)
		}
		if len(sessions) != 0 {
			t.Errorf("handler got %d sessions, want none", len(sessions))
		}
		if diff := cmp.Diff([]string{"destination not allowed"}, logs.reasons()); diff != "" {
			t.Errorf("logged reasons (-want +got):\n%s", diff)
		}
	}
	for name, addr := range addrs {
		t.Run(name, func(t *testing.T) {
			check(t, requestAddr(cmdConnect, netip.MustParseAddr(addr), gatePort))
		})
	}
	for name, host := range names {
		t.Run(name, func(t *testing.T) {
			check(t, requestHost(cmdConnect, host, gatePort))
		})
	}
}

func TestHandshakeAllocations(t *testing.T) {
	srv := newTestServer(t, testConfig(&logRecorder{}))
	in := loginAnd(requestHost(cmdConnect, gateHost, gatePort))
	conn := &fakeConn{}
	allocs := testing.AllocsPerRun(100, func() {
		conn.in.Reset(in)
		conn.out.Reset()
		c := newClientConn(srv, conn, clientSource, sourceKey(clientSource.Addr()))
		if _, err := c.handshake(); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		c.free()
	})
	// The username, the password and the host name are the strings handed on.
	if allocs > 3 {
		t.Errorf("handshake allocates %v times, want at most 3", allocs)
	}
}
