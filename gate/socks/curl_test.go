package socks

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/garagectl/garagectl/internal/testutil"
)

// chanListener is a net.Listener whose connections come from a channel, so that
// an http.Server can serve the tunnels a SOCKS5 handler gets.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// handle passes the tunnel to the http.Server and returns once the server
// has closed it, so that Serve waits for the HTTP exchange.
func (l *chanListener) handle(c net.Conn, _ Session) {
	tc := &closeNotifyConn{Conn: c, closed: make(chan struct{})}
	select {
	case l.conns <- tc:
		<-tc.closed
	case <-l.done:
		c.Close()
	}
}

type closeNotifyConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeNotifyConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// serveGatePage starts an HTTP server on the tunnels of ln. Its response to
// every request names the Host the request was sent to.
func serveGatePage(t *testing.T, ln *chanListener) {
	t.Helper()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "gate page for %s\n", r.Host)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		hs.Serve(ln)
	}()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
}

// runCurl fetches url through the SOCKS5 proxy at proxyAddr, letting the proxy
// resolve the name (--socks5-hostname). The credentials go in a config file
// read with -K, so they never appear on a command line.
func runCurl(t *testing.T, proxyAddr, user, password, url string) (string, error) {
	t.Helper()
	curl := testutil.RequireTool(t, "curl", "curl")
	config := filepath.Join(t.TempDir(), "curl.conf")
	proxyUser := fmt.Sprintf("proxy-user = %q\n", user+":"+password)
	if err := os.WriteFile(config, []byte(proxyUser), 0o600); err != nil {
		t.Fatalf("write curl config: %v", err)
	}
	// -q, which must come first, keeps curl from reading a ~/.curlrc.
	cmd := exec.CommandContext(t.Context(), curl, "-q", "--silent", "--show-error",
		"--max-time", "10", "--socks5-hostname", proxyAddr, "-K", config, url)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCurlThroughGate(t *testing.T) {
	ln := newChanListener()
	serveGatePage(t, ln)
	logs := &logRecorder{}
	ts := startServer(t, testConfig(logs), ln.handle)

	out, err := runCurl(t, ts.addr, testUser, testPassword, "http://garage.gate/")
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if want := "gate page for garage.gate\n"; out != want {
		t.Errorf("curl printed %q, want %q", out, want)
	}
	if reasons := logs.reasons(); len(reasons) != 0 {
		t.Errorf("rejections logged: %q", reasons)
	}
}

func TestCurlRejected(t *testing.T) {
	tests := []struct {
		name       string
		password   string
		url        string
		wantReason string
	}{
		{"wrong password", "guess", "http://garage.gate/", "authentication failed"},
		{"other host", testPassword, "http://other.gate/", "destination not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := newChanListener()
			serveGatePage(t, ln)
			logs := &logRecorder{}
			ts := startServer(t, testConfig(logs), ln.handle)

			out, err := runCurl(t, ts.addr, testUser, tt.password, tt.url)
			if err == nil {
				t.Fatalf("curl succeeded through a rejected handshake:\n%s", out)
			}
			if strings.Contains(out, "gate page") {
				t.Errorf("curl got the gate page: %q", out)
			}
			ts.stop()
			if reasons := logs.reasons(); len(reasons) != 1 || reasons[0] != tt.wantReason {
				t.Errorf("logged reasons %q, want [%q]", reasons, tt.wantReason)
			}
		})
	}
}
