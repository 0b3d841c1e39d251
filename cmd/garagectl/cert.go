package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/provision"
	"github.com/garagectl/garagectl/pki"
	"github.com/garagectl/garagectl/units"
)

func newCertCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Show and rotate the certificates",
	}
	cmd.AddCommand(newCertStatusCommand(g), newCertRotateCommand(g))
	return cmd
}

func newCertRotateCommand(g *globals) *cobra.Command {
	var pass passphraseSource
	cmd := &cobra.Command{
		Use:   "rotate [server]",
		Short: "Issue a new server key and certificate with the offline CA and swap them in",
		Long: `rotate makes a new key and certificate for the broker, signed by the offline
CA, and replaces both. On a live host it then asks systemd to reload the broker,
which keeps its clients connected.`,
		Args:      cobra.MatchAll(cobra.MaximumNArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"server"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRotate(cmd, g, &pass)
		},
	}
	addPassphraseFlag(cmd, &pass, g)
	return cmd
}

func runRotate(cmd *cobra.Command, g *globals, pass *passphraseSource) error {
	ctx := cmd.Context()
	cfg, root, err := g.loadConfigAndRoot(cmd)
	if err != nil {
		return err
	}
	if !g.dryRun {
		unlock, err := root.Lock()
		if err != nil {
			return err
		}
		defer unlock()
	}
	issued, err := provision.RotateServer(provision.Options{
		Config: cfg, Root: root, Passphrase: pass.Get,
	})
	if err != nil {
		return err
	}
	plan, err := change.Plan(ctx, root, provision.RotateServerChanges(issued))
	if err != nil {
		return err
	}
	if err := g.printPlan(cmd.OutOrStdout(), plan); err != nil {
		return err
	}
	if g.dryRun {
		return nil
	}
	if err := change.Apply(ctx, root, plan); err != nil {
		return err
	}
	g.infof(cmd.ErrOrStderr(), "new server certificate: serial %s, valid until %s",
		issued.Serial, issued.Cert.NotAfter.UTC().Format(time.DateOnly))

	if !root.Live() {
		g.infof(cmd.ErrOrStderr(), "--root is set, so no broker was reloaded")
		return nil
	}
	if err := units.Reload(ctx, units.BrokerUnit); err != nil {
		return withHint(err, "the new files are in place; reload the broker with: systemctl reload "+units.BrokerUnit)
	}
	return nil
}

// certRow is one certificate in cert status.
type certRow struct {
	File     string    `json:"file"`
	Subject  string    `json:"subject"`
	SANs     []string  `json:"sans"`
	KeyType  string    `json:"key_type"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
	IsCA     bool      `json:"is_ca"`
}

func newCertStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List every certificate with its subject, names, key type and days to expiry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, root, err := g.loadConfigAndRoot(cmd)
			if err != nil {
				return err
			}
			files := []string{
				layout.CACert,
				layout.ServerCert,
				path.Join(cfg.PKI.OfflineDir, layout.OfflineCACert),
			}
			rows, err := certRows(root.Path, files, time.Now())
			if err != nil {
				return err
			}
			if g.output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return printCertTable(cmd.OutOrStdout(), rows)
		},
	}
}

// certRows describes every certificate in files. A missing offline CA file is
// normal, since its media is usually unplugged; a missing host file is an error.
func certRows(mapPath func(string) string, files []string, now time.Time) ([]certRow, error) {
	rows := []certRow{}
	for i, f := range files {
		data, err := os.ReadFile(mapPath(f))
		if errors.Is(err, fs.ErrNotExist) && i == len(files)-1 {
			continue
		}
		if err != nil {
			return nil, withHint(fmt.Errorf("read certificate: %w", err), "run garagectl init first")
		}
		infos, err := pki.Describe(data)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", f, err)
		}
		for _, c := range infos {
			rows = append(rows, certRow{
				File: f, Subject: c.Subject, SANs: sanStrings(c), KeyType: string(c.KeyType),
				Serial: c.Serial, NotAfter: c.NotAfter, DaysLeft: c.DaysLeft(now), IsCA: c.IsCA,
			})
		}
	}
	return rows, nil
}

func printCertTable(w io.Writer, rows []certRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSUBJECT\tSANS\tKEY\tNOT AFTER\tDAYS LEFT")
	for _, r := range rows {
		sans := strings.Join(r.SANs, ",")
		if sans == "" {
			sans = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", r.File, r.Subject, sans, r.KeyType,
			r.NotAfter.UTC().Format(time.DateOnly), r.DaysLeft)
	}
	return tw.Flush()
}

func sanStrings(c pki.CertInfo) []string {
	sans := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	return sans
}
