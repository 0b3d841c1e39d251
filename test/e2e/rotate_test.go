package e2e

import (
	"bytes"
	"context"
	"math/big"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/layout"
)

// reloadTimeout bounds the wait for the broker to serve the new certificate
// after SIGHUP.
const reloadTimeout = 10 * time.Second

// TestCertRotateWithConnectedRelay rotates the server certificate while
// relay1 is connected, then reloads the broker with SIGHUP, which is what the
// unit's ExecReload sends. mosquitto 2.0 reloads certfile and keyfile on
// SIGHUP (mosquitto.conf(5), and "TLS certificates for the server are now
// reloaded on SIGHUP" in the 2.0.0 changelog).
func TestCertRotateWithConnectedRelay(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	certFile, caFile := h.path(layout.ServerCert), h.path(layout.CACert)

	relay := connectMQTT(t, b, h.clientTLS(t), "relay1", h.password(t, "relay1"))
	relay.mustSubscribe(t, "garage/relay1/cmd")
	gate := connectMQTT(t, b, h.clientTLS(t), "gate", h.password(t, "gate"))

	oldSerial := fileSerial(t, certFile)
	checkServedSerial(t, b, h, oldSerial)
	caBefore := readFile(t, caFile)
	var newSerial *big.Int

	ok := t.Run("rotate issues new certificate", func(t *testing.T) {
		mustGaragectl(t, "cert", "rotate", "--root", h.root.Dir(), "--config", h.configPath,
			"--ca-passphrase-file", h.passphrasePath)
		newSerial = fileSerial(t, certFile)
		if newSerial.Cmp(oldSerial) == 0 {
			t.Fatalf("server.crt still has serial %X after cert rotate", oldSerial)
		}
		out, err := runOpenSSL(t, "verify", "-CAfile", caFile, "-no-CApath", "-no-CAstore", certFile)
		if err != nil {
			t.Errorf("the new server.crt does not verify against ca.crt: %v\n%s", err, out)
		}
		if !bytes.Equal(readFile(t, caFile), caBefore) {
			t.Errorf("cert rotate changed ca.crt, which every relay trusts")
		}
	})
	if !ok {
		return
	}

	// mosquitto loaded the certificate at startup and keeps serving it
	// until a reload, which is why the unit reloads it.
	t.Run("old certificate served until SIGHUP", func(t *testing.T) {
		checkServedSerial(t, b, h, oldSerial)
	})

	t.Run("new certificate served after SIGHUP", func(t *testing.T) {
		logBefore := len(b.log.String())
		b.signal(t, syscall.SIGHUP)
		b.waitLog(t, "Reloading config.")
		waitServedSerial(t, b, h, newSerial)
		for _, line := range strings.Split(b.log.String()[logBefore:], "\n") {
			if badLogLineRE.MatchString(line) {
				t.Errorf("mosquitto logged after SIGHUP: %s", line)
			}
		}
	})

	t.Run("connected relay receives next command", func(t *testing.T) {
		relay.checkConnected(t)
		gate.mustPublish(t, "garage/relay1/cmd", "pulse after rotate")
		relay.expectNext(t, "garage/relay1/cmd", "pulse after rotate")
	})
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}

// checkServedSerial fails the test unless a new TLS connection, trusting only
// the hub's CA and checking the broker's name, gets the certificate with
// serial want.
func checkServedSerial(t *testing.T, b *broker, h *hub, want *big.Int) {
	t.Helper()
	got, err := servedSerial(t, b, h.clientTLS(t))
	if err != nil {
		t.Fatalf("TLS handshake with the broker: %v", err)
	}
	if got.Cmp(want) != 0 {
		t.Fatalf("the broker serves the certificate with serial %X, want %X", got, want)
	}
}

// waitServedSerial polls new TLS connections until the broker serves the
// certificate with serial want, and fails the test after reloadTimeout. The
// handshake trusts only the hub's CA, so it also checks that the new
// certificate chains to the same CA.
func waitServedSerial(t *testing.T, b *broker, h *hub, want *big.Int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), reloadTimeout)
	defer cancel()
	for {
		got, err := servedSerial(t, b, h.clientTLS(t))
		if err == nil && got.Cmp(want) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the broker does not serve serial %X within %s of SIGHUP: last serial %X, error %v",
				want, reloadTimeout, got, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
