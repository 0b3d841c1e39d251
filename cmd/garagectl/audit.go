package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/garagectl/garagectl/internal/audit"
	"github.com/garagectl/garagectl/internal/provision"
)

// errFindings is returned when audit found something, for exit status 1.
var errFindings = errors.New("audit found problems")

func newAuditCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "audit",
		Short: "Check the host against the config and the threat model; exit 1 on any finding",
		Long: `audit compares every file, directory and account that apply manages with the
config, and checks modes, owners, login shells and certificate validity. It
prints one line per finding and changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, root, err := g.loadConfigAndRoot(cmd)
			if err != nil {
				return err
			}
			findings, err := audit.Run(cmd.Context(), provision.Options{Config: cfg, Root: root})
			if err != nil {
				return err
			}
			if err := printFindings(cmd, g, findings); err != nil {
				return err
			}
			if len(findings) > 0 {
				return fmt.Errorf("%w: %d finding(s)", errFindings, len(findings))
			}
			return nil
		},
	}
}

func printFindings(cmd *cobra.Command, g *globals, findings []audit.Finding) error {
	out := cmd.OutOrStdout()
	if g.output == "json" {
		if findings == nil {
			findings = []audit.Finding{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(findings)
	}
	for _, f := range findings {
		fmt.Fprintln(out, f)
	}
	if len(findings) == 0 {
		g.infof(cmd.ErrOrStderr(), "audit: no findings")
	}
	return nil
}
