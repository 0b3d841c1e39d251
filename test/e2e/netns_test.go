package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// netns is a private network namespace whose only interface is an up
// loopback. A process started in it reaches nothing outside: no other host,
// no DNS resolver, and no loopback server of this machine.
type netns struct {
	path    string // /proc/PID/ns/net of the process that keeps it alive
	nsenter string
}

// newNetns creates a network namespace that lives until the test ends.
func newNetns(t *testing.T) *netns {
	t.Helper()
	nsenter := testutil.RequireTool(t, "nsenter", "util-linux")
	ip := testutil.RequireTool(t, "ip", "iproute2")
	sleep := testutil.RequireTool(t, "sleep", "coreutils")

	// The holder is cloned straight into the new namespace, so its
	// /proc/PID/ns/net never names this machine's namespace.
	ctx, cancel := context.WithCancel(context.Background())
	holder := exec.CommandContext(ctx, sleep, "infinity")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	holder.WaitDelay = 5 * time.Second
	if err := holder.Start(); err != nil {
		cancel()
		t.Fatalf("start the network namespace's holder process: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		holder.Wait()
	})

	ns := &netns{path: "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/net", nsenter: nsenter}
	upCtx, upCancel := context.WithTimeout(t.Context(), opensslTimeout)
	defer upCancel()
	if out, err := ns.command(upCtx, ip, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("bring up loopback in the network namespace: %v\n%s", err, out)
	}
	return ns
}

// command returns a command that runs name with args in the namespace.
// nsenter execs name, so the command's process is name itself.
func (ns *netns) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, ns.nsenter,
		append([]string{"--net=" + ns.path, "--", name}, args...)...)
}
