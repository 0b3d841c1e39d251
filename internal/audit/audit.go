// Package audit checks a host against its config and the threat model and
// lists what differs, one finding per item, without changing anything.
package audit

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/provision"
)

// Finding is one line of an audit.
type Finding = provision.Finding

// Run compares the host under o.Root with o.Config. It never reads the CA key
// or its passphrase: a server certificate that needs issuing again is a finding.
func Run(ctx context.Context, o provision.Options) ([]Finding, error) {
	o.NoCAKey = true
	o.NewCA = false
	o.Passphrase = func() ([]byte, error) {
		return nil, fmt.Errorf("audit never reads the CA key")
	}
	res, err := provision.Build(ctx, o)
	if err != nil {
		return nil, err
	}
	plan, err := change.Plan(ctx, o.Root, res.Changes)
	if err != nil {
		return nil, err
	}

	findings := append(planFindings(plan), res.Findings...)
	return append(findings, offlineKeyFinding(o)...), nil
}

// planFindings turns every planned change into a finding: a missing item, an
// item that differs, or a remark on an item that is otherwise kept.
func planFindings(plan []change.Planned) []Finding {
	var out []Finding
	for _, p := range plan {
		switch {
		case p.Kind == change.Ruleset && p.Action == change.Create:
			out = append(out, Finding{Subject: p.Path, Message: "missing: run garagectl firewall apply"})
		case p.Kind == change.Ruleset && p.Action == change.Update:
			out = append(out, Finding{Subject: p.Path, Message: "differs from the config (" +
				strings.Join(p.Reasons, ", ") + "): run garagectl firewall apply"})
		case p.Action == change.Create:
			out = append(out, Finding{Subject: p.Path, Message: fmt.Sprintf("%s is missing: run garagectl apply", p.Kind)})
		case p.Action == change.Update:
			out = append(out, Finding{Subject: p.Path, Message: strings.Join(p.Reasons, ", ") + ": run garagectl apply"})
		default:
			for _, r := range p.Reasons {
				out = append(out, Finding{Subject: p.Path, Message: r})
			}
		}
	}
	return out
}

// offlineKeyFinding reports a CA key readable on the live host: the offline
// media should be unplugged except during init and cert rotate.
func offlineKeyFinding(o provision.Options) []Finding {
	if !o.Root.Live() {
		return nil
	}
	key := path.Join(o.Config.PKI.OfflineDir, layout.OfflineCAKey)
	if _, err := os.Stat(key); err != nil {
		return nil
	}
	return []Finding{{Subject: key, Message: "the offline CA key is mounted on the host: unmount the media"}}
}
