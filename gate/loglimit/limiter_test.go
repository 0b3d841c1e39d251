package loglimit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func testLimiter() *Limiter[string] {
	return New[string](Config{Window: time.Second, PerKey: 2, Total: 5, MaxKeys: 3})
}

// sortSuppressed orders Sweep's result, which follows map order.
var sortSuppressed = cmpopts.SortSlices(func(a, b Suppressed[string]) bool {
	return a.Key < b.Key || a.Key == b.Key && !a.All && b.All
})

func TestLimiterPerKey(t *testing.T) {
	l := testLimiter()
	var got []bool
	for _, key := range []string{"a", "a", "a", "b", "a"} {
		got = append(got, l.Allow(key, t0))
	}
	if diff := cmp.Diff([]bool{true, true, false, true, false}, got); diff != "" {
		t.Errorf("Allow in one window (-want +got):\n%s", diff)
	}
	want := []Suppressed[string]{{Key: "a", Count: 2}}
	if diff := cmp.Diff(want, l.Sweep(t0), sortSuppressed); diff != "" {
		t.Errorf("Sweep (-want +got):\n%s", diff)
	}
	if got := l.Sweep(t0); len(got) != 0 {
		t.Errorf("second Sweep = %v, want nothing", got)
	}
	if !l.Allow("a", t0.Add(time.Second)) {
		t.Error("line not allowed in the next window")
	}
}

func TestLimiterTotal(t *testing.T) {
	l := New[string](Config{Window: time.Second, PerKey: 2, Total: 5, MaxKeys: 100})
	allowed := 0
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		if l.Allow(key, t0) {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("%d lines of 7 keys allowed, want the total of 5", allowed)
	}
	want := []Suppressed[string]{{All: true, Count: 2}}
	if diff := cmp.Diff(want, l.Sweep(t0), sortSuppressed); diff != "" {
		t.Errorf("Sweep (-want +got):\n%s", diff)
	}
}

func TestLimiterSweepDeletesEndedWindows(t *testing.T) {
	l := testLimiter()
	l.Allow("a", t0)
	l.Allow("b", t0.Add(500*time.Millisecond))
	l.Sweep(t0.Add(time.Second))
	if _, ok := l.keys["a"]; ok {
		t.Error("key whose window ended kept after Sweep")
	}
	if _, ok := l.keys["b"]; !ok {
		t.Error("key whose window is open deleted by Sweep")
	}
}

func TestLimiterEvictsWhenFull(t *testing.T) {
	l := New[string](Config{Window: time.Second, PerKey: 2, Total: 100, MaxKeys: 3})
	for i, key := range []string{"a", "b", "c"} {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		for range 3 {
			l.Allow(key, now)
		}
	}
	l.Allow("d", t0.Add(10*time.Millisecond))
	if len(l.keys) != 3 {
		t.Errorf("table holds %d keys, want 3", len(l.keys))
	}
	if _, ok := l.keys["a"]; ok {
		t.Error("key whose window started first kept")
	}
	// The evicted key's suppressed line moves to the total.
	want := []Suppressed[string]{{Key: "b", Count: 1}, {Key: "c", Count: 1}, {All: true, Count: 1}}
	if diff := cmp.Diff(want, l.Sweep(t0), sortSuppressed); diff != "" {
		t.Errorf("Sweep (-want +got):\n%s", diff)
	}
}
