package boot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// The names and ports of the test config, which keeps the example's.
const (
	brokerName = "hub.home.arpa"
	brokerPort = "8883"
	gatePort   = "1080"
	sshPort    = "22"
	gateHost   = "garage.gate"
	device     = "relay1"
	phone      = "phone1"
	// offlineDir is the example's pki.offline_dir, where init writes the
	// CA key inside the tree.
	offlineDir = "/media/garage-ca"
)

// Timeouts of the scenario's preparation.
const (
	buildTimeout = 5 * time.Minute // go build of one binary
	copyTimeout  = 2 * time.Minute // cp -a of the 270 MB tree
	initTimeout  = 2 * time.Minute // garagectl init, which makes RSA keys
)

// binaries are garagectl and garage-gate, built once per test binary by
// TestMain and installed into each scenario's tree.
var binaries struct {
	garagectl string
	gate      string
	gateErr   error // why garage-gate did not build, if it did not
}

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds the binaries into a temporary directory, runs the tests
// and removes the directory. garagectl must build; garage-gate may not build
// yet, and then only the checks of the gate skip.
func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "garagectl-boot-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "create build directory: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)

	binaries.garagectl = filepath.Join(dir, "garagectl")
	if err := goBuild(binaries.garagectl, "github.com/garagectl/garagectl/cmd/garagectl"); err != nil {
		fmt.Fprintf(os.Stderr, "build garagectl: %v\n", err)
		return 1
	}
	gate := filepath.Join(dir, "garage-gate")
	if err := goBuild(gate, "github.com/garagectl/garagectl/cmd/garage-gate"); err != nil {
		binaries.gateErr = err
	} else {
		binaries.gate = gate
	}
	return m.Run()
}

// goBuild builds pkg into out within buildTimeout.
func goBuild(out, pkg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	return testutil.GoBuild(ctx, out, pkg)
}

// requireGate skips a check of the gate when garage-gate did not build, and
// logs the build error. Under CI=true it fails the test instead.
func requireGate(t *testing.T) {
	t.Helper()
	if binaries.gateErr == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("garage-gate does not build: %v", binaries.gateErr)
	}
	t.Logf("garage-gate does not build, so this check of the gate skips: %v", binaries.gateErr)
	t.SkipNow()
}

// scenario is a provisioned copy of the base tree and the files around it.
type scenario struct {
	dir            string // outside the tree: config, passphrase, unplugged CA, console logs
	root           string // the guest's tree
	configPath     string // garage.yaml that init read
	passphrasePath string
	// mediaDir holds the offline CA while its media is unplugged. The tree's
	// offlineDir holds it only while plugIn is in effect.
	mediaDir string
}

