package boot

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// The private network between the host end of the veth and the guest. The
// host end carries two addresses, so one run plays a source that the config
// allows and one that it does not.
const (
	guestAddr     = "10.99.0.2"
	allowedSource = "10.99.0.1"
	blockedSource = "10.99.0.3"
	netPrefixLen  = "24"
)

// Timeouts of the boot steps.
const (
	startTimeout    = 30 * time.Second // nspawn forks the guest's PID 1 and makes the veth
	runningTimeout  = 60 * time.Second // the guest reaches the end of its boot
	networkTimeout  = 30 * time.Second // systemd-networkd gives host0 its address
	guestTimeout    = 60 * time.Second // one command in the guest
	shutdownTimeout = 30 * time.Second // the guest powers off after SIGTERM to nspawn
	killTimeout     = 10 * time.Second // nspawn and unshare exit after SIGKILL
	pollInterval    = 50 * time.Millisecond
)

// haltLine is what systemd-shutdown prints on the console when nspawn's SIGTERM
// has halted the guest in order.
const haltLine = "Halting system."

// guestEnv is the whole environment of commands run in the guest, so nothing
// of the test's environment, such as GARAGECTL_CA_PASSPHRASE, leaks in.
var guestEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C.UTF-8",
	"TERM=dumb",
	"SYSTEMD_COLORS=0",
	"SYSTEMD_PAGER=",
}

// tools are the host programs the harness runs.
type tools struct {
	unshare, nspawn, nsenter, ip string
}

func requireTools(t *testing.T) tools {
	t.Helper()
	testutil.RequireRoot(t, "systemd-nspawn boots the guest and nsenter enters its namespaces")
	return tools{
		unshare: testutil.RequireTool(t, "unshare", "util-linux"),
		nspawn:  testutil.RequireTool(t, "systemd-nspawn", "systemd-container"),
		nsenter: testutil.RequireTool(t, "nsenter", "util-linux"),
		ip:      testutil.RequireTool(t, "ip", "iproute2"),
	}
}

// machine is one boot of a scenario's tree under systemd-nspawn, wrapped in
// unshare --net so that the host end of the veth, and everything the guest
// does to the network, stays out of this machine's network namespace.
type machine struct {
	tools
	name      string
	unshare   *exec.Cmd
	netns     string // /proc/PID/ns/net of unshare: the host end of the veth
	nspawnPID int
	leaderPID int    // the guest's PID 1, as this machine numbers it
	state     string // what systemctl is-system-running --wait printed
	console   *os.File

	exited  chan struct{} // closed when unshare has exited
	exitErr error         // unshare's exit, valid after exited is closed

	stopOnce        sync.Once
	stopErr         error
	shutdownChecked bool // a test called shutdown and reported its error
}

// bootMachine boots the scenario's tree, waits until systemd has finished
// starting the guest and host0 has its address, and returns the machine. The
// machine is shut down when the test ends, on failure too.
func bootMachine(t *testing.T, hostTools tools, s *scenario, boot int) *machine {
	t.Helper()
	m := &machine{tools: hostTools, name: machineName(), exited: make(chan struct{})}
	console, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("console-%d.log", boot)))
	if err != nil {
		t.Fatalf("create console log: %v", err)
	}
	m.console = console

	// --kill-child=SIGTERM: when unshare dies, nspawn gets SIGTERM, which
	// powers the guest off in order.
	m.unshare = exec.Command(m.tools.unshare, "--net", "--kill-child=SIGTERM", "--",
		m.tools.nspawn, "-q", "-D", s.root, "--boot", "--machine="+m.name, "--register=no", "--keep-unit",
		"--network-veth", "--console=read-only")
	// SYSTEMD_SECCOMP=0: nspawn's own seccomp filter blocks bpf(), and then
	// the guest's systemd silently skips IPAddressAllow= and IPAddressDeny=.
	// SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: a pure cgroup v2 guest, as on a
	// Debian 12 host.
	m.unshare.Env = append(os.Environ(), "SYSTEMD_SECCOMP=0", "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1")
	m.unshare.Stdout, m.unshare.Stderr = console, console
	// When the test binary dies without running its cleanups, Pdeathsig
	// kills unshare, and --kill-child passes SIGTERM on to nspawn. It must
	// be SIGKILL: unshare --fork blocks SIGTERM and SIGINT while it waits.
	m.unshare.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := m.start(); err != nil {
		console.Close()
		t.Fatalf("start unshare and systemd-nspawn: %v", err)
	}
	t.Cleanup(func() {
		// A test that checked the shutdown itself reported its error.
		if err := m.stop(); err != nil && !m.shutdownChecked {
			t.Errorf("stop the guest: %v", err)
		}
		console.Close()
		if t.Failed() {
			t.Logf("last lines of the guest's console:\n%s", lastLines(m.consoleText(), 40))
		}
	})

	m.waitStarted(t)
	m.setUpHostEnd(t)
	m.waitRunning(t)
	m.waitGuestAddress(t)
	return m
}

