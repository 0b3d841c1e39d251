package pki

import (
	"encoding/pem"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// testNow is the fixed clock of every test; openssl runs with -attime set to it.
var testNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

var (
	testNames = []string{"hub.home.arpa", "mqtt.home.arpa"}
	testIPs   = []netip.Addr{netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("fd00::10")}
)

const tenYears = 3650 * 24 * time.Hour

func testCAOptions(kt KeyType) CAOptions {
	return CAOptions{
		Site:        "garage",
		DNSNames:    testNames,
		IPAddresses: testIPs,
		KeyType:     kt,
		Validity:    tenYears,
		Now:         fixedNow,
	}
}

var (
	caCacheMu sync.Mutex
	caCache   = map[KeyType]*CA{}
)

// testCA returns a CA of key type kt made with testCAOptions. CAs are shared
// between tests to save key generation time, so tests must not change them.
func testCA(t testing.TB, kt KeyType) *CA {
	t.Helper()
	caCacheMu.Lock()
	defer caCacheMu.Unlock()
	if ca, ok := caCache[kt]; ok {
		return ca
	}
	ca, err := NewCA(testCAOptions(kt))
	if err != nil {
		t.Fatalf("NewCA(%s): %v", kt, err)
	}
	caCache[kt] = ca
	return ca
}

func testServerOptions(kt KeyType) ServerOptions {
	return ServerOptions{DNSNames: testNames, IPAddresses: testIPs, KeyType: kt, Now: fixedNow}
}

func issueTestServer(t testing.TB, ca *CA, kt KeyType) *Issued {
	t.Helper()
	issued, err := ca.IssueServer(testServerOptions(kt))
	if err != nil {
		t.Fatalf("IssueServer(%s): %v", kt, err)
	}
	return issued
}

// writeTemp writes data to name in dir and returns the path.
func writeTemp(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// runOpenSSL runs openssl with args and returns its combined output and the
// error of the run, so tests can check failures as well as successes.
func runOpenSSL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl", "openssl")
	out, err := exec.CommandContext(t.Context(), openssl, args...).CombinedOutput()
	return string(out), err
}

// mustOpenSSL runs openssl and fails the test when it exits non-zero.
func mustOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runOpenSSL(t, args...)
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return out
}

// verifyArgs returns `openssl verify` arguments that check certFile against
// caFile at testNow.
func verifyArgs(caFile, certFile string, extra ...string) []string {
	args := []string{"verify", "-attime", strconv.FormatInt(testNow.Unix(), 10), "-CAfile", caFile}
	args = append(args, extra...)
	return append(args, certFile)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
