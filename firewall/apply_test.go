package firewall

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// apply applies opts to ns and fails the test on an error.
func apply(t *testing.T, ns *netns, opts Options) bool {
	t.Helper()
	changed, err := ns.host().Apply(t.Context(), opts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return changed
}

func TestShowMatchesNft(t *testing.T) {
	requireNetnsTools(t)
	for _, tc := range showCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNetns(t, "h")
			apply(t, ns, tc.opts)

			want, err := Show(tc.opts)
			if err != nil {
				t.Fatalf("Show: %v", err)
			}
			if diff := cmp.Diff(want, ns.listTable(t)); diff != "" {
				t.Errorf("Show differs from nft list table (-Show +nft):\n%s", diff)
			}
		})
	}
}

func TestApplyUnchangedSendsNoBatch(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	opts := showCases[0].opts
	if !apply(t, ns, opts) {
		t.Fatalf("first Apply reported no change")
	}
	before := ns.nft(t, "--handle", "list", "table", "inet", TableName)

	batches := 0
	h := ns.host()
	h.beforeFlush = func(*nftables.Conn) { batches++ }
	changed, err := h.Apply(t.Context(), opts)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if changed {
		t.Errorf("second Apply reported a change")
	}
	if batches != 0 {
		t.Errorf("second Apply sent %d batches, want 0", batches)
	}
	if diff := cmp.Diff(before, ns.nft(t, "--handle", "list", "table", "inet", TableName)); diff != "" {
		t.Errorf("table changed by the second Apply (-before +after):\n%s", diff)
	}
}

func TestApplyReplacesChangedTable(t *testing.T) {
	requireNetnsTools(t)
	tests := []struct {
		name string
		edit []string // nft arguments that change the table after the first Apply
	}{
		{"element added", []string{"add element inet garagectl broker_allow_v4 { 203.0.113.7 }"}},
		{"rule added", []string{"add rule inet garagectl gate accept"}},
		{"rule inserted", []string{"insert rule inet garagectl input tcp dport 3306 accept"}},
		{"counter added", []string{"add counter inet garagectl extra"}},
		{"set added", []string{"add set inet garagectl extra { type ipv4_addr; }"}},
		{"chain added", []string{"add chain inet garagectl extra"}},
		{"policy changed", []string{"add chain inet garagectl input { type filter hook input priority filter; policy accept; }"}},
		{"table removed", []string{"delete table inet garagectl"}},
	}
	opts := showCases[0].opts
	want, err := Show(opts)
	if err != nil {
		t.Fatalf("Show: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNetns(t, "h")
			apply(t, ns, opts)
			for _, cmd := range tt.edit {
				ns.nft(t, cmd)
			}

			if !apply(t, ns, opts) {
				t.Errorf("Apply after %q reported no change", tt.edit)
			}
			if diff := cmp.Diff(want, ns.listTable(t)); diff != "" {
				t.Errorf("table after Apply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyKeepsOtherTables(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	ns.nft(t, "add table inet other")
	ns.nft(t, "add chain inet other input { type filter hook input priority 10; policy accept; }")
	ns.nft(t, "add rule inet other input tcp dport 9999 counter accept")
	ns.nft(t, "add table ip garagectl")
	before := ns.nft(t, "--handle", "list", "ruleset")

	apply(t, ns, showCases[0].opts)
	apply(t, ns, showCases[1].opts)
	if err := ns.host().Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}

	// No packet entered the namespace, so even the counter is unchanged.
	if diff := cmp.Diff(before, ns.nft(t, "--handle", "list", "ruleset")); diff != "" {
		t.Errorf("ruleset after Apply, Apply, Remove (-before +after):\n%s", diff)
	}
}

func TestApplyFailedBatchKeepsTable(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	apply(t, ns, showCases[0].opts)
	before := ns.nft(t, "--handle", "list", "ruleset")

	h := ns.host()
	h.beforeFlush = func(c *nftables.Conn) {
		// A jump to a chain that does not exist makes the kernel reject the batch.
		c.AddRule(&nftables.Rule{
			Table: &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet},
			Chain: &nftables.Chain{Name: "input"},
			Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: "missing"}},
		})
	}
	if _, err := h.Apply(t.Context(), showCases[1].opts); err == nil {
		t.Fatalf("Apply with a faulty rule in the batch succeeded")
	}

	if diff := cmp.Diff(before, ns.nft(t, "--handle", "list", "ruleset")); diff != "" {
		t.Errorf("ruleset after the rejected batch (-before +after):\n%s", diff)
	}
}

func TestApplyRejectsInvalidOptions(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	_, err := ns.host().Apply(t.Context(), Options{SSHFrom: prefixes("10.0.0.1/8")})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Apply error = %v, want ErrInvalidOptions", err)
	}
	if got := ns.listTable(t); got != "" {
		t.Errorf("Apply with invalid options created a table:\n%s", got)
	}
}

func TestRemove(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	if err := ns.host().Remove(t.Context()); err != nil {
		t.Fatalf("Remove without a table: %v", err)
	}

	apply(t, ns, showCases[0].opts)
	if err := ns.host().Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if got := ns.listTable(t); got != "" {
		t.Errorf("table left after Remove:\n%s", got)
	}
}

func TestCountersWithoutTable(t *testing.T) {
	requireNetnsTools(t)
	ns := newNetns(t, "h")
	if _, err := ns.host().Counters(t.Context()); !errors.Is(err, ErrNoTable) {
		t.Errorf("Counters error = %v, want ErrNoTable", err)
	}
}
