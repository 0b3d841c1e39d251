package units

import (
	"context"
	"fmt"

	"github.com/coreos/go-systemd/v22/dbus"
)

// Manager is the part of systemd's D-Bus API that this package uses.
// *dbus.Conn implements it; tests use a recording fake.
type Manager interface {
	// ReloadContext is "systemctl daemon-reload".
	ReloadContext(ctx context.Context) error
	EnableUnitFilesContext(ctx context.Context, files []string, runtime bool,
		force bool) (bool, []dbus.EnableUnitFileChange, error)
	RestartUnitContext(ctx context.Context, name string, mode string, ch chan<- string) (int, error)
	ReloadUnitContext(ctx context.Context, name string, mode string, ch chan<- string) (int, error)
}

// Reload reloads unit through systemd's D-Bus API and waits for the job to end.
// mosquitto reloads its certificates, password file and ACL on SIGHUP, which
// is what the unit's ExecReload sends, so connected clients stay connected.
func Reload(ctx context.Context, unit string) error {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return fmt.Errorf("connect to systemd: %w", err)
	}
	defer conn.Close()
	return ReloadUnit(ctx, conn, unit)
}

// ReloadUnit is Reload through m.
func ReloadUnit(ctx context.Context, m Manager, unit string) error {
	done := make(chan string, 1)
	if _, err := m.ReloadUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("reload %s: %w", unit, err)
	}
	return waitJob(ctx, "reload", unit, done)
}

// waitJob waits for the result of a job that systemd runs on unit. done must
// be buffered, so that go-systemd can send the result after ctx ends.
func waitJob(ctx context.Context, verb, unit string, done <-chan string) error {
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("%s %s: job %s", verb, unit, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

// Restart restarts unit through systemd's D-Bus API and waits for the job to end.
func Restart(ctx context.Context, unit string) error {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return fmt.Errorf("connect to systemd: %w", err)
	}
	defer conn.Close()

	done := make(chan string, 1)
	if _, err := conn.RestartUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("restart %s: %w", unit, err)
	}
	return waitJob(ctx, "restart", unit, done)
}
