package socks

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a time source that tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestTracker(cfg Config) (*tracker, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg, err := withDefaults(cfg)
	if err != nil {
		panic(err)
	}
	return newTracker(cfg, clock.now), clock
}

var sourceA = netip.MustParsePrefix("192.0.2.1/32")

func TestSourceKey(t *testing.T) {
	tests := []struct {
		name string
		addr netip.Addr
		want netip.Prefix
	}{
		{"ipv4", netip.MustParseAddr("192.0.2.7"), netip.MustParsePrefix("192.0.2.7/32")},
		{"ipv4-mapped", netip.MustParseAddr("::ffff:192.0.2.7"), netip.MustParsePrefix("192.0.2.7/32")},
		{"ipv6 keeps /64", netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), netip.MustParsePrefix("2001:db8:1:2::/64")},
		{"ipv6 zone dropped", netip.MustParseAddr("fe80::1%eth0"), netip.MustParsePrefix("fe80::/64")},
		{"invalid", netip.Addr{}, netip.Prefix{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sourceKey(tt.addr); got != tt.want {
				t.Errorf("sourceKey(%v) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestTrackerLockoutDoubles(t *testing.T) {
	tr, clock := newTestTracker(Config{
		Allow: gateRule(gateAddr), Authenticate: testAuthenticate,
		LockoutFailures: 3, LockoutBase: time.Minute, LockoutMax: 5 * time.Minute,
	})
	var got []time.Duration
	for range 4 {
		// Three failures lock the source out, and the loop waits until the lockout ends.
		tr.recordFailure(sourceA)
		tr.recordFailure(sourceA)
		d := tr.recordFailure(sourceA)
		got = append(got, d)
		if !tr.lockedOut(sourceA) {
			t.Fatalf("not locked out after lockout %d", len(got))
		}
		clock.advance(d - time.Second)
		if !tr.lockedOut(sourceA) {
			t.Fatalf("lockout %d ended a second early", len(got))
		}
		clock.advance(time.Second)
		if tr.lockedOut(sourceA) {
			t.Fatalf("still locked out when lockout %d ended", len(got))
		}
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lockout durations (-want +got):\n%s", diff)
	}
}

func TestTrackerFailuresExpire(t *testing.T) {
	tr, clock := newTestTracker(Config{
		Allow: gateRule(gateAddr), Authenticate: testAuthenticate,
		LockoutFailures: 3, LockoutBase: time.Minute, LockoutMax: 10 * time.Minute,
	})
	tr.recordFailure(sourceA)
	tr.recordFailure(sourceA)
	clock.advance(10 * time.Minute)
	if d := tr.recordFailure(sourceA); d != 0 {
		t.Errorf("third failure after LockoutMax locked out for %v; want the count reset", d)
	}

	// The lockout count resets too, so the next lockout lasts LockoutBase again.
	tr.recordFailure(sourceA)
	if d := tr.recordFailure(sourceA); d != time.Minute {
		t.Fatalf("first lockout lasts %v, want 1m", d)
	}
	clock.advance(time.Minute + 10*time.Minute)
	for range 2 {
		tr.recordFailure(sourceA)
	}
	if d := tr.recordFailure(sourceA); d != time.Minute {
		t.Errorf("lockout after a quiet LockoutMax lasts %v, want 1m", d)
	}
}

func TestTrackerSuccessClearsFailures(t *testing.T) {
	tr, _ := newTestTracker(Config{
		Allow: gateRule(gateAddr), Authenticate: testAuthenticate, LockoutFailures: 2,
	})
	tr.recordFailure(sourceA)
	tr.recordSuccess(sourceA)
	if d := tr.recordFailure(sourceA); d != 0 {
		t.Errorf("failure after a success locked out for %v, want no lockout", d)
	}
}

func TestTrackerCaps(t *testing.T) {
	tr, _ := newTestTracker(Config{
		Allow: gateRule(gateAddr), Authenticate: testAuthenticate,
		MaxConns: 3, MaxConnsPerSource: 2,
	})
	sourceB := netip.MustParsePrefix("192.0.2.2/32")
	steps := []struct {
		key  netip.Prefix
		want error
	}{
		{sourceA, nil},
		{sourceA, nil},
		{sourceA, rejectSourceCap},
		{sourceB, nil},
		{sourceB, rejectTotalCap},
	}
	for i, step := range steps {
		if err := tr.admit(step.key); !errors.Is(err, step.want) {
			t.Errorf("admit %d from %v: %v, want %v", i, step.key, err, step.want)
		}
	}
	tr.release(sourceA)
	if err := tr.admit(sourceB); err != nil {
		t.Errorf("admit after a release: %v", err)
	}
}

func TestTrackerLogLimit(t *testing.T) {
	tr, clock := newTestTracker(Config{Allow: gateRule(gateAddr), Authenticate: testAuthenticate})
	allowed := 0
	for range 10 {
		if tr.logAllowed(sourceA) {
			allowed++
		}
	}
	if allowed != logBurstPerSource {
		t.Errorf("%d of 10 lines allowed in one window, want %d", allowed, logBurstPerSource)
	}
	want := []suppressedLines{{source: sourceA, count: 10 - logBurstPerSource}}
	if diff := cmp.Diff(want, tr.sweep(), cmp.AllowUnexported(suppressedLines{}),
		equateNetip, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("suppressed lines (-want +got):\n%s", diff)
	}

	clock.advance(logWindow)
	if !tr.logAllowed(sourceA) {
		t.Error("line not allowed in the next window")
	}
}

func TestTrackerLogLimitTotal(t *testing.T) {
	tr, _ := newTestTracker(Config{Allow: gateRule(gateAddr), Authenticate: testAuthenticate})
	allowed := 0
	for i := range 100 {
		key := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)
		if tr.logAllowed(key) {
			allowed++
		}
	}
	if allowed != logBurstTotal {
		t.Errorf("%d lines from 100 sources allowed in one window, want %d", allowed, logBurstTotal)
	}
}

func TestTrackerSweepDeletesIdleSources(t *testing.T) {
	tr, clock := newTestTracker(Config{
		Allow: gateRule(gateAddr), Authenticate: testAuthenticate,
		LockoutFailures: 1, LockoutBase: time.Minute, LockoutMax: time.Hour,
	})
	sourceB := netip.MustParsePrefix("192.0.2.2/32")
	tr.admit(sourceA)
	tr.release(sourceA)
	tr.recordFailure(sourceB)

	clock.advance(logWindow)
	tr.sweep()
	if _, ok := tr.sources[sourceA]; ok {
		t.Error("idle source kept after sweep")
	}
	if _, ok := tr.sources[sourceB]; !ok {
		t.Error("locked-out source deleted by sweep")
	}

	clock.advance(time.Minute + time.Hour)
	tr.sweep()
	if _, ok := tr.sources[sourceB]; ok {
		t.Error("source kept after its lockout and failures expired")
	}
}

func TestTrackerEvictsWhenFull(t *testing.T) {
	tr, clock := newTestTracker(Config{Allow: gateRule(gateAddr), Authenticate: testAuthenticate})
	busy := netip.MustParsePrefix("198.51.100.1/32")
	if err := tr.admit(busy); err != nil {
		t.Fatalf("admit: %v", err)
	}
	for i := range maxSources - 1 {
		clock.advance(time.Millisecond)
		key := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		tr.recordFailure(key)
	}
	newcomer := netip.MustParsePrefix("203.0.113.1/32")
	if err := tr.admit(newcomer); err != nil {
		t.Fatalf("admit to a full table: %v", err)
	}
	if len(tr.sources) != maxSources {
		t.Errorf("table holds %d sources, want %d", len(tr.sources), maxSources)
	}
	if _, ok := tr.sources[busy]; !ok {
		t.Error("source with an open connection evicted")
	}
	if _, ok := tr.sources[netip.MustParsePrefix("10.0.0.0/32")]; ok {
		t.Error("idle source seen least recently kept")
	}
}

func TestTrackerChecksReserveFailures(t *testing.T) {
	tr, _ := newTestTracker(Config{
		Allow: gateRule(gateAddr), Authenticate: testAuthenticate, LockoutFailures: 3,
	})
	for i := range 3 {
		if err := tr.beginCheck(sourceA); err != nil {
			t.Fatalf("check %d: %v, want reserved", i, err)
		}
	}
	if err := tr.beginCheck(sourceA); !errors.Is(err, rejectChecksBusy) {
		t.Errorf("fourth check while three are in progress: %v, want %v", err, rejectChecksBusy)
	}

	// A success frees its reservation and clears the failures.
	if d := tr.endCheck(sourceA, true); d != 0 {
		t.Errorf("success locked out for %v", d)
	}
	if err := tr.beginCheck(sourceA); err != nil {
		t.Fatalf("check after a success: %v, want reserved", err)
	}

	var lockouts []time.Duration
	for range 3 {
		lockouts = append(lockouts, tr.endCheck(sourceA, false))
	}
	if diff := cmp.Diff([]time.Duration{0, 0, time.Minute}, lockouts); diff != "" {
		t.Errorf("lockouts after three failures (-want +got):\n%s", diff)
	}
	if err := tr.beginCheck(sourceA); !errors.Is(err, rejectLockedOut) {
		t.Errorf("check while locked out: %v, want %v", err, rejectLockedOut)
	}
}
