// Command garage-gate is the gate service of a garagectl hub: a SOCKS5 front on
// gate.listen through which a phone opens http://<gate.hostname>/ and triggers a
// door, which the gate turns into one signed MQTT command. It only parses flags,
// sets up logging and signals, and calls package gate.
//
// Usage:
//
//	garage-gate [--config FILE] [--root DIR]
//
// Secrets come from $CREDENTIALS_DIRECTORY when systemd sets it, else from
// /var/lib/garagectl under the root. The gate never reads secrets.yaml, which
// holds only the relays' Wi-Fi credentials. The sequence numbers and the ends of
// the cooldowns go to $STATE_DIRECTORY, else to /var/lib/garage-gate under the root.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/gate"
	"github.com/garagectl/garagectl/gate/credentials"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

// Exit statuses, as garagectl's.
const (
	exitOK      = 0
	exitFailure = 1 // a credential, the state directory or the listener failed
	exitUsage   = 2 // bad usage or a bad config file
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("garage-gate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", layout.ConfigFile, "garage.yaml to load")
	rootDir := flags.String("root", "/", "directory that stands for / of the host: "+
		"the CA certificate, and the credentials and state without systemd, are read under it")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "garage-gate: error: unexpected argument %q: the gate takes only flags\n",
			flags.Arg(0))
		return exitUsage
	}

	log := newLogger(stderr)
	c, err := config.LoadWithoutSecrets(*configPath)
	if err != nil {
		log.Error("load config failed", "error", err)
		return exitUsage
	}
	for _, w := range c.Warnings {
		log.Warn("config warning", "warning", w.String())
	}
	root, err := hostfs.NewRoot(*rootDir)
	if err != nil {
		log.Error("resolve root failed", "error", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = gate.Run(ctx, gate.Options{
		Config:      c,
		Root:        root,
		Credentials: credentials.FromEnv(root),
		StateDir:    gate.StateDir(root),
		Logger:      log,
	})
	if err != nil {
		log.Error("gate failed", "error", err)
		return exitFailure
	}
	return exitOK
}

// newLogger logs text lines to w. Under systemd, which sets $JOURNAL_STREAM when
// stderr goes to the journal, the lines carry no time, because the journal stamps
// each line itself.
func newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{}
	if os.Getenv("JOURNAL_STREAM") != "" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
