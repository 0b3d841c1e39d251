package main

import (
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
			if _, err := g.loadConfig(cmd); err != nil {
				return err
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
