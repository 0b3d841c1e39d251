package firewall

import (
	"context"
	"fmt"

	"github.com/google/nftables"
)

// Host is the nftables ruleset of one network namespace. The zero Host is the
// network namespace of the calling thread.
type Host struct {
	// NetNS is an open file descriptor of a network namespace, such as
	// /run/netns/NAME, or 0 for the namespace of the calling thread. The caller
	// keeps it open while the Host is in use.
	NetNS int

	// beforeFlush, when set by a test, is called with the queued batch right
	// before Flush, so that the test can count batches or add a faulty message.
	beforeFlush func(*nftables.Conn)
}

// Apply makes table inet garagectl in the current network namespace match opts.
// See [Host.Apply].
func Apply(ctx context.Context, opts Options) (changed bool, err error) {
	return Host{}.Apply(ctx, opts)
}

// Remove deletes table inet garagectl in the current network namespace. See
// [Host.Remove].
func Remove(ctx context.Context) error {
	return Host{}.Remove(ctx)
}

// Apply makes table inet garagectl match opts and reports whether it changed
// anything. When the live table already equals the expected one, it sends
// nothing, so counters and the dynamic sets of blocked sources keep their
// contents. Otherwise it deletes the table and creates it again in one netlink
// batch, which the kernel applies completely or not at all. A rejected batch
// leaves the previous table in place, and a committed one starts counters and
// dynamic sets empty. Other tables are never changed.
//
// NOTE: google/nftables takes no context, so ctx is checked between the netlink
// calls and cannot interrupt one in progress.
func (h Host) Apply(ctx context.Context, opts Options) (bool, error) {
	o, err := opts.normalize()
	if err != nil {
		return false, err
	}
	want := build(o)
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("apply table inet %s: %w", TableName, err)
	}

	conn, err := h.dial()
	if err != nil {
		return false, err
	}
	defer conn.CloseLasting()

	live, err := readLive(conn)
	if err != nil {
		return false, err
	}
	if live != nil && live.diff(want) == "" {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("apply table inet %s: %w", TableName, err)
	}

	replaceTable(conn, want.table)
	if err := want.queue(conn); err != nil {
		return false, fmt.Errorf("apply table inet %s: %w", TableName, err)
	}
	if err := h.flush(conn); err != nil {
		return false, fmt.Errorf("apply table inet %s: %w", TableName, err)
	}
	return true, nil
}

// Remove deletes table inet garagectl, which undoes Apply, and leaves the other
// tables alone. It succeeds when there is no such table.
func (h Host) Remove(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove table inet %s: %w", TableName, err)
	}
	conn, err := h.dial()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()

	exists, err := tableExists(conn)
	if err != nil || !exists {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove table inet %s: %w", TableName, err)
	}

	replaceTable(conn, &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet})
	if err := h.flush(conn); err != nil {
		return fmt.Errorf("remove table inet %s: %w", TableName, err)
	}
	return nil
}

// replaceTable queues "add table; delete table". Adding first makes the delete
// succeed whether or not the table exists, so one batch serves both cases.
// Messages queued after it create the table anew.
func replaceTable(conn *nftables.Conn, t *nftables.Table) {
	conn.AddTable(t)
	conn.DelTable(t)
}

// queue adds everything in rs to the batch: table, counters, named sets with
// their elements, chains, and the rules, each right after its anonymous sets.
func (rs *ruleset) queue(conn *nftables.Conn) error {
	conn.AddTable(rs.table)
	for _, name := range rs.counters {
		conn.AddObj(&nftables.CounterObj{Table: rs.table, Name: name})
	}
	for _, s := range rs.sets {
		if err := conn.AddSet(s.set, s.elems); err != nil {
			return fmt.Errorf("add set %s: %w", s.set.Name, err)
		}
	}
	for _, c := range rs.chains {
		conn.AddChain(c)
	}

	for _, r := range rs.rules {
		for _, s := range r.anon {
			if err := conn.AddSet(s.set, s.elems); err != nil {
				return fmt.Errorf("add anonymous set: %w", err)
			}
		}
		conn.AddRule(&nftables.Rule{Table: rs.table, Chain: r.chain, Exprs: r.exprs})
	}
	return nil
}

func (h Host) dial() (*nftables.Conn, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if h.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(h.NetNS))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink connection: %w", err)
	}
	return conn, nil
}

// flush sends the queued batch.
//
// NOTE: google/nftables v0.3.0 cannot send a generation ID with a batch, so a
// change made by someone else between reading the live table and this flush is
// not detected. The batch replaces the whole table, so such a change to table
// inet garagectl is overwritten, and changes to other tables are unaffected.
func (h Host) flush(conn *nftables.Conn) error {
	if h.beforeFlush != nil {
		h.beforeFlush(conn)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("send netlink batch: %w", err)
	}
	return nil
}
