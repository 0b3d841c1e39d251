package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/hostfs"
)

// defaultConfig is the config path on the live host.
const defaultConfig = "/etc/garagectl/garage.yaml"

// globals holds the flags every command honours.
type globals struct {
	configPath string
	rootDir    string
	dryRun     bool
	verbose    bool
	quiet      bool
	output     string
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	cmd := &cobra.Command{
		Use:   "garagectl",
		Short: "Provision and harden the hub of a garage-door opener",
		Long: `garagectl provisions one Linux host as the hub of a garage-door opener:
an offline CA and TLS certificates, a mosquitto broker with per-client passwords
and ACLs, system users, and the files the gate and the relay firmware need.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.validate()
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&g.configPath, "config", defaultConfig, "config `file` to read")
	f.StringVar(&g.rootDir, "root", "/", "provision `dir` as if it were /, for images and tests")
	f.BoolVar(&g.dryRun, "dry-run", false, "print what would change and change nothing")
	f.BoolVarP(&g.verbose, "verbose", "v", false, "print unchanged items and more detail")
	f.BoolVar(&g.quiet, "quiet", false, "print only errors")
	f.StringVarP(&g.output, "output", "o", "text", "output `format` of tables and plans: text or json")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err}
	})

	cmd.AddCommand(
		newInitCommand(g),
		newApplyCommand(g),
		newPlanCommand(g),
		newConfigCommand(g),
		newCertCommand(g),
		newFirmwareCommand(g),
		newAuditCommand(g),
		newFirewallCommand(g),
		newVersionCommand(g),
	)
	return cmd
}

func (g *globals) validate() error {
	if g.verbose && g.quiet {
		return usagef("--verbose and --quiet exclude each other: pass one of them")
	}
	if g.output != "text" && g.output != "json" {
		return usagef("invalid --output %q: use text or json", g.output)
	}
	return nil
}

func (g *globals) root() (hostfs.Root, error) {
	return hostfs.NewRoot(g.rootDir)
}

// loadConfig reads the config file and prints its warnings to stderr.
func (g *globals) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		g.warnf(cmd.ErrOrStderr(), "%s", w)
	}
	return cfg, nil
}

// loadConfigAndRoot loads the config and resolves --root, the first two
// steps of every command that reads the host.
func (g *globals) loadConfigAndRoot(cmd *cobra.Command) (*config.Config, hostfs.Root, error) {
	cfg, err := g.loadConfig(cmd)
	if err != nil {
		return nil, hostfs.Root{}, err
	}
	root, err := g.root()
	if err != nil {
		return nil, hostfs.Root{}, err
	}
	return cfg, root, nil
}

// warnf prints a warning unless --quiet is set.
func (g *globals) warnf(w io.Writer, format string, args ...any) {
	if g.quiet {
		return
	}
	fmt.Fprintf(w, "garagectl: warning: "+format+"\n", args...)
}

// infof prints a human message to stderr unless --quiet is set.
func (g *globals) infof(w io.Writer, format string, args ...any) {
	if g.quiet {
		return
	}
	fmt.Fprintf(w, format+"\n", args...)
}
