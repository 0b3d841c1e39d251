package gate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/gate/credentials"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

const (
	testPassword = "phone1-socks-password"
	testToken    = "phone1-bearer-token"
)

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runFixture is a gate running in the test process, with no broker: its broker
// port is a free loopback port that nothing listens on.
type runFixture struct {
	addr string
	log  *lockedBuffer
	stop context.CancelFunc
	done chan struct{} // closed when Run returned
	err  error         // what Run returned, set before done closes
}

func startRun(t *testing.T) *runFixture {
	t.Helper()
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeTestCA(t, root.Path(layout.CACert))
	creds := t.TempDir()
	for name, secret := range map[string]string{
		layout.GateMQTTCredential:                "mqtt-password",
		layout.PhonePasswordCredential("phone1"): testPassword,
		layout.PhoneTokenCredential("phone1"):    testToken,
		layout.DeviceKeyCredential("relay1"):     strings.Repeat("ab", 32),
	} {
		if err := os.WriteFile(filepath.Join(creds, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Broker.Names = []string{"hub.home.arpa"}
	c.Broker.Port = uint16(freePort(t))
	c.Gate.Listen = netip.MustParseAddrPort(ln.Addr().String())
	c.Gate.Phones = []config.Phone{{Name: "phone1"}}
	c.Devices = []config.Device{{Name: "relay1"}}

	ctx, cancel := context.WithCancel(context.Background())
	f := &runFixture{addr: ln.Addr().String(), log: &lockedBuffer{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.err = Run(ctx, Options{
			Config:      c,
			Root:        root,
			Credentials: credentials.FromDir(creds),
			StateDir:    t.TempDir(),
			Logger:      slog.New(slog.NewTextHandler(f.log, nil)),
			Listener:    ln,
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
		if t.Failed() {
			t.Logf("gate log:\n%s", f.log)
		}
	})
	return f
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeTestCA writes a self-signed CA certificate to path.
func writeTestCA(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dialSOCKS5 connects to host:port through the SOCKS5 server at proxy, with
// username and password authentication (RFC 1928, RFC 1929).
func dialSOCKS5(ctx context.Context, proxy, user, password, host string, port uint16) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", proxy)
	if err != nil {
		return nil, err
	}
	if err := socks5Handshake(c, user, password, host, port); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func socks5Handshake(c net.Conn, user, password, host string, port uint16) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	reply := make([]byte, 2)
	c.Write([]byte{5, 1, 2})
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 2 {
		return fmt.Errorf("method negotiation: reply %v, %v", reply, err)
	}
	auth := append([]byte{1, byte(len(user))}, user...)
	auth = append(append(auth, byte(len(password))), password...)
	c.Write(auth)
	if _, err := io.ReadFull(c, reply); err != nil || reply[1] != 0 {
		return fmt.Errorf("authentication: reply %v, %v", reply, err)
	}
	req := append([]byte{5, 1, 0, 3, byte(len(host))}, host...)
	c.Write(binary.BigEndian.AppendUint16(req, port))
	head := make([]byte, 10) // version, reply, reserved, IPv4 address type, address, port
	if _, err := io.ReadFull(c, head); err != nil || head[1] != 0 {
		return fmt.Errorf("connect: reply %v, %v", head, err)
	}
	return nil
}

// client returns an HTTP client whose every connection goes through the gate
// with the given SOCKS5 password.
func (f *runFixture) client(password string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			return dialSOCKS5(ctx, f.addr, "phone1", password, host, 80)
		},
	}, Timeout: 10 * time.Second}
}

func TestRunServesAndDrains(t *testing.T) {
	f := startRun(t)
	client := f.client(testPassword)

	req, _ := http.NewRequest("POST", "http://garage.gate/api/v1/devices/relay1/trigger", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	var body struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 503 || body.Error != "broker_unreachable" {
		t.Errorf("trigger without a broker = %d %q, want 503 broker_unreachable", resp.StatusCode, body.Error)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("trigger without a broker took %s, want at most 2 s", took)
	}

	resp, err = client.Get("http://garage.gate/")
	if err != nil {
		t.Fatalf("load page: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Broker: unreachable") || !strings.Contains(string(page), "relay1") {
		t.Errorf("page does not show relay1 and the broker down:\n%s", page)
	}

	f.stop()
	select {
	case <-f.done:
		if f.err != nil {
			t.Errorf("Run = %v, want nil after the context ended", f.err)
		}
	case <-time.After(DrainTimeout + 5*time.Second):
		t.Fatal("Run did not return after the context ended")
	}
	if !strings.Contains(f.log.String(), `msg="gate stopped"`) {
		t.Errorf("log has no stop line:\n%s", f.log)
	}
}

func TestRunRejectsWrongPassword(t *testing.T) {
	f := startRun(t)
	_, err := dialSOCKS5(t.Context(), f.addr, "phone1", "wrong", "garage.gate", 80)
	if err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Errorf("dial with a wrong password = %v, want an authentication failure", err)
	}
	if strings.Contains(f.log.String(), "wrong") {
		t.Errorf("log contains the password that was tried:\n%s", f.log)
	}
}

func TestRunMissingCredential(t *testing.T) {
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Broker.Names = []string{"hub.home.arpa"}
	c.Gate.Phones = []config.Phone{{Name: "phone1"}}
	err = Run(t.Context(), Options{
		Config:      c,
		Root:        root,
		Credentials: credentials.FromDir(t.TempDir()),
		StateDir:    t.TempDir(),
	})
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "phone-phone1.password") {
		t.Errorf("Run without credentials = %v, want a missing phone-phone1.password", err)
	}
}
