package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/internal/testutil/proctest"
)

// generatedPort is the broker port in the example config.
const generatedPort = 8883

// brokerStartTimeout bounds each wait for a line in mosquitto's log.
const brokerStartTimeout = 10 * time.Second

// brokerPathOptions are the mosquitto.conf options whose value is a host
// path. The test maps each one into the hub's root.
var brokerPathOptions = []string{
	"password_file", "acl_file", "persistence_location", "certfile", "keyfile",
}

// broker is a mosquitto process started on a hub's generated config.
type broker struct {
	addr   string // 127.0.0.1:port of the TLS listener
	pid    int
	log    testutil.SyncBuffer // stdout and stderr of mosquitto
	exited <-chan struct{}
}

// startBroker starts mosquitto on a copy of the hub's mosquitto.conf, as the
// root's mosq account with no supplementary groups, the way systemd starts it
// on the host. It listens on a free port of 127.0.0.1. t.Cleanup stops it and
// logs its output if the test failed.
func startBroker(t *testing.T, h *hub) *broker {
	t.Helper()
	return startBrokerIn(t, h, nil)
}

// startBrokerIn is startBroker in the network namespace ns, where it listens
// on 127.0.0.1 at the generated port. A nil ns is this machine's namespace.
func startBrokerIn(t *testing.T, h *hub, ns *netns) *broker {
	t.Helper()
	mosquitto := testutil.RequireTool(t, "mosquitto", "mosquitto")
	setpriv := testutil.RequireTool(t, "setpriv", "util-linux")
	mosq, err := h.root.LookupUser("mosq")
	if err != nil {
		t.Fatalf("look up the broker's account in the root: %v", err)
	}
	port := generatedPort
	if ns == nil {
		port = testutil.FreePort(t)
	}
	confPath := writeBrokerConfig(t, h, port, mosq.GID)

	b := &broker{addr: "127.0.0.1:" + strconv.Itoa(port)}
	ctx, cancel := context.WithCancel(context.Background())
	args := proctest.SetprivArgs(mosq.UID, mosq.GID, mosquitto, "-c", confPath)
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.command(ctx, setpriv, args...)
	} else {
		cmd = exec.CommandContext(ctx, setpriv, args...)
	}
	cmd.Stdout, cmd.Stderr = &b.log, &b.log
	// nsenter and setpriv exec mosquitto, so SIGTERM reaches the broker
	// itself and it logs its shutdown.
	b.exited = proctest.Start(t, cmd, cancel, "mosquitto", &b.log)
	b.pid = cmd.Process.Pid

	// mosquitto logs "running" after it has opened its listeners. Waiting
	// for that line, not probing the port, keeps the startup log free of
	// the probe's aborted handshake.
	b.waitLog(t, " running")
	return b
}

// writeBrokerConfig copies the hub's mosquitto.conf into a directory beside
// the root, with every path option mapped into the root and the listener on
// 127.0.0.1:port, and returns the copy's path. Like the original, the copy
// is root:mosq 0640 in a root:mosq 0750 directory.
func writeBrokerConfig(t *testing.T, h *hub, port, brokerGID int) string {
	t.Helper()
	generated, err := os.ReadFile(h.path(layout.MosquittoConf))
	if err != nil {
		t.Fatalf("read generated mosquitto.conf: %v", err)
	}
	conf := mapBrokerConfig(t, string(generated), h.path, port)

	dir := filepath.Join(h.dir, "broker")
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatalf("create broker directory: %v", err)
	}
	testutil.WriteFile(t, path, conf, 0o640)
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, 0, brokerGID); err != nil {
			t.Fatalf("hand %s to the broker's group: %v", p, err)
		}
	}
	return path
}

// mapBrokerConfig returns conf with the path options mapped through mapPath
// and the one listener moved to 127.0.0.1:port. Every other line stays as it
// is. It fails the test if an option the test maps is missing, or if another
// option has an absolute path, which would point the broker at this
// machine's own files.
func mapBrokerConfig(t *testing.T, conf string, mapPath func(string) string, port int) string {
	t.Helper()
	mapped := map[string]bool{}
	listeners := 0
	lines := strings.SplitAfter(conf, "\n")
	for i, line := range lines {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		option := fields[0]
		switch {
		case option == "listener":
			listeners++
			lines[i] = fmt.Sprintf("listener %d 127.0.0.1\n", port)
		case slices.Contains(brokerPathOptions, option):
			if len(fields) != 2 || !filepath.IsAbs(fields[1]) {
				t.Fatalf("mosquitto.conf: want %s followed by one absolute path, got %q", option, line)
			}
			path := mapPath(fields[1])
			if strings.HasSuffix(fields[1], "/") {
				path += "/"
			}
			lines[i] = option + " " + path + "\n"
			mapped[option] = true
		default:
			for _, value := range fields[1:] {
				if strings.HasPrefix(value, "/") {
					t.Fatalf("mosquitto.conf: option %s has the path %s, which the test "+
						"does not map into the root", option, value)
				}
			}
		}
	}

	if listeners != 1 {
		t.Fatalf("mosquitto.conf: want one listener line, got %d", listeners)
	}
	for _, option := range brokerPathOptions {
		if !mapped[option] {
			t.Fatalf("mosquitto.conf: no %s line", option)
		}
	}
	return strings.Join(lines, "")
}

// waitLog waits until the broker's output contains text, and fails the test
// if mosquitto exits or brokerStartTimeout passes first.
func (b *broker) waitLog(t *testing.T, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), brokerStartTimeout)
	defer cancel()
	for !strings.Contains(b.log.String(), text) {
		select {
		case <-b.exited:
			t.Fatalf("mosquitto exited before logging %q:\n%s", text, b.log.String())
		case <-ctx.Done():
			t.Fatalf("mosquitto did not log %q within %s:\n%s", text, brokerStartTimeout, b.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// signal sends sig to the broker.
func (b *broker) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(b.pid, sig); err != nil {
		t.Fatalf("send %v to mosquitto (pid %d): %v", sig, b.pid, err)
	}
}
