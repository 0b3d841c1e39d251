package units

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/garagectl/garagectl/internal/testutil"
)

// TestBrokerRunsSandboxed runs mosquitto under the parts of
// garage-mosquitto.service that can be set up without systemd as PID 1, and
// checks that a TLS client's message passes through it:
//
//   - an unprivileged user and group of its own, no supplementary groups, no
//     capabilities, no_new_privs (User=, Group=, CapabilityBoundingSet=,
//     NoNewPrivileges=);
//   - a private mount namespace in which the config directory is an empty,
//     read-only tmpfs with only the broker's config and certificates mounted
//     into it read-only (TemporaryFileSystem=, BindReadOnlyPaths=);
//   - one writable state directory of its own, with umask 0077
//     (StateDirectory=, StateDirectoryMode=, UMask=).
//
// NOTE: it cannot reproduce the seccomp filter (SystemCallFilter=,
// RestrictAddressFamilies=, MemoryDenyWriteExecute=), IPAddressAllow=, which
// needs systemd's cgroup BPF programs, resource limits, ProtectSystem= for
// the rest of the file system, PrivateUsers=, or sd_notify() readiness.
func TestBrokerRunsSandboxed(t *testing.T) {
	testutil.RequireRoot(t, "unshare --mount and setpriv --reuid need root")
	mosquitto := testutil.RequireTool(t, "mosquitto", "mosquitto")
	setpriv := testutil.RequireTool(t, "setpriv", "util-linux")
	unshare := testutil.RequireTool(t, "unshare", "util-linux")
	mount := testutil.RequireTool(t, "mount", "mount")

	uid := unusedID(t)
	dir := sandboxDir(t)
	port := testutil.FreePort(t)
	b := writeBrokerTree(t, dir, uid, port)

	script := strings.Join([]string{
		"set -e",
		// TemporaryFileSystem=/etc/garagectl:ro with BindReadOnlyPaths= for
		// the config and certificate directories.
		`"$MOUNT" -t tmpfs -o mode=0755 tmpfs "$VIEW"`,
		`mkdir "$VIEW/mosquitto" "$VIEW/pki"`,
		`"$MOUNT" --bind -o ro "$SRC/mosquitto" "$VIEW/mosquitto"`,
		`"$MOUNT" --bind -o ro "$SRC/pki" "$VIEW/pki"`,
		`"$MOUNT" -o remount,ro "$VIEW"`,
		// Even root must not be able to write there now.
		`if touch "$VIEW/mosquitto/probe" 2>/dev/null; then echo "config is writable" >&2; exit 97; fi`,
		`umask 0077`,
		`exec "$SETPRIV" --reuid="$ID" --regid="$ID" --clear-groups --no-new-privs ` +
			`--inh-caps=-all --bounding-set=-all -- "$MOSQUITTO" -c "$VIEW/mosquitto/mosquitto.conf"`,
	}, "\n")
	cmd := exec.CommandContext(t.Context(), unshare, "--mount", "--propagation", "private",
		"/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(),
		"MOUNT="+mount, "SETPRIV="+setpriv, "MOSQUITTO="+mosquitto,
		"VIEW="+b.view, "SRC="+b.src, "ID="+strconv.Itoa(uid))
	logFile, err := os.Create(filepath.Join(t.TempDir(), "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	brokerLog := func() string {
		data, _ := os.ReadFile(logFile.Name())
		return string(data)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker log:\n%s", brokerLog())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sandboxed mosquitto: %v", err)
	}
	// unshare, sh and setpriv each exec the next program, so the process
	// started here is the broker.
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("mosquitto still runs 10s after SIGTERM; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)

	// Waiting ends early when the broker exits, such as on a file it cannot read.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	testutil.WaitListening(ctx, t, addr)

	t.Run("credentials", func(t *testing.T) {
		status := procStatus(t, cmd.Process.Pid)
		id := strconv.Itoa(uid)
		want := map[string]string{
			"Uid":        strings.Join([]string{id, id, id, id}, "\t"),
			"Gid":        strings.Join([]string{id, id, id, id}, "\t"),
			"Groups":     "",
			"CapEff":     "0000000000000000",
			"CapBnd":     "0000000000000000",
			"CapAmb":     "0000000000000000",
			"NoNewPrivs": "1",
		}
		for key, value := range want {
			if status[key] != value {
				t.Errorf("/proc/%d/status %s = %q, want %q", cmd.Process.Pid, key, status[key], value)
			}
		}
	})

	t.Run("message passes", func(t *testing.T) {
		url := "ssl://" + addr
		tlsConf := &tls.Config{RootCAs: b.roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		sub := connectClient(t, url, tlsConf, "sub")
		messages := make(chan string, 1)
		if err := wait(sub.Subscribe("garage/test", 1, func(_ mqtt.Client, m mqtt.Message) {
			messages <- string(m.Payload())
		})); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		pub := connectClient(t, url, tlsConf, "pub")
		if err := wait(pub.Publish("garage/test", 1, false, "open")); err != nil {
			t.Fatalf("publish: %v", err)
		}
		select {
		case got := <-messages:
			if got != "open" {
				t.Errorf("received %q, want %q", got, "open")
			}
		case <-time.After(10 * time.Second):
			t.Errorf("no message within 10s")
		}
	})

	// On SIGTERM mosquitto saves its persistence file, which must land in
	// the state directory as the broker's user, readable by it alone.
	stop()
	db := filepath.Join(b.state, "mosquitto.db")
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatalf("persistence file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600 from UMask=0077", db, fi.Mode().Perm())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
		t.Errorf("%s is owned by uid %d, want %d", db, st.Uid, uid)
	}
}

// brokerTree is the file tree of the sandboxed broker.
type brokerTree struct {
	src   string // stands for the host's /etc/garagectl
	view  string // mount point of the broker's view of it
	state string // stands for /var/lib/mosquitto
	roots *x509.CertPool
}

// writeBrokerTree writes the broker's config and certificates with the
// owners and modes that garagectl gives them: directories root:GROUP 0750,
// config and key root:GROUP 0640, certificates root:root 0644.
func writeBrokerTree(t *testing.T, dir string, id, port int) brokerTree {
	t.Helper()
	b := brokerTree{
		src:   filepath.Join(dir, "src"),
		view:  filepath.Join(dir, "view"),
		state: filepath.Join(dir, "state"),
	}
	view := func(p string) string { return filepath.Join(b.view, p) }
	caPEM, certPEM, keyPEM := testCertificates(t)
	b.roots = x509.NewCertPool()
	b.roots.AppendCertsFromPEM(caPEM)

	conf := strings.Join([]string{
		"per_listener_settings false",
		"allow_anonymous true",
		"persistence true",
		"persistence_location " + b.state + "/",
		"log_dest stderr",
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"certfile " + view("pki/server.crt"),
		"keyfile " + view("pki/server.key"),
		"cafile " + view("pki/ca.crt"),
		"tls_version tlsv1.2",
	}, "\n") + "\n"

	files := []struct {
		path       string
		content    []byte
		uid, gid   int
		mode       os.FileMode
		directory  bool
		needsGroup bool
	}{
		{path: "src", uid: 0, gid: 0, mode: 0o755, directory: true},
		{path: "src/mosquitto", uid: 0, gid: id, mode: 0o750, directory: true},
		{path: "src/mosquitto/mosquitto.conf", content: []byte(conf), uid: 0, gid: id, mode: 0o640},
		{path: "src/pki", uid: 0, gid: 0, mode: 0o755, directory: true},
		{path: "src/pki/ca.crt", content: caPEM, uid: 0, gid: 0, mode: 0o644},
		{path: "src/pki/server.crt", content: certPEM, uid: 0, gid: 0, mode: 0o644},
		{path: "src/pki/server.key", content: keyPEM, uid: 0, gid: id, mode: 0o640},
		{path: "view", uid: 0, gid: 0, mode: 0o755, directory: true},
		{path: "state", uid: id, gid: id, mode: 0o700, directory: true},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		var err error
		if f.directory {
			err = os.Mkdir(p, f.mode)
		} else {
			err = os.WriteFile(p, f.content, f.mode)
		}
		if err == nil {
			err = os.Chown(p, f.uid, f.gid)
		}
		if err == nil {
			err = os.Chmod(p, f.mode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// sandboxDir returns a temporary directory that an unprivileged user can
// traverse: t.TempDir makes it and its parent mode 0700.
func sandboxDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// unusedID returns a number that is neither a user ID nor a group ID on this
// machine, for the broker's user and group. The machine's accounts stay as
// they are: setpriv takes numeric IDs.
func unusedID(t *testing.T) int {
	t.Helper()
	for id := 64900; id < 65000; id++ {
		_, uerr := user.LookupId(strconv.Itoa(id))
		_, gerr := user.LookupGroupId(strconv.Itoa(id))
		if uerr != nil && gerr != nil {
			return id
		}
	}
	t.Fatal("no unused ID between 64900 and 65000")
	return 0
}

// testCertificates returns a CA certificate and a server certificate for
// localhost and 127.0.0.1 that it signed, with the server key, all in PEM.
func testCertificates(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "units test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	server := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, server, ca, &serverKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(serverKey)
	if err != nil {
		t.Fatal(err)
	}

	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// procStatus returns the "Key:\tvalue" lines of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	status := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok {
			status[key] = strings.TrimSpace(value)
		}
	}
	return status
}

func connectClient(t *testing.T, url string, tlsConf *tls.Config, id string) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().
		AddBroker(url).
		SetClientID("units-" + id).
		SetTLSConfig(tlsConf).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second)
	c := mqtt.NewClient(opts)
	if err := wait(c.Connect()); err != nil {
		t.Fatalf("connect %s to %s: %v", id, url, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func wait(tok mqtt.Token) error {
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("timed out waiting for the broker")
	}
	return tok.Error()
}
