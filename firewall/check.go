package firewall

import (
	"context"
	"fmt"
)

// Diff compares the live table inet garagectl with the one opts produce and
// describes the first difference. It returns "" when they are equal and
// ErrNoTable when there is no table. It changes nothing.
func (h Host) Diff(ctx context.Context, opts Options) (string, error) {
	o, err := opts.normalize()
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("read table inet %s: %w", TableName, err)
	}
	conn, err := h.dial()
	if err != nil {
		return "", err
	}
	defer conn.CloseLasting()

	live, err := readLive(conn)
	if err != nil {
		return "", err
	}
	if live == nil {
		return "", ErrNoTable
	}
	return live.diff(build(o)), nil
}
