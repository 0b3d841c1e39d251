package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/garagectl/garagectl/firewall"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/units"
)

// unitChanges renders the hub's units, the links that enable them, and the
// mask that keeps Debian's own mosquitto.service from starting a second broker.
func unitChanges(o Options) ([]change.Change, error) {
	files, err := units.Files(units.NewOptions(o.Config))
	if err != nil {
		return nil, err
	}
	links, err := units.EnableLinks(files)
	if err != nil {
		return nil, err
	}
	mask, err := units.MaskDebianBroker(o.Root)
	if err != nil {
		return nil, err
	}

	out := []change.Change{
		dir("/etc/systemd", "root", "root", layout.ModePublicDir),
		dir(units.UnitDir, "root", "root", layout.ModePublicDir),
	}
	out = append(out, units.Changes(files)...)
	return append(out, units.LinkChanges(append(links, mask.Mask), mask.EnableLinks)...), nil
}

// firewallChange is the live kernel's table inet garagectl as one change. It
// exists only on the live host: for a --root tree, garage-firewall.service
// loads the rules at boot.
func firewallChange(o Options) change.Change {
	opts := FirewallOptions(o.Config)
	return change.Change{
		Kind: change.Ruleset,
		Path: "table inet " + firewall.TableName,
		Check: func(ctx context.Context, _ hostfs.Root) (change.Action, []string, error) {
			diff, err := firewall.Host{}.Diff(ctx, opts)
			if errors.Is(err, firewall.ErrNoTable) {
				return change.Create, nil, nil
			}
			if err != nil {
				return "", nil, err
			}
			if diff != "" {
				return change.Update, []string{diff}, nil
			}
			return change.Unchanged, nil, nil
		},
		Do: func(ctx context.Context, _ hostfs.Root) error {
			_, err := firewall.Apply(ctx, opts)
			return err
		},
	}
}

// Activate makes systemd on the live host take up what Apply changed. New or
// changed units are reloaded, enabled and restarted. Otherwise a change to the
// broker's files reloads the broker, which keeps its clients, and a change to
// the gate's files restarts the gate.
func Activate(ctx context.Context, plan []change.Planned) error {
	var unitsChanged, brokerChanged, gateChanged bool
	for _, p := range plan {
		if p.Action == change.Unchanged {
			continue
		}
		switch {
		case strings.HasPrefix(p.Path, units.UnitDir+"/"):
			unitsChanged = true
		case strings.HasPrefix(p.Path, layout.MosquittoDir+"/"), strings.HasPrefix(p.Path, layout.PKIDir+"/"):
			brokerChanged = true
		case strings.HasPrefix(p.Path, layout.StateDir+"/"), p.Path == layout.ConfigFile:
			gateChanged = true
		}
	}
	if unitsChanged {
		return units.Activate(ctx, []string{units.FirewallUnit, units.BrokerUnit, units.GateUnit})
	}
	if brokerChanged {
		if err := units.Reload(ctx, units.BrokerUnit); err != nil {
			return err
		}
	}
	if gateChanged {
		if err := units.Restart(ctx, units.GateUnit); err != nil {
			return fmt.Errorf("restart the gate: %w", err)
		}
	}
	return nil
}
