package boot

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// The units that init writes and enables.
const (
	brokerUnit   = "garage-mosquitto.service"
	gateUnit     = "garage-gate.service"
	firewallUnit = "garage-firewall.service"
)

// Files in the tree that the checks read or change.
const (
	serverCertFile     = "/etc/garagectl/pki/server.crt"
	caCertFile         = "/etc/garagectl/pki/ca.crt"
	devicePasswordFile = "/var/lib/garagectl/mqtt/" + device + ".password"
	deviceKeyFile      = "/var/lib/garagectl/devices/" + device + ".key"
	phonePasswordFile  = "/var/lib/garagectl/phones/" + phone + ".password"
	phoneTokenFile     = "/var/lib/garagectl/phones/" + phone + ".token"
)

// gateReadyLine is what the gate logs once it is connected to the broker and
// can send commands.
const gateReadyLine = `msg="connected to the broker"`

// Journal lines of a reload of the broker: systemd's when the reload job,
// which sends SIGHUP, is done, and mosquitto's when it handles the signal.
const (
	systemdReloadLine = "Reloaded " + brokerUnit
	brokerReloadLine  = "Reloading config."
)

// Sandbox exposure limits, as systemd-analyze security scores them from 0
// (locked down) to 10.
var maxExposure = map[string]float64{gateUnit: 1.1, brokerUnit: 1.2}

// steadyTimeout bounds the wait for a daemon to be running and ready after
// the boot or a restart.
const steadyTimeout = 10 * time.Second

// clientTimeout bounds one run of curl or openssl on the host side.
const clientTimeout = 15 * time.Second

// noResponseWait is how long a connection from the blocked source waits for a
// response that must not come.
const noResponseWait = 3 * time.Second

// checkBoot runs the acceptance checks on a booted guest, each as a subtest.
func checkBoot(t *testing.T, s *scenario, m *machine, h *history) {
	t.Run("system running", func(t *testing.T) {
		if m.state != "running" {
			t.Errorf("systemctl is-system-running --wait printed %q, want running; failed units:\n%s",
				m.state, m.guest(t, "systemctl", "--failed", "--no-legend", "--plain").stdout)
		}
	})
	t.Run("broker active", func(t *testing.T) {
		checkDaemonActive(t, m, brokerUnit, "")
	})
	t.Run("gate active", func(t *testing.T) {
		requireGate(t)
		checkDaemonActive(t, m, gateUnit, gateReadyLine)
	})
	t.Run("firewall before network-pre", func(t *testing.T) {
		checkFirewallOrder(t, m)
	})
	t.Run("daemon journals clean at start", func(t *testing.T) {
		checkJournals(t, m)
	})
	t.Run("sandbox exposure", func(t *testing.T) {
		checkExposure(t, m)
	})

	var sub *mqttClient
	t.Run("allowed source", func(t *testing.T) {
		t.Run("TLS with garage CA only", func(t *testing.T) {
			checkOpenSSL(t, s, m)
		})
		t.Run("CONNACK as device", func(t *testing.T) {
			c, code, err := dialMQTT(t, m, clientTLS(t, s), allowedSource, device,
				s.secret(t, devicePasswordFile))
			if err != nil {
				t.Fatalf("connect as %s from %s: %v (CONNACK return code %d)", device, allowedSource, err, code)
			}
			c.mustSubscribe(t, "garage/"+device+"/cmd")
			sub = c
		})
	})
	if sub != nil {
		t.Cleanup(func() { sub.client.Disconnect(100) })
	}
	t.Run("blocked source", func(t *testing.T) {
		checkBlockedSource(t, m)
	})

	t.Run("trigger through gate", func(t *testing.T) {
		requireGate(t)
		if sub == nil {
			t.Fatal("no subscriber, because the CONNACK check failed")
		}
		checkTrigger(t, s, m, sub, h)
	})
	t.Run("live cert rotate", func(t *testing.T) {
		checkRotate(t, s, m, sub, h)
	})
	t.Run("live apply unchanged", func(t *testing.T) {
		res := m.guest(t, "garagectl", "apply")
		if res.exitCode != 0 || !strings.Contains(res.stdout, "nothing to change") {
			t.Errorf("garagectl apply: exit status %d, want 0 and \"nothing to change\"\nstdout:\n%s\nstderr:\n%s",
				res.exitCode, res.stdout, res.stderr)
		}
	})
	t.Run("audit", func(t *testing.T) {
		checkAudit(t, s, m)
	})
	t.Run("daemon journals clean after checks", func(t *testing.T) {
		checkJournals(t, m)
	})
}