// machineName returns a random machine name short enough that the host end
// of the veth, "ve-" and the name, fits the kernel's 15-byte interface names.
func machineName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "gb" + hex.EncodeToString(b)
}

// start starts unshare from a goroutine that keeps its thread until unshare
// exits: Pdeathsig fires when the thread that forked the child ends, and the
// netns dialer ends threads on purpose.
func (m *machine) start() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := m.unshare.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		m.exitErr = m.unshare.Wait()
		close(m.exited)
	}()
	return <-started
}

// waitStarted waits for nspawn and the guest's PID 1, and checks that nspawn
// runs in a network namespace other than this machine's.
func (m *machine) waitStarted(t *testing.T) {
	t.Helper()
	unsharePID := m.unshare.Process.Pid
	m.waitFor(t, startTimeout, "systemd-nspawn to start", func() (bool, string) {
		children := childPIDs(unsharePID)
		if len(children) != 1 {
			return false, fmt.Sprintf("unshare has children %v", children)
		}
		m.nspawnPID = children[0]
		return true, ""
	})
	m.netns = "/proc/" + strconv.Itoa(unsharePID) + "/ns/net"
	same, err := sameNetns(m.netns, "/proc/self/ns/net")
	if err != nil {
		t.Fatalf("compare network namespaces: %v", err)
	}
	if same {
		t.Fatalf("unshare --net left systemd-nspawn in this machine's network namespace")
	}

	// nspawn forks helper processes while it sets up. The guest's PID 1
	// is the child that is PID 1 in a PID namespace of its own.
	m.waitFor(t, startTimeout, "the guest's PID 1", func() (bool, string) {
		for _, pid := range childPIDs(m.nspawnPID) {
			if isNamespaceInit(pid) {
				m.leaderPID = pid
				return true, ""
			}
		}
		return false, fmt.Sprintf("systemd-nspawn has children %v", childPIDs(m.nspawnPID))
	})
}

// setUpHostEnd gives the host end of the veth the allowed and the blocked
// source address and brings it up, inside unshare's network namespace.
func (m *machine) setUpHostEnd(t *testing.T) {
	t.Helper()
	link := "ve-" + m.name
	m.waitFor(t, startTimeout, "the veth "+link, func() (bool, string) {
		out, err := m.hostSide(t.Context(), m.tools.ip, "-o", "link", "show", "dev", link).CombinedOutput()
		return err == nil, string(out)
	})
	for _, args := range [][]string{
		{"addr", "add", allowedSource + "/" + netPrefixLen, "dev", link},
		{"addr", "add", blockedSource + "/" + netPrefixLen, "dev", link},
		{"link", "set", link, "up"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), guestTimeout)
		out, err := m.hostSide(ctx, m.tools.ip, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// waitRunning waits for systemctl is-system-running --wait and keeps what it
// printed. Until the guest's systemd listens on its private socket, systemctl
// fails or prints "offline"; those are retried.
func (m *machine) waitRunning(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(runningTimeout)
	m.waitFor(t, runningTimeout, "systemctl is-system-running --wait", func() (bool, string) {
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		defer cancel()
		var out bytes.Buffer
		cmd := m.guestCommand(ctx, "systemctl", "is-system-running", "--wait")
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		state := strings.TrimSpace(out.String())
		switch state {
		case "running", "degraded", "maintenance", "stopping":
			m.state = state
			return true, ""
		}
		return false, state
	})
}

// waitGuestAddress waits until systemd-networkd has given host0 the guest's
// address. It does not wait on systemd-networkd-wait-online, which waits
// about 13 s for IPv6 settings that the test network does not have.
func (m *machine) waitGuestAddress(t *testing.T) {
	t.Helper()
	guestNetns := "/proc/" + strconv.Itoa(m.leaderPID) + "/ns/net"
	m.waitFor(t, networkTimeout, "address "+guestAddr+" on host0", func() (bool, string) {
		cmd := exec.CommandContext(t.Context(), m.tools.nsenter, "--net="+guestNetns, "--",
			m.tools.ip, "-4", "-o", "addr", "show", "dev", "host0")
		out, _ := cmd.CombinedOutput()
		return strings.Contains(string(out), " "+guestAddr+"/"+netPrefixLen+" "), string(out)
	})
}

// waitFor calls check every pollInterval until it returns true, and fails the
// test after timeout or when nspawn exits, with check's last detail.
func (m *machine) waitFor(t *testing.T, timeout time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		ok, detail := check()
		if ok {
			return
		}
		select {
		case <-m.exited:
			t.Fatalf("systemd-nspawn exited (%v) while the test waited for %s; last console lines:\n%s",
				m.exitErr, what, lastLines(m.consoleText(), 30))
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, detail)
		case <-t.Context().Done():
			t.Fatalf("test ended while waiting for %s", what)
		case <-time.After(pollInterval):
		}
	}
}

