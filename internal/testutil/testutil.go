// Package testutil holds helpers shared by tests that drive real programs:
// finding a tool on PATH, picking a free loopback port and waiting for a listener.
package testutil

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireTool returns the path of the named program. When it is missing the
// test fails under CI=true, so a CI run never passes without it, and skips
// elsewhere with the Debian package to install.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on PATH: install the Debian package %s", name, debianPackage)
	}
	t.Skipf("%s not found on PATH: install the Debian package %s to run this test", name, debianPackage)
	return ""
}

// RequireRoot fails under CI=true and skips elsewhere unless the test runs as root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs root: %s", why)
	}
	t.Skipf("this test needs root: %s", why)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on a free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitListening polls addr until a TCP connection succeeds or ctx ends.
func WaitListening(ctx context.Context, t testing.TB, addr string) {
	t.Helper()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("nothing listens on %s: %v", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