// checkDaemonActive waits until unit is active and running and, when
// readyLine is set, its journal of this boot contains readyLine. It fails at
// once when systemd has restarted the unit, because a daemon that crashes
// and restarts can look active at any one moment.
func checkDaemonActive(t *testing.T, m *machine, unit, readyLine string) {
	t.Helper()
	deadline := time.Now().Add(steadyTimeout)
	for {
		p := m.unitProps(t, unit, "ActiveState", "SubState", "NRestarts")
		if p["NRestarts"] != "0" {
			t.Fatalf("systemd restarted %s %s times; journal:\n%s", unit, p["NRestarts"], m.journal(t, unit))
		}
		ready := readyLine == "" || strings.Contains(m.journal(t, unit), readyLine)
		if p["ActiveState"] == "active" && p["SubState"] == "running" && ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s (%s) after %s, want active (running) with %q in its journal; journal:\n%s",
				unit, p["ActiveState"], p["SubState"], steadyTimeout, readyLine, m.journal(t, unit))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkFirewallOrder checks that the firewall unit ran and exited with 0
// before network-pre.target was reached and before systemd-networkd started,
// so no interface was configured without the ruleset.
func checkFirewallOrder(t *testing.T, m *machine) {
	t.Helper()
	fw := m.unitProps(t, firewallUnit, "Result", "ExecMainStatus", "ActiveState", "ExecMainExitTimestampMonotonic")
	pre := m.unitProps(t, "network-pre.target", "ActiveState", "ActiveEnterTimestampMonotonic")
	networkd := m.unitProps(t, "systemd-networkd.service", "ExecMainStartTimestampMonotonic")

	if fw["Result"] != "success" || fw["ExecMainStatus"] != "0" || fw["ActiveState"] != "active" {
		t.Errorf("%s: Result=%s ExecMainStatus=%s ActiveState=%s, want success, 0, active; journal:\n%s",
			firewallUnit, fw["Result"], fw["ExecMainStatus"], fw["ActiveState"], m.journal(t, firewallUnit))
	}
	if pre["ActiveState"] != "active" {
		t.Errorf("network-pre.target is %s, want active", pre["ActiveState"])
	}
	exited := monotonic(t, fw, "ExecMainExitTimestampMonotonic")
	if exited == 0 {
		t.Fatalf("%s has no exit time: it did not run", firewallUnit)
	}
	if reached := monotonic(t, pre, "ActiveEnterTimestampMonotonic"); exited > reached {
		t.Errorf("%s exited at %d µs, after network-pre.target was reached at %d µs",
			firewallUnit, exited, reached)
	}
	if started := monotonic(t, networkd, "ExecMainStartTimestampMonotonic"); exited > started {
		t.Errorf("%s exited at %d µs, after systemd-networkd started at %d µs",
			firewallUnit, exited, started)
	}
}

func monotonic(t *testing.T, props map[string]string, name string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(props[name], 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, props[name], err)
	}
	return v
}

// journalProblemRE matches journal lines that report a problem: mosquitto's
// "Warning:" and "Error:" lines, the gate's level=WARN and level=ERROR, and
// systemd's failure messages and unreadable files.
var journalProblemRE = regexp.MustCompile(`(?i)warn|error|fail|permission|denied|unable|cannot|can't`)

