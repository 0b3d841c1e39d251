// Package proctest starts long-running programs, such as mosquitto, for tests
// and stops them when the test ends.
package proctest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a program may take to exit after SIGTERM before
// exec.Cmd kills it.
const stopGrace = 5 * time.Second

// Start starts cmd and returns a channel that is closed when cmd has exited.
// cmd must come from exec.CommandContext with a context that cancel ends, and
// its Stdout and Stderr should write to output. Ending the context sends
// SIGTERM, so that a program such as mosquitto logs its shutdown, and kills
// the program after stopGrace. t.Cleanup ends the context, waits for the exit
// and, when the test failed, logs output under name.
func Start(
	t testing.TB, cmd *exec.Cmd, cancel context.CancelFunc, name string, output fmt.Stringer,
) <-chan struct{} {
	t.Helper()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}

	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", name, output.String())
		}
	})
	return exited
}

// SetprivArgs returns the setpriv arguments that run program with args as
// uid and gid with no supplementary groups, the way systemd starts a service
// with User= and Group=. setpriv execs program, so a signal to the process
// reaches program itself.
func SetprivArgs(uid, gid int, program string, args ...string) []string {
	return append([]string{
		"--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--clear-groups",
		"--", program,
	}, args...)
}
