package firewall

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Counter is the value of one named counter of table inet garagectl. Each drop
// rule counts into its own counter, named after the port and the reason:
// invalid, default_drop, and PORT_denied, PORT_blocked, PORT_flood,
// PORT_concurrent and broker_max for the ports "broker" and "gate".
type Counter struct {
	Name    string
	Packets uint64
	Bytes   uint64
}

// Counters returns the named counters of table inet garagectl in the current
// network namespace. See [Host.Counters].
func Counters(ctx context.Context) ([]Counter, error) {
	return Host{}.Counters(ctx)
}

// Counters returns the named counters of table inet garagectl in creation
// order, or an error wrapping ErrNoTable when there is no table.
func (h Host) Counters(ctx context.Context) ([]Counter, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	conn, err := h.dial()
	if err != nil {
		return nil, err
	}
	defer conn.CloseLasting()

	exists, err := tableExists(conn)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("read counters: %w", ErrNoTable)
	}

	objs, err := conn.GetNamedObjects(&nftables.Table{Name: TableName, Family: nftables.TableFamilyINet})
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	var counters []Counter
	for _, o := range objs {
		named, ok := o.(*nftables.NamedObj)
		if !ok {
			continue
		}
		if c, ok := named.Obj.(*expr.Counter); ok {
			counters = append(counters, Counter{Name: named.Name, Packets: c.Packets, Bytes: c.Bytes})
		}
	}
	return counters, nil
}
