package firewall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
	"golang.org/x/sys/unix"
)

// netns is a network namespace that a test created with `ip netns add`.
type netns struct {
	name string
	fd   int
}

// requireNetnsTools fails under CI=true, and skips elsewhere, unless the test
// runs as root with ip (iproute2) and nft (nftables) on PATH.
func requireNetnsTools(t testing.TB) {
	t.Helper()
	testutil.RequireRoot(t, "it creates network namespaces and loads nftables rules into them")
	testutil.RequireTool(t, "ip", "iproute2")
	testutil.RequireTool(t, "nft", "nftables")
}

// newNetns creates a network namespace named gctl-<random>-<role> with lo up,
// and deletes it when the test ends. Nothing outside it changes.
func newNetns(t testing.TB, role string) *netns {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("gctl-%s-%s", hex.EncodeToString(b[:]), role)

	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("delete network namespace %s: %v: %s", name, err, out)
		}
	})

	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatalf("open network namespace %s: %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	ns := &netns{name: name, fd: int(f.Fd())}
	ns.ip(t, "link", "set", "lo", "up")
	return ns
}

// host returns the Host that reads and changes this namespace's ruleset.
func (ns *netns) host() Host { return Host{NetNS: ns.fd} }

// ip runs `ip -n NAME ARGS…`.
func (ns *netns) ip(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"-n", ns.name}, args...)...)
}

// nft runs `ip netns exec NAME nft ARGS…` and returns its output.
func (ns *netns) nft(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns.name, "nft"}, args...)...)
}

// listTable returns `nft list table inet garagectl` in ns with counter values
// set to zero, or "" when the table does not exist.
func (ns *netns) listTable(t testing.TB) string {
	t.Helper()
	if !strings.Contains(ns.nft(t, "list", "tables"), "table inet "+TableName+"\n") {
		return ""
	}
	return zeroCounters(ns.nft(t, "list", "table", "inet", TableName))
}

var counterValues = regexp.MustCompile(`packets \d+ bytes \d+`)

func zeroCounters(s string) string {
	return counterValues.ReplaceAllString(s, "packets 0 bytes 0")
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// link connects host and client with a veth pair (host side hostIf, client
// side "eth0") and gives each end its addresses, IPv6 without duplicate
// address detection so that they work at once. Both ends are created inside
// the namespaces, never in the test process's own.
func link(t testing.TB, host, client *netns, hostIf string, hostAddrs, clientAddrs []string) {
	t.Helper()
	host.ip(t, "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", client.name)
	for _, a := range hostAddrs {
		host.ip(t, "addr", "add", a, "dev", hostIf, "nodad")
	}
	for _, a := range clientAddrs {
		client.ip(t, "addr", "add", a, "dev", "eth0", "nodad")
	}
	host.ip(t, "link", "set", hostIf, "up")
	client.ip(t, "link", "set", "eth0", "up")
}

// inNetns runs fn on a new OS thread that has joined ns. The thread stays
// locked and ends with fn, so no other goroutine ever runs in ns. Sockets that
// fn opens stay in ns after it returns.
func inNetns(ns *netns, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the runtime ends the thread with this goroutine.
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("join network namespace %s: %w", ns.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// listen opens TCP listeners in ns on each port of every address. Each
// accepted connection stays open until the client closes it or the test ends.
func listen(t testing.TB, ns *netns, ports ...int) {
	t.Helper()
	for _, port := range ports {
		var l net.Listener
		err := inNetns(ns, func() error {
			var err error
			l, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
			return err
		})
		if err != nil {
			t.Fatalf("listen on port %d in %s: %v", port, ns.name, err)
		}
		t.Cleanup(func() { l.Close() })
		go acceptAll(l)
	}
}

// acceptAll serves l until it is closed. It closes each connection after the
// client does, so that conntrack no longer counts it for ct count.
func acceptAll(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

// dialTimeout bounds every connection attempt: a dropped SYN fails after it.
const dialTimeout = 400 * time.Millisecond

// dial opens a TCP connection from ns to addr. The caller closes it.
func dial(ns *netns, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, dialTimeout)
		return err
	})
	return c, err
}

// reachable reports whether a TCP connection from ns to addr succeeds, and
// closes it.
func reachable(ns *netns, addr string) bool {
	c, err := dial(ns, addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
