// Command gatebench runs garage-gate with the cooldown set to zero, which
// config.Load rejects, so that a latency benchmark can send triggers back to
// back. It takes the flags of garage-gate. It is test code: go build ignores
// testdata directories in ./... patterns, so it is built only by name.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/gate"
	"github.com/garagectl/garagectl/gate/credentials"
	"github.com/garagectl/garagectl/internal/hostfs"
)

func main() {
	configPath := flag.String("config", "", "garage.yaml to load")
	rootDir := flag.String("root", "/", "directory that stands for / of the host")
	flag.Parse()
	if err := run(*configPath, *rootDir); err != nil {
		fmt.Fprintf(os.Stderr, "gatebench: %v\n", err)
		os.Exit(1)
	}
}

func run(configPath, rootDir string) error {
	c, err := config.LoadWithoutSecrets(configPath)
	if err != nil {
		return err
	}
	root, err := hostfs.NewRoot(rootDir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var noCooldown time.Duration
	return gate.Run(ctx, gate.Options{
		Config:      c,
		Root:        root,
		Credentials: credentials.FromEnv(root),
		StateDir:    gate.StateDir(root),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Cooldown:    &noCooldown,
	})
}
