package units

import (
	"context"
	"fmt"

	"github.com/coreos/go-systemd/v22/dbus"
)

// BrokerUnit is the systemd unit of the mosquitto broker.
const BrokerUnit = "garage-mosquitto.service"

// Reload asks systemd over D-Bus to reload unit and waits for the job to end.
// mosquitto reloads its certificates, password file and ACL on SIGHUP, which
// is what the unit's ExecReload sends, so connected clients stay connected.
func Reload(ctx context.Context, unit string) error {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return fmt.Errorf("connect to systemd: %w", err)
	}
	defer conn.Close()

	done := make(chan string, 1)
	if _, err := conn.ReloadUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("reload %s: %w", unit, err)
	}
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("reload %s: job %s", unit, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("reload %s: %w", unit, ctx.Err())
	}
}
