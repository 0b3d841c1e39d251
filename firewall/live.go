package firewall

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// liveTable is table inet garagectl as the kernel lists it.
type liveTable struct {
	table    *nftables.Table
	counters []string
	sets     []*nftables.Set // named sets
	// elems holds the elements of every set that is not dynamic, by set name.
	elems  map[string][]nftables.SetElement
	chains []*nftables.Chain
	rules  map[string][]*nftables.Rule // by chain name
}

func tableExists(conn *nftables.Conn) (bool, error) {
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list inet tables: %w", err)
	}
	return slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == TableName }), nil
}

// readLive returns table inet garagectl, or nil when it does not exist.
func readLive(conn *nftables.Conn) (*liveTable, error) {
	exists, err := tableExists(conn)
	if err != nil || !exists {
		return nil, err
	}

	lt := &liveTable{
		table: &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet},
		elems: map[string][]nftables.SetElement{},
		rules: map[string][]*nftables.Rule{},
	}
	steps := []func(*nftables.Conn) error{lt.readCounters, lt.readSets, lt.readChains}
	for _, step := range steps {
		if err := step(conn); err != nil {
			return nil, fmt.Errorf("read table inet %s: %w", TableName, err)
		}
	}
	return lt, nil
}

func (lt *liveTable) readCounters(conn *nftables.Conn) error {
	objs, err := conn.GetNamedObjects(lt.table)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	for _, o := range objs {
		named, ok := o.(*nftables.NamedObj)
		if !ok || named.Type != nftables.ObjTypeCounter {
			// An object garagectl never creates: keep a name that matches no counter.
			lt.counters = append(lt.counters, fmt.Sprintf("%T", o))
			continue
		}
		lt.counters = append(lt.counters, named.Name)
	}
	return nil
}

func (lt *liveTable) readSets(conn *nftables.Conn) error {
	sets, err := conn.GetSets(lt.table)
	if err != nil {
		return fmt.Errorf("list sets: %w", err)
	}
	for _, s := range sets {
		if !s.Anonymous {
			lt.sets = append(lt.sets, s)
		}
		if s.Dynamic {
			continue
		}
		elems, err := conn.GetSetElements(s)
		if err != nil {
			return fmt.Errorf("list elements of set %s: %w", s.Name, err)
		}
		lt.elems[s.Name] = elems
	}
	return nil
}

func (lt *liveTable) readChains(conn *nftables.Conn) error {
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("list chains: %w", err)
	}
	for _, c := range chains {
		if c.Table == nil || c.Table.Name != TableName {
			continue
		}
		lt.chains = append(lt.chains, c)
		rules, err := conn.GetRules(lt.table, c)
		if err != nil {
			return fmt.Errorf("list rules of chain %s: %w", c.Name, err)
		}
		lt.rules[c.Name] = rules
	}
	return nil
}

// diff returns the first difference between the live table and want, or ""
// when they are equal. The contents of dynamic sets and counter values are
// state, not configuration, and do not count.
func (lt *liveTable) diff(want *ruleset) string {
	if !slices.Equal(lt.counters, want.counters) {
		return fmt.Sprintf("counters %v, want %v", lt.counters, want.counters)
	}
	if d := lt.diffSets(want); d != "" {
		return d
	}
	if d := lt.diffChains(want); d != "" {
		return d
	}
	return lt.diffRules(want)
}

func (lt *liveTable) diffSets(want *ruleset) string {
	if len(lt.sets) != len(want.sets) {
		return fmt.Sprintf("%d sets, want %d", len(lt.sets), len(want.sets))
	}
	for i, s := range lt.sets {
		w := want.sets[i]
		if got, wantKey := setKey(s), setKey(w.set); got != wantKey {
			return fmt.Sprintf("set %s, want %s", got, wantKey)
		}
		if s.Dynamic {
			continue
		}
		got, err := prefixesFromElements(lt.elems[s.Name])
		if err != nil || !slices.Equal(got, w.prefixes) {
			return fmt.Sprintf("set %s elements %v (%v), want %v", s.Name, got, err, w.prefixes)
		}
	}
	return ""
}

