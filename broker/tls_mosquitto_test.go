package broker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// TestRenderedConfigRunsMosquitto starts mosquitto on the rendered config,
// with files owned and moded as on the host, and checks its TLS listener
// with openssl s_client.
func TestRenderedConfigRunsMosquitto(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl", "openssl")
	tests := []struct {
		tlsMinVersion string
		accept        [][]string // s_client arguments of handshakes that must succeed
		reject        [][]string // and of handshakes that the broker must reject
	}{
		{
			tlsMinVersion: "1.2",
			accept: [][]string{
				{"-tls1_2"},
				{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"},
				{"-tls1_3"},
			},
			reject: [][]string{
				// SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all, so the
				// broker, not the client, rejects the handshake.
				{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"},
				{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"}, // CBC mode
				{"-tls1_2", "-cipher", "AES128-GCM-SHA256"},    // no forward secrecy
			},
		},
		{
			tlsMinVersion: "1.3",
			accept:        [][]string{{"-tls1_3"}},
			reject:        [][]string{{"-tls1_2"}},
		},
	}
	for _, tt := range tests {
		t.Run("min TLS "+tt.tlsMinVersion, func(t *testing.T) {
			passwd, err := PasswordFile([]Account{{"gate", "gate-pw"}}, nil)
			if err != nil {
				t.Fatalf("PasswordFile: %v", err)
			}
			acl, err := ACL("gate", []string{"relay1"})
			if err != nil {
				t.Fatalf("ACL: %v", err)
			}
			h := newTestHub(t, passwd, acl)
			h.opts.TLSMinVersion = tt.tlsMinVersion
			conf, err := RenderConfig(h.opts)
			if err != nil {
				t.Fatalf("RenderConfig: %v", err)
			}
			broker := h.start(t, conf)

			for _, args := range tt.accept {
				out, err := sClient(t, openssl, h, args...)
				if err != nil {
					t.Errorf("openssl s_client %s: %v, want a handshake\n%s", strings.Join(args, " "), err, out)
				}
				checkHandshake(t, out, args)
			}
			for _, args := range tt.reject {
				out, err := sClient(t, openssl, h, args...)
				if err == nil || !strings.Contains(out, "alert") {
					t.Errorf("openssl s_client %s: %v, want a TLS alert from the broker\n%s",
						strings.Join(args, " "), err, out)
				}
			}
			if _, err := connectMQTT(t, "tcp://"+h.addr(), nil, "gate", "gate-pw"); err == nil {
				t.Errorf("plain-text MQTT connect to the TLS listener succeeded")
			}
			mustConnectMQTT(t, "ssl://"+h.addr(), h.tlsConfig(), "gate", "gate-pw")

			checkBrokerOutput(t, broker.stop(), h)
			if _, err := os.Stat(filepath.Join(h.dir, "lib", "mosquitto.db")); err != nil {
				t.Errorf("persistence database not saved on exit: %v", err)
			}
		})
	}
}

// sClient runs openssl s_client against the hub's listener, trusting only
// the test CA and failing on a certificate that does not verify.
func sClient(t *testing.T, openssl string, h *testHub, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	base := []string{"s_client", "-brief", "-connect", h.addr(), "-servername", "localhost",
		"-CAfile", h.caFile, "-verify_return_error"}
	// stdin is empty, so s_client closes the connection after the handshake.
	out, err := exec.CommandContext(ctx, openssl, append(base, args...)...).CombinedOutput()
	return string(out), err
}

// checkHandshake checks the -brief output of a successful s_client run:
// the certificate verified, and the version and cipher are the ones asked for.
func checkHandshake(t *testing.T, out string, args []string) {
	t.Helper()
	if !strings.Contains(out, "Verification: OK") {
		t.Errorf("s_client %v: server certificate did not verify\n%s", args, out)
	}
	versions := map[string]string{"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}
	if want := versions[args[0]]; !strings.Contains(out, "Protocol version: "+want) {
		t.Errorf("s_client %v: protocol is not %s\n%s", args, want, out)
	}
	if len(args) == 3 && args[1] == "-cipher" && !strings.Contains(out, "Ciphersuite: "+args[2]) {
		t.Errorf("s_client %v: cipher suite is not %s\n%s", args, args[2], out)
	}
}

// checkBrokerOutput checks mosquitto's log: no warning, and exactly one
// listen socket, on the hub's port.
func checkBrokerOutput(t *testing.T, out string, h *testHub) {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.Contains(line, "Warning") {
			t.Errorf("mosquitto logged a warning: %s", line)
		}
	}
	sockets := regexp.MustCompile(`Opening \S+ listen socket on port (\d+)`).FindAllStringSubmatch(out, -1)
	if len(sockets) != 1 || sockets[0][1] != strconv.Itoa(int(h.opts.Port)) {
		t.Errorf("mosquitto listen sockets = %q, want one on port %d\n%s", sockets, h.opts.Port, out)
	}
}
