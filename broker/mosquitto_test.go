package broker

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/internal/testutil/proctest"
)

// testHub lays out a broker's files in a temporary directory with the owners
// and modes they have on the host, and runs mosquitto on them.
type testHub struct {
	dir      string
	opts     ConfigOptions
	identity brokerIdentity
	roots    *x509.CertPool // trusts the test CA
	caFile   string         // the test CA certificate, for openssl
}

// brokerIdentity is the account the test runs mosquitto as.
type brokerIdentity struct {
	uid, gid int
	// switchUser means the test runs as root and starts mosquitto through
	// setpriv as uid and gid.
	switchUser bool
}

// newTestHub writes a test CA, a server certificate for localhost and
// 127.0.0.1, passwd and acl, and returns a hub whose ConfigOptions point
// at them, with a free port on 127.0.0.1.
func newTestHub(t *testing.T, passwd, acl []byte) *testHub {
	t.Helper()
	testutil.RequireTool(t, "mosquitto", "mosquitto")
	h := &testHub{dir: t.TempDir(), identity: lookupBrokerIdentity(t)}
	h.opts = ConfigOptions{
		BindAddress:         "127.0.0.1",
		Port:                uint16(testutil.FreePort(t)),
		CertFile:            filepath.Join(h.dir, "pki", "server.crt"),
		KeyFile:             filepath.Join(h.dir, "pki", "server.key"),
		PasswordFile:        filepath.Join(h.dir, "mosquitto", "passwd"),
		ACLFile:             filepath.Join(h.dir, "mosquitto", "acl"),
		PersistenceLocation: filepath.Join(h.dir, "lib") + "/",
	}

	pki, err := testPKIOnce()
	if err != nil {
		t.Fatalf("make test PKI: %v", err)
	}
	h.roots = x509.NewCertPool()
	h.roots.AppendCertsFromPEM(pki.caPEM)

	// Owners and modes as on the host: directories root:mosq 0750, the
	// server key, passwd and acl root:mosq 0640, certificates 0644, and the
	// persistence directory owned by the broker's account.
	h.mkdir(t, "", 0o711, false)
	h.mkdir(t, "pki", 0o750, true)
	h.mkdir(t, "mosquitto", 0o750, true)
	h.caFile = filepath.Join(h.dir, "pki", "ca.crt")
	h.writeFile(t, h.caFile, pki.caPEM, 0o644)
	h.writeFile(t, h.opts.CertFile, pki.certPEM, 0o644)
	h.writeFile(t, h.opts.KeyFile, pki.keyPEM, 0o640)
	h.writeFile(t, h.opts.PasswordFile, passwd, PasswordFileMode)
	h.writeFile(t, h.opts.ACLFile, acl, ACLFileMode)
	h.mkdir(t, "lib", 0o700, false)
	if err := os.Chown(filepath.Join(h.dir, "lib"), h.identity.uid, h.identity.gid); err != nil {
		t.Fatalf("chown persistence directory: %v", err)
	}
	return h
}

// lookupBrokerIdentity returns the account to run mosquitto as.
//
// mosquitto started as root switches to the account named by its "user"
// option, "mosquitto" by default. On the host, systemd starts it as the
// unprivileged mosq account directly, so the rendered config has no "user"
// line. The tests keep that config: as root they start mosquitto through
// setpriv as the "mosquitto" account of the Debian package, which reads the
// key, passwd and acl through their group like mosq does on the host. As
// another user they run mosquitto as that user.
func lookupBrokerIdentity(t *testing.T) brokerIdentity {
	t.Helper()
	if os.Geteuid() != 0 {
		return brokerIdentity{uid: os.Getuid(), gid: os.Getgid()}
	}
	testutil.RequireTool(t, "setpriv", "util-linux")
	u, err := user.Lookup("mosquitto")
	if err != nil {
		msg := fmt.Sprintf("look up the mosquitto account, created by the Debian package mosquitto: %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatalf("parse uid of the mosquitto account: %v", err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		t.Fatalf("parse gid of the mosquitto account: %v", err)
	}
	return brokerIdentity{uid: uid, gid: gid, switchUser: true}
}

// mkdir creates dir under the hub. With brokerGroup, and when the test runs
// as root, the directory gets the broker's group.
func (h *testHub) mkdir(t *testing.T, dir string, mode fs.FileMode, brokerGroup bool) {
	t.Helper()
	path := filepath.Join(h.dir, dir)
	if err := os.MkdirAll(path, mode); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	h.setOwnerAndMode(t, path, mode, brokerGroup)
	if dir == "" {
		// t.TempDir creates the hub inside a per-test directory of mode
		// 0700, which the broker's account must be able to pass through.
		h.setOwnerAndMode(t, filepath.Dir(path), 0o711, false)
	}
}

// writeFile writes a hub file. Files of mode 0640 get the broker's group.
func (h *testHub) writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	h.setOwnerAndMode(t, path, mode, mode&0o004 == 0)
}