// setKey is the configuration of a set, without its handle, ID and elements.
func setKey(s *nftables.Set) string {
	return fmt.Sprintf("%s type %s/%d interval=%t dynamic=%t timeout=%t/%v size=%d "+
		"constant=%t anonymous=%t map=%t concat=%t counter=%t",
		s.Name, s.KeyType.Name, s.KeyType.Bytes, s.Interval, s.Dynamic, s.HasTimeout, s.Timeout,
		s.Size, s.Constant, s.Anonymous, s.IsMap, s.Concatenation, s.Counter)
}

func (lt *liveTable) diffChains(want *ruleset) string {
	var got, expected []string
	for _, c := range lt.chains {
		got = append(got, chainKey(c))
	}
	for _, c := range want.chains {
		expected = append(expected, chainKey(c))
	}
	if !slices.Equal(got, expected) {
		return fmt.Sprintf("chains %q, want %q", got, expected)
	}
	return ""
}

func chainKey(c *nftables.Chain) string {
	key := c.Name
	if c.Hooknum != nil {
		key += fmt.Sprintf(" type %s hook %d", c.Type, *c.Hooknum)
	}
	if c.Priority != nil {
		key += fmt.Sprintf(" priority %d", *c.Priority)
	}
	if c.Policy != nil {
		key += fmt.Sprintf(" policy %d", *c.Policy)
	}
	return key
}

func (lt *liveTable) diffRules(want *ruleset) string {
	wantByChain := map[string][]*ruleSpec{}
	for _, r := range want.rules {
		wantByChain[r.chain.Name] = append(wantByChain[r.chain.Name], r)
	}

	for _, c := range want.chains {
		live, expected := lt.rules[c.Name], wantByChain[c.Name]
		if len(live) != len(expected) {
			return fmt.Sprintf("chain %s has %d rules, want %d", c.Name, len(live), len(expected))
		}
		for i, r := range live {
			got := normalizeExprs(r.Exprs, lt.anonKeys)
			w := normalizeExprs(expected[i].exprs, expected[i].anonKeys)
			if len(r.UserData) > 0 || !reflect.DeepEqual(got, w) {
				return fmt.Sprintf("chain %s rule %d differs from %q", c.Name, i+1,
					expected[i].words)
			}
		}
	}
	return ""
}

// anonKeys returns the elements of the live anonymous set name, which the
// kernel named when it committed the set.
func (lt *liveTable) anonKeys(name string, _ uint32) string {
	return elementKeys(lt.elems[name])
}

// anonKeys returns the elements of the anonymous set with the given ID that
// the rule declares.
func (r *ruleSpec) anonKeys(_ string, id uint32) string {
	for _, s := range r.anon {
		if s.set.ID == id {
			return elementKeys(s.elems)
		}
	}
	return ""
}

func elementKeys(elems []nftables.SetElement) string {
	keys := make([][]byte, len(elems))
	for i, e := range elems {
		keys[i] = e.Key
	}
	slices.SortFunc(keys, bytes.Compare)
	return fmt.Sprintf("%x", keys)
}

// normalizeExprs copies exprs with what the kernel assigns left out: set IDs,
// which only refer to sets within one batch, and the names of anonymous sets,
// replaced by their elements.
//
// NOTE: google/nftables v0.3.0 drops expressions of kinds it cannot decode
// when it lists rules, so such an expression added to a rule by hand is not
// seen as a difference.
func normalizeExprs(exprs []expr.Any, anonKeys func(name string, id uint32) string) []expr.Any {
	out := make([]expr.Any, len(exprs))
	for i, e := range exprs {
		switch e := e.(type) {
		case *expr.Lookup:
			l := *e
			if isAnonymousName(l.SetName) {
				l.SetName = "anonymous " + anonKeys(l.SetName, l.SetID)
			}
			l.SetID = 0
			out[i] = &l
		case *expr.Dynset:
			d := *e
			d.SetID = 0
			d.Exprs = normalizeExprs(d.Exprs, anonKeys)
			out[i] = &d
		default:
			out[i] = e
		}
	}
	return out
}

func isAnonymousName(name string) bool {
	return len(name) > 5 && name[:5] == "__set"
}

// livePrefixes returns the prefixes in the live interval set name.
func (lt *liveTable) livePrefixes(name string) ([]netip.Prefix, error) {
	elems, ok := lt.elems[name]
	if !ok {
		return nil, fmt.Errorf("set %s not found", name)
	}
	return prefixesFromElements(elems)
}
