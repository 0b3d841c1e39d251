package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/firewall"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/provision"
)

// provisionRun is one run of init, apply or plan.
type provisionRun struct {
	g        *globals
	pass     passphraseSource
	newCA    bool
	planOnly bool
}

func newInitCommand(g *globals) *cobra.Command {
	r := &provisionRun{g: g, newCA: true}
	r.pass.confirm = true
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Provision a fresh host: offline CA, certificates, users and broker files",
		Long: `init makes a new offline CA, encrypts its key with a passphrase into
pki.offline_dir, and writes everything else apply writes. It never replaces an
existing CA: on a host that has one, run apply.`,
		Args: cobra.NoArgs,
		RunE: r.run,
	}
	addPassphraseFlag(cmd, &r.pass, g)
	return cmd
}

func newApplyCommand(g *globals) *cobra.Command {
	r := &provisionRun{g: g}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Converge a host that already has its CA with the config",
		Long: `apply writes what differs from the config and leaves the rest alone, so a
second run changes nothing. It needs the CA passphrase only when the server
certificate must be issued again.`,
		Args: cobra.NoArgs,
		RunE: r.run,
	}
	addPassphraseFlag(cmd, &r.pass, g)
	return cmd
}

func newPlanCommand(g *globals) *cobra.Command {
	r := &provisionRun{g: g, planOnly: true}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print what apply would change, and change nothing",
		Args:  cobra.NoArgs,
		RunE:  r.run,
	}
	addPassphraseFlag(cmd, &r.pass, g)
	return cmd
}

func (r *provisionRun) run(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	cfg, root, err := r.g.loadConfigAndRoot(cmd)
	if err != nil {
		return err
	}
	if !r.planOnly && !r.g.dryRun {
		unlock, err := root.Lock()
		if err != nil {
			return err
		}
		defer unlock()
	}

	res, err := provision.Build(ctx, provision.Options{
		Config: cfg, Root: root, NewCA: r.newCA, Passphrase: r.pass.Get,
		// A plan needs no CA key: a certificate to issue again is a note.
		NoCAKey: !r.newCA && (r.planOnly || r.g.dryRun),
	})
	if err != nil {
		return err
	}
	for _, f := range res.Findings {
		r.g.warnf(cmd.ErrOrStderr(), "%s", f)
	}
	plan, err := change.Plan(ctx, root, res.Changes)
	if err != nil {
		return err
	}
	if err := r.g.printPlan(cmd.OutOrStdout(), plan); err != nil {
		return err
	}
	if r.planOnly || r.g.dryRun {
		return nil
	}
	if root.Live() {
		if err := checkSSHKept(cfg); err != nil {
			return err
		}
	}

	if err := change.Apply(ctx, root, plan); err != nil {
		return err
	}
	if root.Live() {
		if err := provision.Activate(ctx, plan); err != nil {
			return withHint(err, "the files are in place; check systemctl status garage-*")
		}
	}
	if r.newCA {
		r.printInitSummary(cmd.ErrOrStderr(), root.Path(res.CAKey), plan)
	}
	return nil
}

// printInitSummary ends init with what it made, where the CA key went (caKey,
// under --root when one is set) and the next commands.
func (r *provisionRun) printInitSummary(w io.Writer, caKey string, plan []change.Planned) {
	created := 0
	for _, p := range plan {
		if p.Action == change.Create {
			created++
		}
	}
	r.g.infof(w, "\ninit created %d files, directories and accounts under %s.", created, r.g.rootDir)
	r.g.infof(w, "The CA key is at %s, encrypted with your passphrase. Keep it on removable", caKey)
	r.g.infof(w, "media, offline: only init and cert rotate need it.")
	r.g.infof(w, "Next: garagectl cert status, then garagectl apply after each config change.")
}

// planEntry is one line of the plan in --output json.
type planEntry struct {
	Action  change.Action `json:"action"`
	Kind    change.Kind   `json:"kind"`
	Path    string        `json:"path"`
	Owner   string        `json:"owner,omitempty"`
	Group   string        `json:"group,omitempty"`
	Mode    string        `json:"mode,omitempty"`
	Reasons []string      `json:"reasons,omitempty"`
}

// printPlan prints the changing lines of plan, or every line with -v, and a
// closing count. Unchanged lines with reasons, such as a finding on an
// existing account, are always printed.
func (g *globals) printPlan(w io.Writer, plan []change.Planned) error {
	if g.output == "json" {
		return printPlanJSON(w, plan)
	}
	if g.quiet {
		return nil
	}
	counts := map[change.Action]int{}
	for _, p := range plan {
		counts[p.Action]++
		if p.Action != change.Unchanged || g.verbose || len(p.Reasons) > 0 {
			fmt.Fprintln(w, p.String())
		}
	}
	if !change.Changed(plan) {
		_, err := fmt.Fprintf(w, "nothing to change: %d items unchanged\n", counts[change.Unchanged])
		return err
	}
	_, err := fmt.Fprintf(w, "%d to create, %d to update, %d unchanged\n",
		counts[change.Create], counts[change.Update], counts[change.Unchanged])
	return err
}

func printPlanJSON(w io.Writer, plan []change.Planned) error {
	entries := make([]planEntry, 0, len(plan))
	for _, p := range plan {
		e := planEntry{Action: p.Action, Kind: p.Kind, Path: p.Path, Reasons: p.Reasons}
		if p.Kind == change.File || p.Kind == change.Dir {
			e.Owner, e.Group, e.Mode = p.Owner, p.Group, fmt.Sprintf("%04o", p.Mode.Perm())
		}
		entries = append(entries, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(entries)
}

// checkSSHKept rejects an apply whose firewall would refuse new SSH
// connections from the address of this session.
func checkSSHKept(cfg *config.Config) error {
	remote, overSSH := sshClient()
	if overSSH && firewall.WouldDropSSH(provision.FirewallOptions(cfg), remote) {
		return withHint(usagef("the firewall would drop new SSH connections from %s, the address of this session",
			remote.Addr()), "add it to network.ssh_from, or use garagectl firewall apply --force --confirm 60s")
	}
	return nil
}
