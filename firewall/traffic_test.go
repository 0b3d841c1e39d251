package firewall

import (
	"net"
	"strings"
	"testing"
	"time"
)

// hub is a test topology of three network namespaces. host runs the rules and
// listeners on 22, 8883 and 1080. allowed has addresses in 192.168.1.0/24 and
// fd00:1::/64, the prefixes that hubOptions admits to the broker and gate.
// other has addresses in 10.99.0.0/24 and fd00:2::/64, which it does not admit.
type hub struct {
	host, allowed, other *netns
}

// Addresses of the hub topology.
const (
	hostV4      = "192.168.1.1"
	hostV6      = "fd00:1::1"
	allowedV4   = "192.168.1.2"
	otherHostV4 = "10.99.0.1"
	otherHostV6 = "fd00:2::1"
)

func newHub(t *testing.T) *hub {
	t.Helper()
	requireNetnsTools(t)
	h := &hub{host: newNetns(t, "host"), allowed: newNetns(t, "ok"), other: newNetns(t, "no")}
	link(t, h.host, h.allowed, "va",
		[]string{hostV4 + "/24", hostV6 + "/64"}, []string{allowedV4 + "/24", "fd00:1::2/64"})
	link(t, h.host, h.other, "vb",
		[]string{otherHostV4 + "/24", otherHostV6 + "/64"}, []string{"10.99.0.2/24", "fd00:2::2/64"})
	listen(t, h.host, 22, 8883, 1080)
	return h
}

func hubOptions() Options {
	lan := prefixes("192.168.1.0/24", "fd00:1::/64")
	return Options{SSHPort: 22, BrokerPort: 8883, GatePort: 1080, MQTTFrom: lan, GateFrom: lan}
}

func addr(host string, port string) string { return net.JoinHostPort(host, port) }

func TestTrafficBySource(t *testing.T) {
	h := newHub(t)
	apply(t, h.host, hubOptions())

	tests := []struct {
		name   string
		from   *netns
		target string
		want   bool
	}{
		{"allowed to broker", h.allowed, addr(hostV4, "8883"), true},
		{"allowed to broker over IPv6", h.allowed, addr(hostV6, "8883"), true},
		{"allowed to gate", h.allowed, addr(hostV4, "1080"), true},
		{"allowed to gate over IPv6", h.allowed, addr(hostV6, "1080"), true},
		{"allowed to SSH", h.allowed, addr(hostV4, "22"), true},
		{"other to SSH", h.other, addr(otherHostV4, "22"), true},
		{"other to SSH over IPv6", h.other, addr(otherHostV6, "22"), true},
		{"other to broker", h.other, addr(otherHostV4, "8883"), false},
		{"other to broker over IPv6", h.other, addr(otherHostV6, "8883"), false},
		{"other to gate", h.other, addr(otherHostV4, "1080"), false},
		{"other to gate over IPv6", h.other, addr(otherHostV6, "1080"), false},
		{"other to unlisted port", h.other, addr(otherHostV4, "9"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reachable(tt.from, tt.target); got != tt.want {
				t.Errorf("connect from %s to %s: reachable = %t, want %t",
					tt.from.name, tt.target, got, tt.want)
			}
		})
	}

	counters := readCounters(t, h.host)
	for _, name := range []string{"broker_denied", "gate_denied", "default_drop"} {
		if counters[name] == 0 {
			t.Errorf("counter %s = 0 after dropped connections, want > 0", name)
		}
	}
}

func TestTrafficEmptyFromAdmitsNobody(t *testing.T) {
	h := newHub(t)
	opts := hubOptions()
	opts.MQTTFrom = nil
	apply(t, h.host, opts)

	if reachable(h.allowed, addr(hostV4, "8883")) {
		t.Errorf("broker reachable with an empty MQTTFrom")
	}
	if !reachable(h.allowed, addr(hostV4, "1080")) {
		t.Errorf("gate not reachable from a source in GateFrom")
	}
}

