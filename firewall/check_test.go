package firewall

import (
	"errors"
	"testing"
)

func TestDiffReportsMissingAndChangedTable(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	h := ns.host()
	opts := showCases[0].opts

	if _, err := h.Diff(t.Context(), opts); !errors.Is(err, ErrNoTable) {
		t.Fatalf("Diff with no table: err = %v, want ErrNoTable", err)
	}

	apply(t, ns, opts)
	diff, err := h.Diff(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff != "" {
		t.Errorf("Diff right after Apply = %q, want no difference", diff)
	}

	other := opts
	other.GatePort = opts.GatePort + 1
	diff, err = h.Diff(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	if diff == "" {
		t.Error("Diff found no difference for another gate port")
	}
}
