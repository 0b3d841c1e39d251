package firewall

import "testing"

// BenchmarkApply measures an Apply that replaces the table: it alternates
// between two option sets, so every iteration reads the live table, finds a
// difference and sends a full batch.
func BenchmarkApply(b *testing.B) {
	requireNetnsTools(b)
	h := newNetns(b, "bench").host()
	opts := []Options{showCases[0].opts, showCases[1].opts}

	for i := 0; b.Loop(); i++ {
		changed, err := h.Apply(b.Context(), opts[i%2])
		if err != nil {
			b.Fatalf("Apply: %v", err)
		}
		if !changed {
			b.Fatalf("Apply %d reported no change", i)
		}
	}
}

// BenchmarkApplyUnchanged measures an Apply that finds the table as expected
// and sends nothing.
func BenchmarkApplyUnchanged(b *testing.B) {
	requireNetnsTools(b)
	h := newNetns(b, "bench").host()
	opts := showCases[0].opts
	if _, err := h.Apply(b.Context(), opts); err != nil {
		b.Fatalf("Apply: %v", err)
	}

	for b.Loop() {
		changed, err := h.Apply(b.Context(), opts)
		if err != nil {
			b.Fatalf("Apply: %v", err)
		}
		if changed {
			b.Fatalf("Apply of unchanged options reported a change")
		}
	}
}