func TestTrafficFloodBlocksSource(t *testing.T) {
	h := newHub(t)
	const rate = 3
	opts := hubOptions()
	opts.Broker = Limits{Rate: rate, Per: time.Second, Concurrent: 50}
	opts.BlockTimeout = 2 * time.Second
	apply(t, h.host, opts)
	broker := addr(hostV4, "8883")

	// The meter lets a burst of rate connections through; the token bucket
	// refills one every 1/3 s, far slower than these connections.
	for i := range rate {
		if !reachable(h.allowed, broker) {
			t.Fatalf("connection %d of %d was dropped", i+1, rate)
		}
	}
	blockedAt := time.Now()
	if reachable(h.allowed, broker) {
		t.Fatalf("connection %d, over the rate, got through", rate+1)
	}
	if !blockedSet(t, h.host, "broker_blocked_v4", allowedV4) {
		t.Fatalf("%s is not in broker_blocked_v4 after the flood", allowedV4)
	}
	if reachable(h.allowed, broker) {
		t.Errorf("blocked source connected before the block expired")
	}
	if !reachable(h.allowed, addr(hostV4, "1080")) {
		t.Errorf("source blocked on the broker port cannot reach the gate")
	}

	waitUnblocked(t, h.host, "broker_blocked_v4", allowedV4, blockedAt.Add(5*time.Second))
	if elapsed := time.Since(blockedAt); elapsed < opts.BlockTimeout-200*time.Millisecond {
		t.Errorf("block expired after %v, want about %v", elapsed, opts.BlockTimeout)
	}
	if !reachable(h.allowed, broker) {
		t.Errorf("source cannot connect after its block expired")
	}

	counters := readCounters(t, h.host)
	for _, name := range []string{"broker_flood", "broker_blocked"} {
		if counters[name] == 0 {
			t.Errorf("counter %s = 0 after the flood, want > 0", name)
		}
	}
}

func TestTrafficConcurrentPerSource(t *testing.T) {
	h := newHub(t)
	opts := hubOptions()
	opts.Gate = Limits{Rate: 100, Per: time.Second, Concurrent: 2}
	apply(t, h.host, opts)
	gate := addr(hostV4, "1080")

	open := holdConns(t, h.allowed, gate, 2)
	if reachable(h.allowed, gate) {
		t.Fatalf("third concurrent connection from one source got through")
	}
	// The limit is per source address, so IPv6 from the same host still connects.
	if !reachable(h.allowed, addr(hostV6, "1080")) {
		t.Errorf("IPv6 connection counted against the IPv4 source's limit")
	}

	open[0].Close()
	if !eventually(2*time.Second, func() bool { return reachable(h.allowed, gate) }) {
		t.Errorf("no new connection after one of the open ones was closed")
	}
	if readCounters(t, h.host)["gate_concurrent"] == 0 {
		t.Errorf("counter gate_concurrent = 0, want > 0")
	}
}

func TestTrafficMaxConnections(t *testing.T) {
	h := newHub(t)
	opts := hubOptions()
	opts.MaxConnections = 2
	apply(t, h.host, opts)

	// One connection per family: the cap counts all sources together.
	holdConns(t, h.allowed, addr(hostV4, "8883"), 1)
	holdConns(t, h.allowed, addr(hostV6, "8883"), 1)
	if reachable(h.allowed, addr(hostV4, "8883")) {
		t.Errorf("connection beyond MaxConnections got through")
	}
	if readCounters(t, h.host)["broker_max"] == 0 {
		t.Errorf("counter broker_max = 0, want > 0")
	}
}

// holdConns opens n connections from ns to target and closes them when the
// test ends.
func holdConns(t *testing.T, ns *netns, target string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for i := range n {
		c, err := dial(ns, target)
		if err != nil {
			t.Fatalf("connection %d of %d to %s: %v", i+1, n, target, err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	return conns
}

// blockedSet reports whether `nft list set` shows addr in the set.
func blockedSet(t *testing.T, ns *netns, set, addr string) bool {
	t.Helper()
	out := ns.nft(t, "list", "set", "inet", TableName, set)
	return strings.Contains(out, addr+" ") || strings.Contains(out, addr+",")
}

// waitUnblocked polls the set until addr is gone, and fails at deadline.
func waitUnblocked(t *testing.T, ns *netns, set, addr string, deadline time.Time) {
	t.Helper()
	if !eventually(time.Until(deadline), func() bool { return !blockedSet(t, ns, set, addr) }) {
		t.Fatalf("%s still in %s at the deadline", addr, set)
	}
}

// eventually polls cond every 50 ms until it holds or limit has passed.
func eventually(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readCounters(t *testing.T, ns *netns) map[string]uint64 {
	t.Helper()
	counters, err := ns.host().Counters(t.Context())
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	packets := map[string]uint64{}
	for _, c := range counters {
		packets[c.Name] = c.Packets
	}
	return packets
}
