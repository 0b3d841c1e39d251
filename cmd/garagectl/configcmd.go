package main

import (
	"encoding/json"
	"github.com/spf13/cobra"

	"github.com/garagectl/garagectl/config"
)

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the config file or print an example",
	}
	cmd.AddCommand(newConfigCheckCommand(g), newConfigExampleCommand())
	return cmd
}

func newConfigCheckCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Load the config and its secrets, and report every error with file:line:column",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printCheckJSON(cmd, cfg)
			}
			g.infof(cmd.ErrOrStderr(), "%s: ok", g.configPath)
			return nil
		},
	}
}

func newConfigExampleCommand() *cobra.Command {
	var secrets bool
	cmd := &cobra.Command{
		Use:   "example",
		Short: "Print a commented example config that config check accepts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := config.Example()
			if secrets {
				out = config.ExampleSecrets()
			}
			_, err := cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().BoolVar(&secrets, "secrets", false,
		"print the matching secrets.yaml to put beside the config instead")
	return cmd
}

// printCheckJSON prints the result of a passing config check: the file and
// its warnings. A failing check prints its errors on stderr as text.
func printCheckJSON(cmd *cobra.Command, cfg *config.Config) error {
	warnings := []string{}
	for _, w := range cfg.Warnings {
		warnings = append(warnings, w.String())
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		File     string   `json:"file"`
		OK       bool     `json:"ok"`
		Warnings []string `json:"warnings"`
	}{cfg.File, true, warnings})
}
