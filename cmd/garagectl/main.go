// Command garagectl provisions and hardens a Linux host as the hub of a
// garage-door opener. The commands here only parse flags and call the
// packages that do the work.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/firewall"
	"github.com/garagectl/garagectl/pki"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the host or a tool failed
	exitUsage   = 2 // bad usage or a bad config file
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one ends the process the usual way,
	// even if a step is stuck in a call that takes no context.
	go func() {
		<-ctx.Done()
		stop()
	}()

	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	printError(stderr, err)
	return exitStatus(err)
}

// usageError marks an error caused by how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// hintError adds follow-up lines printed after the error as "hint: …".
type hintError struct {
	err   error
	hints []string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, hints ...string) error {
	return hintError{err: err, hints: hints}
}

func exitStatus(err error) int {
	var ue usageError
	var ce *config.Error
	switch {
	case errors.As(err, &ue), errors.As(err, &ce), errors.Is(err, fs.ErrNotExist), errors.Is(err, config.ErrBadFile),
		errors.Is(err, firewall.ErrInvalidOptions):
		return exitUsage
	case strings.HasPrefix(err.Error(), "unknown command"):
		return exitUsage
	}
	return exitFailure
}

func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "garagectl: error: %v\n", err)
	var he hintError
	if errors.As(err, &he) {
		for _, h := range he.hints {
			fmt.Fprintf(w, "hint: %s\n", h)
		}
	}
	var ce *pki.ConstraintError
	if errors.As(err, &ce) {
		fmt.Fprintln(w, "hint: the CA permits only the broker names and addresses the config had at init.")
		fmt.Fprintln(w, "hint: to serve another, move /etc/garagectl/pki/ca.crt, server.crt and the offline ca.key aside,")
		fmt.Fprintln(w, "hint: run garagectl init for a new CA, then build and flash every relay's firmware again.")
	}
}
