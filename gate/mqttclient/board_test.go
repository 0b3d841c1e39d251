package mqttclient

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBoardRecord(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)

	b := newBoard([]string{"relay1"})
	b.record("garage/relay1/state", []byte("v1 idle 0 boot"), t0)
	b.record("garage/relay1/avail", []byte("online"), t0)
	// A retained value sent again after a reconnect keeps its first time.
	b.record("garage/relay1/state", []byte("v1 idle 0 boot"), t1)
	b.record("garage/relay1/avail", []byte("offline"), t2)
	// Reports for other devices, other topics and oversized ones are ignored.
	b.record("garage/relay2/state", []byte("v1 idle 0 boot"), t2)
	b.record("garage/relay1/cmd", []byte("v1 relay1 pulse 1 1 00"), t2)
	b.record("garage/relay1/state", []byte(strings.Repeat("x", maxReportSize+1)), t2)

	got, ok := b.get("relay1")
	if !ok {
		t.Fatal("get(relay1) = false")
	}
	want := DeviceStatus{
		State: Report{Value: "v1 idle 0 boot", Since: t0},
		Avail: Report{Value: "offline", Since: t2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status mismatch (-want +got):\n%s", diff)
	}
	if _, ok := b.get("relay2"); ok {
		t.Error("get(relay2) = true for a device the board does not follow")
	}
}

func TestLastSeq(t *testing.T) {
	c := New(Config{Address: "127.0.0.1:1", ClientID: "test", Devices: []string{"relay1", "relay2", "relay3"}})
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c.board.record("garage/relay1/state", []byte("v1 idle 41 replay"), now)
	c.board.record("garage/relay2/state", []byte("v1 idle forty ok"), now)
	tests := []struct {
		device string
		seq    uint64
		ok     bool
	}{
		{"relay1", 41, true},
		{"relay2", 0, false}, // unreadable report
		{"relay3", 0, false}, // no report yet
		{"relay9", 0, false}, // not followed
	}
	for _, tt := range tests {
		t.Run(tt.device, func(t *testing.T) {
			seq, ok := c.LastSeq(tt.device)
			if diff := cmp.Diff([]any{tt.seq, tt.ok}, []any{seq, ok}); diff != "" {
				t.Errorf("LastSeq mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitTopic(t *testing.T) {
	tests := []struct {
		topic, device, kind string
		ok                  bool
	}{
		{"garage/relay1/state", "relay1", "state", true},
		{"garage/relay1/avail", "relay1", "avail", true},
		{"garage/relay1/cmd", "", "", false},
		{"garage/relay1/state/x", "", "", false},
		{"other/relay1/state", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			device, kind, ok := splitTopic(tt.topic)
			got := []any{device, kind, ok}
			if diff := cmp.Diff([]any{tt.device, tt.kind, tt.ok}, got); diff != "" {
				t.Errorf("splitTopic mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Publish must fail at once, and send nothing later, while the client has no
// open connection.
func TestPublishNotConnected(t *testing.T) {
	c := New(Config{Address: "127.0.0.1:1", ClientID: "test", Devices: []string{"relay1"}})
	start := time.Now()
	err := c.Publish(t.Context(), Topic("relay1", "cmd"), []byte("x"))
	if !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish error = %v, want ErrNotConnected", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("Publish took %s, want an immediate failure", took)
	}
}

func TestDiscardStoreKeepsNothing(t *testing.T) {
	var s discardStore
	s.Open()
	s.Put("o.1", nil)
	if keys := s.All(); len(keys) != 0 {
		t.Errorf("All() = %v, want nothing", keys)
	}
	if p := s.Get("o.1"); p != nil {
		t.Errorf("Get(o.1) = %v, want nil", p)
	}
}
