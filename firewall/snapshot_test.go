package firewall

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSnapshotRestore(t *testing.T) {
	requireNetnsTools(t)
	for i, tc := range showCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNetns(t, "h")
			h := ns.host()
			apply(t, ns, tc.opts)
			before := ns.listTable(t)

			snap, err := h.Snapshot(t.Context())
			if err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
			snap = roundTrip(t, snap)
			want, err := tc.opts.normalize()
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			if diff := cmp.Diff(want, snap.Options, comparePrefix); diff != "" {
				t.Errorf("Snapshot options (-applied +recorded):\n%s", diff)
			}

			apply(t, ns, showCases[(i+1)%len(showCases)].opts)
			if err := h.Restore(t.Context(), snap); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if diff := cmp.Diff(before, ns.listTable(t)); diff != "" {
				t.Errorf("table after Restore (-snapshot +restored):\n%s", diff)
			}
		})
	}
}

func TestSnapshotRestoreNone(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	h := ns.host()
	snap, err := h.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	snap = roundTrip(t, snap)
	if snap.Exists {
		t.Fatalf("Snapshot of a namespace without the table: Exists = true")
	}

	apply(t, ns, showCases[0].opts)
	if err := h.Restore(t.Context(), snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := ns.listTable(t); got != "" {
		t.Errorf("Restore of no table left:\n%s", got)
	}
}

func TestSnapshotRejectsForeignTable(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	apply(t, ns, showCases[0].opts)
	ns.nft(t, "add rule inet garagectl input tcp dport 3306 accept")

	_, err := ns.host().Snapshot(t.Context())
	if !errors.Is(err, ErrForeignTable) {
		t.Errorf("Snapshot error = %v, want ErrForeignTable", err)
	}
}

func TestSnapshotCheckVersion(t *testing.T) {
	if err := (TableSnapshot{Version: snapshotVersion}).checkVersion(); err != nil {
		t.Errorf("checkVersion of the current version: %v", err)
	}
	if err := (TableSnapshot{Version: 99}).checkVersion(); err == nil {
		t.Errorf("checkVersion of version 99 succeeded")
	}
}

// roundTrip returns s after writing it to JSON and reading it back, as the
// command line does with its file under /run.
func roundTrip(t *testing.T, s TableSnapshot) TableSnapshot {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("marshal snapshot: %v", err)
	}
	var back TableSnapshot
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("unmarshal snapshot: %v", err)
	}
	if diff := cmp.Diff(s, back, comparePrefix); diff != "" {
		t.Errorf("snapshot after JSON round trip (-want +got):\n%s", diff)
	}
	return back
}
