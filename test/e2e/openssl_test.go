package e2e

import (
	"context"
	"crypto/tls"
	"math/big"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// opensslTimeout bounds one run of openssl.
const opensslTimeout = 30 * time.Second

// runOpenSSL runs openssl with args and an empty stdin, so s_client closes
// the connection after the handshake. It returns stdout and stderr together
// and the exit error.
func runOpenSSL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl", "openssl")
	ctx, cancel := context.WithTimeout(t.Context(), opensslTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, openssl, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), ctx.Err(), out)
	}
	return string(out), err
}

// sClient runs openssl s_client against the broker with args added.
func sClient(t *testing.T, b *broker, args ...string) (string, error) {
	t.Helper()
	return runOpenSSL(t, append([]string{"s_client", "-connect", b.addr}, args...)...)
}

// sessionCipherRE matches the cipher line of s_client's SSL-Session block.
var sessionCipherRE = regexp.MustCompile(`(?m)^\s*Cipher\s*:\s*(\S+)\s*$`)

// sessionProtocolRE matches the protocol line of s_client's SSL-Session block.
var sessionProtocolRE = regexp.MustCompile(`(?m)^\s*Protocol\s*:\s*(\S+)\s*$`)

// negotiated returns the protocol and cipher from s_client's output.
func negotiated(t *testing.T, output string) (protocol, cipher string) {
	t.Helper()
	p := sessionProtocolRE.FindStringSubmatch(output)
	c := sessionCipherRE.FindStringSubmatch(output)
	if p == nil || c == nil {
		t.Fatalf("no Protocol or Cipher line in the s_client output:\n%s", output)
	}
	return p[1], c[1]
}

// fileSerial returns the serial number of the certificate in file, as
// `openssl x509 -serial` prints it.
func fileSerial(t *testing.T, file string) *big.Int {
	t.Helper()
	out, err := runOpenSSL(t, "x509", "-in", file, "-noout", "-serial")
	if err != nil {
		t.Fatalf("openssl x509 -serial %s: %v\n%s", file, err, out)
	}
	hex, ok := strings.CutPrefix(strings.TrimSpace(out), "serial=")
	serial, valid := new(big.Int).SetString(hex, 16)
	if !ok || !valid {
		t.Fatalf("openssl x509 -serial %s: want serial=HEX, got %q", file, out)
	}
	return serial
}

// servedSerial makes a new TLS connection to the broker, verified with
// config, and returns the serial number of the certificate the broker sent.
func servedSerial(t *testing.T, b *broker, config *tls.Config) (*big.Int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), mqttTimeout)
	defer cancel()
	dialer := &tls.Dialer{Config: config}
	conn, err := dialer.DialContext(ctx, "tcp", b.addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber, nil
}
