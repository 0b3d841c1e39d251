package units

import (
	"context"
	"fmt"

	"github.com/coreos/go-systemd/v22/dbus"
)

// Activate connects to systemd over D-Bus and runs ActivateUnits. It works on
// the live host only: a --root tree has no service manager.
func Activate(ctx context.Context, units []string) error {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return fmt.Errorf("connect to systemd: %w", err)
	}
	defer conn.Close()
	return ActivateUnits(ctx, conn, units)
}

// ActivateUnits makes systemd load the unit files again (daemon-reload),
// enables units, and then restarts each one in the given order, waiting for
// each restart job to finish. It stops at the first failure. A restart
// starts a unit that is not running; for the broker it drops the connected
// clients, so use ReloadUnit when only its files changed.
func ActivateUnits(ctx context.Context, m Manager, units []string) error {
	if err := m.ReloadContext(ctx); err != nil {
		return fmt.Errorf("reload systemd: %w", err)
	}
	// runtime=false enables in /etc, which survives a reboot; force=false
	// keeps a link that an administrator pointed elsewhere.
	if _, _, err := m.EnableUnitFilesContext(ctx, units, false, false); err != nil {
		return fmt.Errorf("enable units %v: %w", units, err)
	}
	for _, u := range units {
		done := make(chan string, 1)
		if _, err := m.RestartUnitContext(ctx, u, "replace", done); err != nil {
			return fmt.Errorf("restart %s: %w", u, err)
		}
		if err := waitJob(ctx, "restart", u, done); err != nil {
			return err
		}
	}
	return nil
}
