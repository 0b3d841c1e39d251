package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/garagectl/garagectl/firewall"
	"github.com/garagectl/garagectl/internal/provision"
)

// defaultConfirmOverSSH is the confirm window when the command runs in an SSH
// session and --confirm is not given: long enough to open a second session
// and check, short enough that a lockout ends soon.
const defaultConfirmOverSSH = 60 * time.Second

// defaultStateDir holds the pending rollback of a confirm window. It is under
// /run so that a reboot, which applies the configured rules anyway, drops it.
const defaultStateDir = "/run/garagectl"

type firewallFlags struct {
	confirm  time.Duration
	force    bool
	boot     bool
	stateDir string
}

func newFirewallCommand(g *globals) *cobra.Command {
	fl := &firewallFlags{}
	cmd := &cobra.Command{
		Use:   "firewall",
		Short: "Show, apply and confirm the nftables ruleset (table inet garagectl)",
	}
	cmd.PersistentFlags().StringVar(&fl.stateDir, "state-dir", defaultStateDir,
		"`dir` for the pending rollback of a confirm window")
	_ = cmd.PersistentFlags().MarkHidden("state-dir")
	cmd.AddCommand(
		newFirewallShowCommand(g),
		newFirewallApplyCommand(g, fl),
		newFirewallConfirmCommand(g, fl),
		newFirewallRollbackCommand(fl),
	)
	return cmd
}

func newFirewallShowCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the ruleset in nft syntax, as nft list table inet garagectl shows it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd)
			if err != nil {
				return err
			}
			text, err := firewall.Show(provision.FirewallOptions(cfg))
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), text)
			return err
		},
	}
}

func newFirewallApplyCommand(g *globals, fl *firewallFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Replace table inet garagectl in one atomic batch",
		Long: `apply replaces table inet garagectl of the running kernel in one batch and
leaves every other table alone. With --confirm, the previous rules come back
by themselves unless garagectl firewall confirm runs within the window; over
SSH the window is 60s unless --confirm says otherwise. apply refuses a config
that would drop new SSH connections from the address of this session, unless
--force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFirewallApply(cmd, g, fl)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&fl.confirm, "confirm", 0,
		"restore the previous rules after `duration` unless confirmed (0: no window)")
	f.BoolVar(&fl.force, "force", false, "apply even if SSH from this session's address would be dropped")
	f.BoolVar(&fl.boot, "boot", false, "apply at boot: no confirm window and no SSH check")
	return cmd
}

func runFirewallApply(cmd *cobra.Command, g *globals, fl *firewallFlags) error {
	cfg, err := g.loadConfig(cmd)
	if err != nil {
		return err
	}
	if g.rootDir != "/" && g.rootDir != "" {
		return usagef("firewall apply changes the running kernel's ruleset and takes no --root")
	}
	opts := provision.FirewallOptions(cfg)
	window, err := fl.window(cmd, opts)
	if err != nil {
		return err
	}
	if g.dryRun {
		text, err := firewall.Show(opts)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(cmd.OutOrStdout(), text)
		return err
	}
	if window == 0 {
		changed, err := firewall.Apply(cmd.Context(), opts)
		if err != nil {
			return err
		}
		g.reportFirewall(cmd, changed)
		return nil
	}
	return applyWithWindow(cmd, g, fl, opts, window)
}

// window returns the confirm window and runs the SSH check.
func (fl *firewallFlags) window(cmd *cobra.Command, opts firewall.Options) (time.Duration, error) {
	if fl.boot {
		return 0, nil
	}
	remote, overSSH := sshClient()
	if overSSH && !fl.force && firewall.WouldDropSSH(opts, remote) {
		return 0, withHint(usagef("the ruleset drops new SSH connections from %s, the address of this session",
			remote.Addr()), "add it to network.ssh_from, or pass --force if another way in exists")
	}
	if !cmd.Flags().Changed("confirm") && overSSH {
		return defaultConfirmOverSSH, nil
	}
	if fl.confirm < 0 {
		return 0, usagef("invalid --confirm %s: use a positive duration such as 60s", fl.confirm)
	}
	return fl.confirm, nil
}

// sshClient returns the client end of the SSH session from $SSH_CONNECTION.
func sshClient() (netip.AddrPort, bool) {
	fields := strings.Fields(os.Getenv("SSH_CONNECTION"))
	if len(fields) < 2 {
		return netip.AddrPort{}, false
	}
	addr, err := netip.ParseAddr(fields[0])
	if err != nil {
		return netip.AddrPort{}, false
	}
	var port uint16
	_, _ = fmt.Sscan(fields[1], &port)
	return netip.AddrPortFrom(addr, port), true
}

// applyWithWindow records the current table, starts a detached process that
// restores it when the window ends, and then applies the new rules. The
// process outlives this command and a dropped SSH session.
func applyWithWindow(cmd *cobra.Command, g *globals, fl *firewallFlags, opts firewall.Options, window time.Duration) error {
	ctx := cmd.Context()
	if firewall.IsPending(fl.stateDir) {
		return withHint(usagef("a firewall change is still waiting for confirmation"),
			"run garagectl firewall confirm, or wait for the window to end")
	}
	previous, err := firewall.Snapshot(ctx)
	if err != nil {
		return withHint(err, "without a record of the current table no rollback is possible; "+
			"apply without --confirm to replace it")
	}
	if err := firewall.Arm(fl.stateDir, previous, time.Now().Add(window)); err != nil {
		return err
	}
	if err := startRollback(fl.stateDir); err != nil {
		_ = firewall.Confirm(fl.stateDir)
		return err
	}

	changed, err := firewall.Apply(ctx, opts)
	if err != nil || !changed {
		_ = firewall.Confirm(fl.stateDir)
		if err != nil {
			return err
		}
		g.reportFirewall(cmd, false)
		return nil
	}
	g.reportFirewall(cmd, true)
	g.infof(cmd.ErrOrStderr(), "run garagectl firewall confirm within %s, or the previous rules come back", window)
	return nil
}

// startRollback starts "garagectl firewall rollback-pending" in a session of
// its own, detached from this terminal, so that a hang-up does not end it.
func startRollback(stateDir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find garagectl binary: %w", err)
	}
	c := exec.Command(self, "firewall", "rollback-pending", "--state-dir", stateDir)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start rollback process: %w", err)
	}
	return c.Process.Release()
}

func (g *globals) reportFirewall(cmd *cobra.Command, changed bool) {
	if changed {
		g.infof(cmd.ErrOrStderr(), "applied table inet %s", firewall.TableName)
		return
	}
	g.infof(cmd.ErrOrStderr(), "table inet %s unchanged", firewall.TableName)
}

func newFirewallConfirmCommand(g *globals, fl *firewallFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "confirm",
		Short: "Keep the rules of the last firewall apply --confirm",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := firewall.Confirm(fl.stateDir); err != nil {
				return err
			}
			g.infof(cmd.ErrOrStderr(), "confirmed: the new firewall rules stay")
			return nil
		},
	}
}

// newFirewallRollbackCommand is the detached process of a confirm window.
func newFirewallRollbackCommand(fl *firewallFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "rollback-pending",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := firewall.Host{}.RollbackWhenDue(context.Background(), fl.stateDir)
			if errors.Is(err, firewall.ErrNothingPending) {
				return nil
			}
			return err
		},
	}
}