func (h *testHub) setOwnerAndMode(t *testing.T, path string, mode fs.FileMode, brokerGroup bool) {
	t.Helper()
	if brokerGroup && h.identity.switchUser {
		if err := os.Chown(path, 0, h.identity.gid); err != nil {
			t.Fatalf("chown %s: %v", path, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("chmod %s: %v", path, err)
	}
}

// addr returns the listener's host:port.
func (h *testHub) addr() string {
	return net.JoinHostPort(h.opts.BindAddress, strconv.Itoa(int(h.opts.Port)))
}

// start writes conf as the hub's mosquitto.conf and starts mosquitto on it.
func (h *testHub) start(t *testing.T, conf []byte) *mosquittoProcess {
	t.Helper()
	path := filepath.Join(h.dir, "mosquitto", "mosquitto.conf")
	h.writeFile(t, path, conf, 0o644)
	return startMosquitto(t, h.identity, path, h.addr())
}

// mosquittoProcess is a broker started by a test. t.Cleanup stops it and,
// when the test failed, logs its output.
type mosquittoProcess struct {
	cancel context.CancelFunc
	exited <-chan struct{}
	output testutil.SyncBuffer
}

func startMosquitto(t *testing.T, id brokerIdentity, confPath, addr string) *mosquittoProcess {
	t.Helper()
	bin := testutil.RequireTool(t, "mosquitto", "mosquitto")
	name, args := bin, []string{"-c", confPath}
	if id.switchUser {
		name = testutil.RequireTool(t, "setpriv", "util-linux")
		args = proctest.SetprivArgs(id.uid, id.gid, bin, args...)
	}

	ctx, cancel := context.WithCancel(t.Context())
	p := &mosquittoProcess{cancel: cancel}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &p.output, &p.output
	p.exited = proctest.Start(t, cmd, cancel, "mosquitto", &p.output)

	waitCtx, waitCancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer waitCancel()
	go func() {
		select {
		case <-p.exited: // mosquitto failed to start: stop waiting.
			waitCancel()
		case <-waitCtx.Done():
		}
	}()
	testutil.WaitListening(waitCtx, t, addr)
	return p
}

// stop terminates mosquitto, waits for it to exit and returns its output.
func (p *mosquittoProcess) stop() string {
	p.cancel()
	<-p.exited
	return p.output.String()
}

// testPKI is a CA and a server certificate for localhost and 127.0.0.1, in
// PEM. The keys are RSA-2048 like the hub's default, so the broker can
// offer ECDHE-RSA suites.
type testPKI struct {
	caPEM, certPEM, keyPEM []byte
}

// testPKIOnce makes the test PKI once per test binary, because generating
// RSA keys is slow.
var testPKIOnce = sync.OnceValues(newTestPKI)

func newTestPKI() (testPKI, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return testPKI{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "garagectl test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return testPKI{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return testPKI{}, err
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return testPKI{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return testPKI{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return testPKI{}, err
	}
	return testPKI{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// tlsConfig returns the client TLS settings for the hub's listener.
func (h *testHub) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: h.roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}
