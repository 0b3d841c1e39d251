// Package audit checks a host against its config and the threat model and
// lists what differs, one finding per item, without changing anything.
package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/garagectl/garagectl/firewall"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/provision"
)

// Finding is one thing on the host that differs from what the config and the
// threat model require.
type Finding struct {
	// Subject is the path or account the finding is about.
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// String formats f as one line.
func (f Finding) String() string { return f.Subject + ": " + f.Message }

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

	findings := planFindings(plan)
	for _, f := range res.Findings {
		subject, msg, _ := strings.Cut(f, ": ")
		findings = append(findings, Finding{Subject: subject, Message: msg})
	}
	findings = append(findings, offlineKeyFinding(o)...)
	return append(findings, firewallFindings(ctx, o)...), nil
}

// firewallFindings compares the running kernel's table inet garagectl with
// the config. Only a live host has a running kernel to ask.
func firewallFindings(ctx context.Context, o provision.Options) []Finding {
	if !o.Root.Live() {
		return nil
	}
	subject := "table inet " + firewall.TableName
	diff, err := firewall.Host{}.Diff(ctx, provision.FirewallOptions(o.Config))
	switch {
	case errors.Is(err, firewall.ErrNoTable):
		return []Finding{{subject, "missing: run garagectl firewall apply"}}
	case err != nil:
		return []Finding{{subject, "read failed: " + err.Error()}}
	case diff != "":
		return []Finding{{subject, "differs from the config (" + diff + "): run garagectl firewall apply"}}
	}
	return nil
}

// planFindings turns every planned change into a finding: a missing item, an
// item that differs, or a remark on an item that is otherwise kept.
func planFindings(plan []change.Planned) []Finding {
	var out []Finding
	for _, p := range plan {
		if p.Kind == change.Ruleset {
			continue // firewallFindings reports the table with its difference
		}
		switch {
		case p.Action == change.Create:
			out = append(out, Finding{p.Path, fmt.Sprintf("%s is missing: run garagectl apply", p.Kind)})
		case p.Action == change.Update:
			out = append(out, Finding{p.Path, strings.Join(p.Reasons, ", ") + ": run garagectl apply"})
		default:
			for _, r := range p.Reasons {
				out = append(out, Finding{p.Path, r})
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
	return []Finding{{key, "the offline CA key is mounted on the host: unmount the media"}}
}