// cmdResult is the outcome of one command.
type cmdResult struct {
	stdout, stderr string
	exitCode       int
}

// guestCommand returns a command that runs args in all namespaces of the
// guest's PID 1, with the guest's root and guestEnv.
func (m *machine) guestCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, m.tools.nsenter,
		append([]string{"-t", strconv.Itoa(m.leaderPID), "-a", "--"}, args...)...)
	cmd.Env = guestEnv
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// guest runs args in the guest with an empty stdin and returns the outcome.
// It fails the test when the command cannot run or times out.
func (m *machine) guest(t *testing.T, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guestTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := m.guestCommand(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s in the guest did not finish within %s:\n%s%s",
			strings.Join(args, " "), guestTimeout, stdout.String(), stderr.String())
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run %s in the guest: %v", strings.Join(args, " "), err)
	}
	return cmdResult{stdout: stdout.String(), stderr: stderr.String(), exitCode: cmd.ProcessState.ExitCode()}
}

// mustGuest is guest that fails the test unless the command exits with 0.
func (m *machine) mustGuest(t *testing.T, args ...string) string {
	t.Helper()
	res := m.guest(t, args...)
	if res.exitCode != 0 {
		t.Fatalf("%s in the guest: exit status %d\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), res.exitCode, res.stdout, res.stderr)
	}
	return res.stdout
}

// hostSide returns a command that runs name in unshare's network namespace,
// where the host end of the veth is. nsenter execs name, so the command's
// process is name itself.
func (m *machine) hostSide(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, m.tools.nsenter, append([]string{"--net=" + m.netns, "--", name}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// dial opens a TCP connection to the guest's port from source, on the host
// end of the veth.
func (m *machine) dial(ctx context.Context, source, port string) (net.Conn, error) {
	return dialFrom(ctx, m.netns, source, guestAddr+":"+port)
}

// shutdown powers the guest off, as stop does, for a test that checks the
// outcome.
func (m *machine) shutdown() error {
	m.shutdownChecked = true
	return m.stop()
}

// stop shuts the guest down once: SIGTERM to nspawn, bounded by
// shutdownTimeout, then SIGKILL to the guest's PID 1, nspawn and unshare. It
// removes the propagation directory that nspawn leaves under /run, because
// /run on this machine is not a tmpfs.
func (m *machine) stop() error {
	m.stopOnce.Do(func() {
		var errs []error
		if m.nspawnPID != 0 {
			syscall.Kill(m.nspawnPID, syscall.SIGTERM)
		} else {
			// unshare ignores SIGTERM; killing it sends SIGTERM to the
			// nspawn that it may have started by now.
			syscall.Kill(m.unshare.Process.Pid, syscall.SIGKILL)
		}
		select {
		case <-m.exited:
			if m.exitErr != nil {
				errs = append(errs, fmt.Errorf("systemd-nspawn: %w", m.exitErr))
			}
			if !strings.Contains(m.consoleText(), haltLine) {
				errs = append(errs, fmt.Errorf("the guest's console has no %q: the shutdown was not orderly", haltLine))
			}
		case <-time.After(shutdownTimeout):
			errs = append(errs, fmt.Errorf("the guest did not power off within %s of SIGTERM", shutdownTimeout))
			m.kill()
			select {
			case <-m.exited:
			case <-time.After(killTimeout):
				errs = append(errs, fmt.Errorf("unshare (PID %d) still runs %s after SIGKILL",
					m.unshare.Process.Pid, killTimeout))
			}
		}
		propagate := filepath.Join("/run/systemd/nspawn/propagate", m.name)
		if err := os.Remove(propagate); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove nspawn's propagation directory: %w", err))
		}
		m.stopErr = errors.Join(errs...)
	})
	return m.stopErr
}

// kill sends SIGKILL to the guest's PID 1, which ends every process in the
// guest's PID namespace, and to unshare's process group, nspawn included.
func (m *machine) kill() {
	if m.leaderPID != 0 {
		syscall.Kill(m.leaderPID, syscall.SIGKILL)
	}
	syscall.Kill(-m.unshare.Process.Pid, syscall.SIGKILL)
}

func (m *machine) consoleText() string {
	data, _ := os.ReadFile(m.console.Name())
	return string(data)
}

// childPIDs returns the children of pid's main thread.
func childPIDs(pid int) []int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// isNamespaceInit reports whether pid is PID 1 of a PID namespace below this
// one: its NSpid line in /proc/PID/status has two numbers, the last being 1.
func isNamespaceInit(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			return len(f) == 2 && f[1] == "1"
		}
	}
	return false
}