// newScenario copies base, installs the binaries, runs garagectl init on the
// copy with a config for the test network, takes the offline CA out of the
// tree, and adds the test-only network setup.
func newScenario(t *testing.T, base string) *scenario {
	t.Helper()
	testutil.RequireTool(t, "systemd-sysusers", "systemd")
	dir := t.TempDir()
	s := &scenario{
		dir:            dir,
		root:           filepath.Join(dir, "root"),
		configPath:     filepath.Join(dir, "garage.yaml"),
		passphrasePath: filepath.Join(dir, "ca-passphrase"),
		mediaDir:       filepath.Join(dir, "media"),
	}

	ctx, cancel := context.WithTimeout(t.Context(), copyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "cp", "-a", base, s.root).CombinedOutput(); err != nil {
		t.Fatalf("copy the base tree: %v\n%s", err, out)
	}
	// An empty machine-id makes the guest generate its own at first boot.
	// systemd would copy /var/lib/dbus/machine-id instead, which debootstrap
	// made for the base tree, so that file goes too. dbus's tmpfiles.d
	// entry makes it a link to /etc/machine-id again.
	s.writeTreeFile(t, "/etc/machine-id", "", 0o444)
	if err := os.Remove(s.path("/var/lib/dbus/machine-id")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s.writeTreeFile(t, "/etc/hostname", "hub\n", 0o644)
	// debootstrap copied this machine's resolver; the guest gets none, so
	// even a stray lookup goes to its own loopback.
	s.writeTreeFile(t, "/etc/resolv.conf", "# no resolver: the boot test network has no DNS\n", 0o644)

	s.installBinary(t, binaries.garagectl, "/usr/local/bin/garagectl")
	if binaries.gate != "" {
		s.installBinary(t, binaries.gate, "/usr/local/bin/garage-gate")
	} else {
		s.skipGateUnit(t)
	}

	s.writeConfig(t)
	s.runInit(t)
	s.unplugMedia(t)
	s.addTestNetwork(t)
	return s
}

// path maps a guest path into the tree.
func (s *scenario) path(guestPath string) string {
	return filepath.Join(s.root, filepath.FromSlash(guestPath))
}

func (s *scenario) writeTreeFile(t *testing.T, guestPath, data string, mode os.FileMode) {
	t.Helper()
	p := s.path(guestPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatalf("create %s: %v", filepath.Dir(guestPath), err)
	}
	// Remove first, so a symlink in the base tree is replaced, not followed.
	os.Remove(p)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatalf("write %s in the tree: %v", guestPath, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func (s *scenario) installBinary(t *testing.T, src, guestPath string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	s.writeTreeFile(t, guestPath, string(data), 0o755)
}

// skipGateUnit adds a drop-in that skips garage-gate.service when there is no
// garage-gate binary to install, so the rest of the boot can still be checked.
func (s *scenario) skipGateUnit(t *testing.T) {
	t.Helper()
	s.writeTreeFile(t, "/etc/systemd/system/garage-gate.service.d/boot-test-no-binary.conf",
		"[Unit]\nConditionPathExists=/usr/local/bin/garage-gate\n", 0o644)
}

// writeConfig writes the example config with the broker's address and the
// allowed sources of the test network, a short cooldown, and secrets that are
// not the example's placeholders.
func (s *scenario) writeConfig(t *testing.T) {
	t.Helper()
	config := s.garagectl(t, "config", "example")
	// The checks use these values of the example as they are.
	for _, line := range []string{
		"names: [" + brokerName + "]",
		"port: " + brokerPort,
		"ssh_from: []",
		"offline_dir: " + offlineDir,
		"listen: 0.0.0.0:" + gatePort,
		"hostname: " + gateHost,
	} {
		if !strings.Contains(config, line) {
			t.Fatalf("the example config has no %q:\n%s", line, config)
		}
	}
	for _, r := range []struct{ old, new string }{
		{"addresses: [192.168.1.10]", "addresses: [" + guestAddr + "]"},
		{"mqtt_from: [192.168.1.0/24]", "mqtt_from: [" + allowedSource + "/32]"},
		{"gate_from: [192.168.1.0/24]", "gate_from: [" + allowedSource + "/32]"},
		// The minimum cooldown, so the checks can trigger the door twice
		// a boot without waiting 10 s in between.
		{"cooldown: 10s", "cooldown: 1s"},
	} {
		if !strings.Contains(config, r.old) {
			t.Fatalf("the example config has no %q:\n%s", r.old, config)
		}
		config = strings.Replace(config, r.old, r.new, 1)
	}
	if err := os.WriteFile(s.configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := "wifi_ssid: \"boot-test-ssid\"\nwifi_password: \"boot-test-wifi-passphrase\"\n"
	if err := os.WriteFile(filepath.Join(s.dir, "secrets.yaml"), []byte(secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.passphrasePath, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *scenario) runInit(t *testing.T) {
	t.Helper()
	s.garagectl(t, "init", "--quiet", "--config", s.configPath, "--root", s.root,
		"--ca-passphrase-file", s.passphrasePath)
}

// garagectl runs the host's garagectl binary and returns its stdout. It fails
// the test unless garagectl exits with 0.
func (s *scenario) garagectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), initTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binaries.garagectl, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("garagectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err,
			stdout.String(), stderr.String())
	}
	return stdout.String()
}

// unplugMedia moves the offline CA out of the tree, as the owner unplugs its
// media after init. audit reports a CA key it finds on the host.
func (s *scenario) unplugMedia(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(s.mediaDir, 0o700); err != nil {
		t.Fatal(err)
	}
	moveFiles(t, s.path(offlineDir), s.mediaDir)
}

// plugIn copies the offline CA and the passphrase into the tree, which the
// running guest shares, and returns the guest path of the passphrase file. t.Cleanup removes both again, on failure too.
func (s *scenario) plugIn(t *testing.T) string {
	t.Helper()
	const passphraseFile = "/root/boot-test-ca-passphrase"
	entries, err := os.ReadDir(s.mediaDir)
	if err != nil {
		t.Fatalf("read the unplugged media: %v", err)
	}
	var copied []string
	t.Cleanup(func() {
		for _, p := range append(copied, s.path(passphraseFile)) {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Errorf("unplug the offline CA: %v", err)
			}
		}
	})
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(s.mediaDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(s.path(offlineDir), e.Name())
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatalf("plug in the offline CA: %v", err)
		}
		copied = append(copied, dst)
	}
	passphrase, err := os.ReadFile(s.passphrasePath)
	if err != nil {
		t.Fatal(err)
	}
	s.writeTreeFile(t, passphraseFile, string(passphrase), 0o600)
	return passphraseFile
}

func moveFiles(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatalf("read %s: %v", from, err)
	}
	if len(entries) == 0 {
		t.Fatalf("init wrote nothing into %s", from)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			t.Fatalf("move the offline CA: %v", err)
		}
	}
}