// checkJournals fails the test for each line of this boot's journal of the
// broker and the gate that reports a problem.
func checkJournals(t *testing.T, m *machine) {
	t.Helper()
	for _, unit := range []string{brokerUnit, gateUnit} {
		t.Run(unit, func(t *testing.T) {
			if unit == gateUnit {
				requireGate(t)
			}
			for line := range strings.SplitSeq(m.journal(t, unit), "\n") {
				if journalProblemRE.MatchString(line) {
					t.Errorf("journal of %s: %s", unit, line)
				}
			}
		})
	}
}

// checkShutdownJournals checks the journal of the last boot of the tree, read
// from its files after the guest powered off, so that it includes what the
// daemons logged while they stopped, such as mosquitto saving its database.
func checkShutdownJournals(t *testing.T, s *scenario) {
	t.Helper()
	journalctl := testutil.RequireTool(t, "journalctl", "systemd")
	for _, unit := range []string{brokerUnit, gateUnit} {
		t.Run(unit, func(t *testing.T) {
			if unit == gateUnit {
				requireGate(t)
			}
			ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
			defer cancel()
			// -b -0 is the last boot in the files, not this machine's.
			out, err := exec.CommandContext(ctx, journalctl, "--directory="+s.path("/var/log/journal"),
				"-b", "-0", "-q", "--no-pager", "-o", "short-monotonic", "-u", unit).CombinedOutput()
			if err != nil {
				t.Fatalf("journalctl on the tree's journal: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "Stopped "+unit) {
				t.Errorf("the journal of %s has no line that systemd stopped it:\n%s", unit, out)
			}
			for line := range strings.SplitSeq(string(out), "\n") {
				if journalProblemRE.MatchString(line) {
					t.Errorf("journal of %s: %s", unit, line)
				}
			}
		})
	}
}

// exposureRE matches the summary line of systemd-analyze security.
var exposureRE = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9]+\.[0-9]+)`)

// checkExposure scores the units of the running guest with systemd-analyze
// security, which scores each unit as loaded, drop-ins included.
func checkExposure(t *testing.T, m *machine) {
	t.Helper()
	for _, unit := range slices.Sorted(maps.Keys(maxExposure)) {
		t.Run(unit, func(t *testing.T) {
			out := m.mustGuest(t, "systemd-analyze", "security", "--no-pager", unit)
			match := exposureRE.FindStringSubmatch(out)
			if match == nil {
				t.Fatalf("systemd-analyze security %s printed no overall exposure:\n%s", unit, out)
			}
			got, err := strconv.ParseFloat(match[2], 64)
			if err != nil {
				t.Fatal(err)
			}
			if got > maxExposure[unit] {
				t.Errorf("%s: exposure %.1f, want at most %.1f; the open items:\n%s",
					unit, got, maxExposure[unit], openItems(out))
			}
		})
	}
}

// openItems returns the lines of systemd-analyze security that mark a
// protection as missing.
func openItems(out string) string {
	var lines []string
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "✗") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// checkOpenSSL completes a TLS handshake from the allowed source with openssl
// s_client, trusting only the garage CA and checking the broker's name.
func checkOpenSSL(t *testing.T, s *scenario, m *machine) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl", "openssl")
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	out, err := m.hostSide(ctx, openssl, "s_client",
		"-connect", guestAddr+":"+brokerPort, "-bind", allowedSource+":0",
		"-CAfile", s.path(caCertFile), "-no-CApath", "-no-CAstore", "-verify_return_error",
		"-servername", brokerName, "-verify_hostname", brokerName).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl s_client from %s: %v\n%s", allowedSource, err, out)
	}
	if !strings.Contains(string(out), "Verified peername: "+brokerName) {
		t.Errorf("openssl s_client did not verify the name %s:\n%s", brokerName, out)
	}
}

// checkBlockedSource checks that the broker and gate ports send the blocked
// source no response at all, neither a handshake nor a reset. SSH responds to
// both sources, which shows that the blocked address is reachable.
func checkBlockedSource(t *testing.T, m *machine) {
	t.Helper()
	for _, port := range []struct{ name, port string }{{"broker", brokerPort}, {"gate", gatePort}} {
		t.Run("no response on "+port.name+" port", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), noResponseWait)
			defer cancel()
			conn, err := m.dial(ctx, blockedSource, port.port)
			if err == nil {
				conn.Close()
				t.Fatalf("%s connected to port %s", blockedSource, port.port)
			}
			if !isTimeout(err) {
				t.Errorf("connect from %s to port %s: %v, want no response within %s",
					blockedSource, port.port, err, noResponseWait)
			}
		})
	}
	for _, source := range []string{allowedSource, blockedSource} {
		t.Run("SSH banner to "+source, func(t *testing.T) {
			t.Parallel()
			banner, err := sshBanner(t, m, source)
			if err != nil {
				t.Fatalf("SSH from %s: %v", source, err)
			}
			if !strings.HasPrefix(banner, "SSH-2.0-") {
				t.Errorf("SSH from %s: banner %q, want SSH-2.0-…", source, banner)
			}
		})
	}
}

// sshBanner connects from source to the guest's SSH port and returns the
// first line that the server sends.
func sshBanner(t *testing.T, m *machine, source string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	conn, err := m.dial(ctx, source, sshPort)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// checkTrigger triggers the device through the gate from the allowed source
// and checks that the subscriber receives one verified command whose
// sequence number is above every one seen before, in this boot or the last.
func checkTrigger(t *testing.T, s *scenario, m *machine, sub *mqttClient, h *history) {
	t.Helper()
	status, detail := triggerThroughGate(t, s, m)
	if status != 202 {
		t.Fatalf("POST trigger through the gate: HTTP status %d, want 202\n%s", status, detail)
	}
	cmd := sub.expectOneCommand(t, device, deviceKey(t, s))
	if cmd.seq <= h.lastSeq {
		t.Errorf("command sequence number %d, want above %d, the last one used", cmd.seq, h.lastSeq)
	}
	h.lastSeq = max(h.lastSeq, cmd.seq)
}

// triggerThroughGate posts a trigger for the device as the phone with curl
// through the gate's SOCKS5 port, bound to the allowed source. The SOCKS5
// password and the bearer token go in a config file passed with -K, never on
// the command line, where the process list would show them. It returns the
// HTTP status and, for failure messages, curl's output and the body.
func triggerThroughGate(t *testing.T, s *scenario, m *machine) (int, string) {
	t.Helper()
	curl := testutil.RequireTool(t, "curl", "curl")
	dir := t.TempDir()
	conf := fmt.Sprintf("url = %q\nrequest = \"POST\"\nsocks5-hostname = %q\nproxy-user = %q\nheader = %q\n",
		"http://"+gateHost+"/api/v1/devices/"+device+"/trigger",
		guestAddr+":"+gatePort,
		phone+":"+s.secret(t, phonePasswordFile),
		"Authorization: Bearer "+s.secret(t, phoneTokenFile))
	confPath, bodyPath := filepath.Join(dir, "curl.conf"), filepath.Join(dir, "body")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	out, err := m.hostSide(ctx, curl, "--silent", "--show-error", "--max-time", "10",
		"--interface", allowedSource, "-K", confPath, "-o", bodyPath, "-w", "%{http_code}").CombinedOutput()
	body, _ := os.ReadFile(bodyPath)
	detail := fmt.Sprintf("curl: %v\n%s\nbody: %s", err, out, body)
	status, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return status, detail
}

// deviceKey returns the device's command key from the tree.
func deviceKey(t *testing.T, s *scenario) []byte {
	t.Helper()
	key, err := hex.DecodeString(s.secret(t, deviceKeyFile))
	if err != nil || len(key) != 32 {
		t.Fatalf("%s: want 64 hex digits (32 bytes), got an error %v or %d bytes", deviceKeyFile, err, len(key))
	}
	return key
}

// servedSerialTries and servedSerialInterval pace the wait for the new
// certificate. The guest's firewall blocks a source for 10 minutes after 20
// new broker connections within a minute, so the test polls slowly.
const (
	servedSerialTries    = 8
	servedSerialInterval = time.Second
)

// checkRotate runs garagectl cert rotate in the guest with the offline CA
// plugged in and checks that the broker reloads through systemd without a
// restart, serves the new certificate, and keeps the subscriber connected.
func checkRotate(t *testing.T, s *scenario, m *machine, sub *mqttClient, h *history) {
	t.Helper()
	tlsConfig := clientTLS(t, s)
	oldSerial := treeCertSerial(t, s)
	served, err := servedSerial(m, allowedSource, tlsConfig)
	if err != nil {
		t.Fatalf("TLS handshake from %s before the rotation: %v", allowedSource, err)
	}
	if served.Cmp(oldSerial) != 0 {
		t.Fatalf("the broker serves serial %X before the rotation, want %X from the tree", served, oldSerial)
	}
	before := m.unitProps(t, brokerUnit, "MainPID", "NRestarts")
	journal := m.journal(t, brokerUnit)
	systemdReloads := strings.Count(journal, systemdReloadLine)
	brokerReloads := strings.Count(journal, brokerReloadLine)

	passphrase := s.plugIn(t)
	res := m.guest(t, "garagectl", "cert", "rotate", "--ca-passphrase-file", passphrase)
	if res.exitCode != 0 {
		t.Fatalf("garagectl cert rotate: exit status %d\nstdout:\n%s\nstderr:\n%s", res.exitCode, res.stdout, res.stderr)
	}
	newSerial := treeCertSerial(t, s)
	if newSerial.Cmp(oldSerial) == 0 {
		t.Fatalf("server.crt still has serial %X after cert rotate", oldSerial)
	}

	t.Run("broker reloaded through systemd", func(t *testing.T) {
		m.waitJournal(t, brokerUnit, systemdReloadLine, systemdReloads+1)
		m.waitJournal(t, brokerUnit, brokerReloadLine, brokerReloads+1)
		after := m.unitProps(t, brokerUnit, "MainPID", "NRestarts")
		if after["MainPID"] != before["MainPID"] || after["NRestarts"] != before["NRestarts"] {
			t.Errorf("%s: MainPID %s and NRestarts %s after the rotation, want %s and %s as before",
				brokerUnit, after["MainPID"], after["NRestarts"], before["MainPID"], before["NRestarts"])
		}
	})
	t.Run("new certificate served", func(t *testing.T) {
		var got *big.Int
		var err error
		for range servedSerialTries {
			got, err = servedSerial(m, allowedSource, tlsConfig)
			if err == nil && got.Cmp(newSerial) == 0 {
				return
			}
			time.Sleep(servedSerialInterval)
		}
		t.Errorf("the broker serves serial %X (error %v) after the rotation, want %X", got, err, newSerial)
	})
	t.Run("subscriber receives next command", func(t *testing.T) {
		requireGate(t)
		if sub == nil {
			t.Fatal("no subscriber, because the CONNACK check failed")
		}
		sub.checkConnected(t)
		checkTrigger(t, s, m, sub, h)
	})
}

// treeCertSerial returns the serial number of the server certificate in the
// tree.
func treeCertSerial(t *testing.T, s *scenario) *big.Int {
	t.Helper()
	block, _ := pem.Decode(s.readTreeFile(t, serverCertFile))
	if block == nil {
		t.Fatalf("%s contains no PEM block", serverCertFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse %s: %v", serverCertFile, err)
	}
	return cert.SerialNumber
}

// checkAudit checks that audit finds nothing, then widens the mode of a
// password file and checks that audit names it, then restores the mode with
// a live apply, which must name the file and leave audit clean again.
func checkAudit(t *testing.T, s *scenario, m *machine) {
	t.Helper()
	if res := m.guest(t, "garagectl", "audit"); res.exitCode != 0 {
		t.Fatalf("garagectl audit: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s",
			res.exitCode, res.stdout, res.stderr)
	}

	m.mustGuest(t, "chmod", "0644", devicePasswordFile)
	// If apply fails below, the next boot still starts from the right mode.
	t.Cleanup(func() { os.Chmod(s.path(devicePasswordFile), 0o600) })
	res := m.guest(t, "garagectl", "audit")
	if res.exitCode != 1 || !strings.Contains(res.stdout, devicePasswordFile) {
		t.Errorf("garagectl audit with %s at mode 0644: exit status %d, want 1 and a finding on the file\n"+
			"stdout:\n%s\nstderr:\n%s", devicePasswordFile, res.exitCode, res.stdout, res.stderr)
	}

	t.Run("live apply restores mode", func(t *testing.T) {
		gateReady := strings.Count(m.journal(t, gateUnit), gateReadyLine)
		res := m.guest(t, "garagectl", "apply")
		if res.exitCode != 0 || !strings.Contains(res.stdout, devicePasswordFile) {
			t.Fatalf("garagectl apply: exit status %d, want 0 and an update of %s\nstdout:\n%s\nstderr:\n%s",
				res.exitCode, devicePasswordFile, res.stdout, res.stderr)
		}
		info, err := os.Stat(s.path(devicePasswordFile))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o after apply, want 0600", devicePasswordFile, info.Mode().Perm())
		}
		if res := m.guest(t, "garagectl", "audit"); res.exitCode != 0 {
			t.Errorf("garagectl audit after apply: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s",
				res.exitCode, res.stdout, res.stderr)
		}
		// apply restarts the gate when a file under /var/lib/garagectl
		// changed; it must come back and reconnect.
		if binaries.gateErr == nil {
			m.waitJournal(t, gateUnit, gateReadyLine, gateReady+1)
			checkDaemonActive(t, m, gateUnit, gateReadyLine)
		}
	})
}

// logResourceControl logs which resource-control directives the guest cannot
// enforce, because its cgroup v2 lacks the controller, and which of them the
// garage units set.
func logResourceControl(t *testing.T, s *scenario, m *machine) {
	t.Helper()
	controllers := strings.Fields(m.guest(t, "cat", "/sys/fs/cgroup/cgroup.controllers").stdout)
	var missing []string
	for _, d := range []struct{ controller, directive string }{
		{"memory", "MemoryMax="}, {"pids", "TasksMax="}, {"cpu", "CPUQuota="},
	} {
		if !slices.Contains(controllers, d.controller) {
			missing = append(missing, d.directive)
		}
	}
	if len(missing) == 0 {
		t.Logf("the guest's cgroup v2 offers the controllers %v: resource control is enforced", controllers)
		return
	}

	var set []string
	for _, unit := range []string{brokerUnit, gateUnit, firewallUnit} {
		data := string(s.readTreeFile(t, "/etc/systemd/system/"+unit))
		for _, d := range missing {
			if strings.Contains(data, "\n"+d) {
				set = append(set, unit+" "+d)
			}
		}
	}
	if len(set) == 0 {
		set = []string{"none"}
	}
	t.Logf("NOTE: not reproduced in this container: resource control. The guest's cgroup v2 offers the "+
		"controllers %v, so systemd cannot enforce %s. The garage units set: %s.",
		controllers, strings.Join(missing, ", "), strings.Join(set, ", "))
}

// unitProps returns the named properties of unit from systemctl show.
func (m *machine) unitProps(t *testing.T, unit string, names ...string) map[string]string {
	t.Helper()
	args := []string{"systemctl", "show", unit}
	for _, n := range names {
		args = append(args, "-p", n)
	}
	props := map[string]string{}
	for line := range strings.SplitSeq(m.mustGuest(t, args...), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	return props
}

// journal returns this boot's journal of unit, one entry a line.
func (m *machine) journal(t *testing.T, unit string) string {
	t.Helper()
	return m.mustGuest(t, "journalctl", "-b", "-q", "--no-pager", "-o", "short-monotonic", "-u", unit)
}

// waitJournal waits until this boot's journal of unit contains text at least
// count times.
func (m *machine) waitJournal(t *testing.T, unit, text string, count int) {
	t.Helper()
	deadline := time.Now().Add(steadyTimeout)
	for {
		j := m.journal(t, unit)
		if strings.Count(j, text) >= count {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal of %s does not contain %q %d times within %s:\n%s",
				unit, text, count, steadyTimeout, j)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
