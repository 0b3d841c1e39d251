package firewall

import (
	"context"
	"errors"
	"fmt"

	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// snapshotVersion is the format of TableSnapshot that Restore accepts.
const snapshotVersion = 1

// ErrForeignTable reports that table inet garagectl is not a table Apply
// writes, for example because it was changed with nft since. Snapshot cannot
// record such a table.
var ErrForeignTable = errors.New("table inet garagectl was not written by garagectl or was changed since")

// ErrNoTable reports that there is no table inet garagectl.
var ErrNoTable = errors.New("table inet garagectl does not exist")

// TableSnapshot records table inet garagectl at one moment so that Restore can put
// it back, for example when a confirm window expires. It marshals to JSON for
// a file under /run.
//
// A TableSnapshot stores the normalized Options that produce the table rather than
// the table itself: the ruleset is a function of the options, and Snapshot
// only returns after checking that the live table equals the one the options
// produce. Restore therefore recreates the same table, whatever defaults a
// later garagectl has. Only state starts afresh: counter values and the
// entries of the dynamic sets (blocked sources, meters, connection counts).
type TableSnapshot struct {
	Version int `json:"version"`
	// Exists is false when there was no table; Restore then removes it.
	Exists bool `json:"exists"`
	// Options produce the table when Exists is true.
	Options Options `json:"options"`
}

// Snapshot records table inet garagectl in the current network namespace.
// See [Host.Snapshot].
func Snapshot(ctx context.Context) (TableSnapshot, error) {
	return Host{}.Snapshot(ctx)
}

// Restore puts back a table recorded by Snapshot in the current network
// namespace. See [Host.Restore].
func Restore(ctx context.Context, s TableSnapshot) error {
	return Host{}.Restore(ctx, s)
}

// Snapshot records table inet garagectl, or its absence. It returns an error
// wrapping ErrForeignTable when the table is not one that Apply writes.
func (h Host) Snapshot(ctx context.Context) (TableSnapshot, error) {
	if err := ctx.Err(); err != nil {
		return TableSnapshot{}, fmt.Errorf("take snapshot: %w", err)
	}
	conn, err := h.dial()
	if err != nil {
		return TableSnapshot{}, err
	}
	defer conn.CloseLasting()

	live, err := readLive(conn)
	if err != nil {
		return TableSnapshot{}, err
	}
	if live == nil {
		return TableSnapshot{Version: snapshotVersion}, nil
	}

	o, err := live.options()
	if err != nil {
		return TableSnapshot{}, fmt.Errorf("take snapshot: %w: %v", ErrForeignTable, err)
	}
	if d := live.diff(build(o)); d != "" {
		return TableSnapshot{}, fmt.Errorf("take snapshot: %w: %s", ErrForeignTable, d)
	}
	return TableSnapshot{Version: snapshotVersion, Exists: true, Options: o}, nil
}

// Restore makes table inet garagectl what it was when s was taken: it applies
// s.Options, or removes the table when there was none. Like Apply it sends
// nothing when the table already matches.
func (h Host) Restore(ctx context.Context, s TableSnapshot) error {
	if err := s.checkVersion(); err != nil {
		return err
	}
	if !s.Exists {
		return h.Remove(ctx)
	}
	_, err := h.Apply(ctx, s.Options)
	return err
}

func (s TableSnapshot) checkVersion() error {
	if s.Version != snapshotVersion {
		return fmt.Errorf("restore snapshot: version %d is not supported, want %d",
			s.Version, snapshotVersion)
	}
	return nil
}

// options recovers the Options that produced the live table from its sets and
// rules. The caller checks the result by comparing build(options) with the
// live table.
func (lt *liveTable) options() (Options, error) {
	var o Options
	var err error
	if o.SSHFrom, err = lt.allowPrefixes("ssh", true); err != nil {
		return Options{}, err
	}
	if o.MQTTFrom, err = lt.allowPrefixes("broker", false); err != nil {
		return Options{}, err
	}
	if o.GateFrom, err = lt.allowPrefixes("gate", false); err != nil {
		return Options{}, err
	}

	o.BlockTimeout = lt.setTimeout("broker_blocked_v4")
	o.Broker.Per = lt.setTimeout("broker_meter_v4")
	o.Gate.Per = lt.setTimeout("gate_meter_v4")

	input := lt.rules["input"]
	o.SSHPort = dport(findRule(input, endsIn(expr.VerdictAccept, "")))
	o.BrokerPort = dport(findRule(input, endsIn(expr.VerdictJump, brokerChain)))
	o.GatePort = dport(findRule(input, endsIn(expr.VerdictJump, gateChain)))
	if l := findExpr[*expr.Limit](input); l != nil {
		o.PingRate = int(l.Rate)
	}

	o.Broker.Rate, o.Broker.Concurrent = lt.portLimits(brokerChain)
	o.Gate.Rate, o.Gate.Concurrent = lt.portLimits(gateChain)
	if c := findExpr[*expr.Connlimit](lt.rules[brokerChain]); c != nil {
		o.MaxConnections = int(c.Count)
	}
	return o.normalize()
}

// allowPrefixes returns the prefixes of NAME_allow_v4 and NAME_allow_v6. When
// optional is set, a missing pair of sets means no prefixes.
func (lt *liveTable) allowPrefixes(name string, optional bool) ([]netip.Prefix, error) {
	var all []netip.Prefix
	for _, f := range []family{ipv4, ipv6} {
		set := name + "_allow" + f.suffix
		if _, ok := lt.elems[set]; !ok && optional {
			continue
		}
		prefixes, err := lt.livePrefixes(set)
		if err != nil {
			return nil, err
		}
		all = append(all, prefixes...)
	}
	return all, nil
}

func (lt *liveTable) setTimeout(name string) time.Duration {
	for _, s := range lt.sets {
		if s.Name == name {
			return s.Timeout
		}
	}
	return 0
}

// portLimits returns the rate of the meter and the per-source connlimit count
// in the chain of one port.
func (lt *liveTable) portLimits(chain string) (rate, concurrent int) {
	for _, r := range lt.rules[chain] {
		for _, e := range r.Exprs {
			d, ok := e.(*expr.Dynset)
			if !ok || len(d.Exprs) != 1 {
				continue
			}
			switch x := d.Exprs[0].(type) {
			case *expr.Limit:
				rate = int(x.Rate)
			case *expr.Connlimit:
				concurrent = int(x.Count)
			}
		}
	}
	return rate, concurrent
}

// findRule returns the first rule that match accepts, or nil.
func findRule(rules []*nftables.Rule, match func(*nftables.Rule) bool) *nftables.Rule {
	for _, r := range rules {
		if match(r) {
			return r
		}
	}
	return nil
}

// endsIn returns a matcher for rules that match a TCP destination port and end
// in the given verdict.
func endsIn(kind expr.VerdictKind, chain string) func(*nftables.Rule) bool {
	return func(r *nftables.Rule) bool {
		if len(r.Exprs) == 0 || dport(r) == 0 {
			return false
		}
		v, ok := r.Exprs[len(r.Exprs)-1].(*expr.Verdict)
		return ok && v.Kind == kind && v.Chain == chain
	}
}

// dport returns the TCP destination port a rule matches, or 0.
func dport(r *nftables.Rule) uint16 {
	if r == nil {
		return 0
	}
	for i, e := range r.Exprs[:max(len(r.Exprs)-1, 0)] {
		p, ok := e.(*expr.Payload)
		if !ok || p.Base != expr.PayloadBaseTransportHeader || p.Offset != 2 || p.Len != 2 {
			continue
		}
		if c, ok := r.Exprs[i+1].(*expr.Cmp); ok && len(c.Data) == 2 {
			return binaryutil.BigEndian.Uint16(c.Data)
		}
	}
	return 0
}

// findExpr returns the first expression of type T at the top level of rules.
func findExpr[T expr.Any](rules []*nftables.Rule) T {
	for _, r := range rules {
		for _, e := range r.Exprs {
			if x, ok := e.(T); ok {
				return x
			}
		}
	}
	var zero T
	return zero
}