// addTestNetwork gives host0 the guest's static address through
// systemd-networkd and enables networkd the way "systemctl enable" would.
// This is test scaffolding: init writes no network configuration.
func (s *scenario) addTestNetwork(t *testing.T) {
	t.Helper()
	// The 10- prefix sorts before systemd's 80-container-host0.network,
	// which would ask for DHCP. IPv6 is off, so the link is configured
	// without waiting for router advertisements.
	s.writeTreeFile(t, "/etc/systemd/network/10-boot-test-host0.network", fmt.Sprintf(
		"[Match]\nName=host0\n\n[Network]\nAddress=%s/%s\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n",
		guestAddr, netPrefixLen), 0o644)
	for link, target := range map[string]string{
		"/etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "/lib/systemd/system/systemd-networkd.service",
		"/etc/systemd/system/sockets.target.wants/systemd-networkd.socket":     "/lib/systemd/system/systemd-networkd.socket",
		"/etc/systemd/system/dbus-org.freedesktop.network1.service":            "/lib/systemd/system/systemd-networkd.service",
	} {
		p := s.path(link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatalf("enable systemd-networkd: %v", err)
		}
	}
}

// readTreeFile returns a file of the tree, which the running guest shares.
func (s *scenario) readTreeFile(t *testing.T, guestPath string) []byte {
	t.Helper()
	data, err := os.ReadFile(s.path(guestPath))
	if err != nil {
		t.Fatalf("read %s in the tree: %v", guestPath, err)
	}
	return data
}

// secret returns a credential file of the tree without its line end, after
// checking that it holds one line.
func (s *scenario) secret(t *testing.T, guestPath string) string {
	t.Helper()
	data := string(s.readTreeFile(t, guestPath))
	secret, ok := strings.CutSuffix(data, "\n")
	if !ok || secret == "" || strings.ContainsAny(secret, "\r\n \t") {
		t.Fatalf("%s: want the secret alone on one line, got %d bytes", guestPath, len(data))
	}
	return secret
}
