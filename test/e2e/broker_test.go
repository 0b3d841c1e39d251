package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/garagectl/garagectl/internal/layout"
)

// badLogLineRE matches broker log lines that point at a config or file
// problem: mosquitto 2.0 prefixes warnings with "Warning:", and unreadable
// files show as "Permission denied" or "Unable to open".
var badLogLineRE = regexp.MustCompile(`(?i)warning|permission|denied|error|unable`)

// TestBrokerFromGeneratedConfig starts mosquitto on the files init writes
// and checks that it admits the generated accounts over TLS and nothing else.
func TestBrokerFromGeneratedConfig(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	caFile := h.path(layout.CACert)

	t.Run("log has no warning", func(t *testing.T) {
		for _, line := range strings.Split(b.log.String(), "\n") {
			if badLogLineRE.MatchString(line) {
				t.Errorf("mosquitto logged at startup: %s", line)
			}
		}
		if n := strings.Count(b.log.String(), "listen socket"); n != 1 {
			t.Errorf("mosquitto opened %d listen sockets, want 1 (the TLS listener)", n)
		}
	})

	t.Run("runs as mosq", func(t *testing.T) {
		checkBrokerIdentity(t, h, b)
	})

	t.Run("gate command reaches relay1", func(t *testing.T) {
		relay := connectMQTT(t, b, h.clientTLS(t), "relay1", h.password(t, "relay1"))
		relay.mustSubscribe(t, "garage/relay1/cmd")
		gate := connectMQTT(t, b, h.clientTLS(t), "gate", h.password(t, "gate"))
		gate.mustPublish(t, "garage/relay1/cmd", "pulse 1")
		relay.expectNext(t, "garage/relay1/cmd", "pulse 1")
	})

	t.Run("rejects", func(t *testing.T) {
		t.Run("anonymous client", func(t *testing.T) {
			_, code, err := dialMQTT(t, b, h.clientTLS(t), "", "")
			if err == nil || !isAuthRefusal(code) {
				t.Errorf("anonymous connect: error %v, CONNACK return code %d, want 4 or 5",
					err, code)
			}
		})

		t.Run("relay1 with gate password", func(t *testing.T) {
			_, code, err := dialMQTT(t, b, h.clientTLS(t), "relay1", h.password(t, "gate"))
			if err == nil || !isAuthRefusal(code) {
				t.Errorf("connect as relay1: error %v, CONNACK return code %d, want 4 or 5",
					err, code)
			}
		})

		t.Run("client without garage CA", func(t *testing.T) {
			// RootCAs nil means the system's trust store, the default of
			// any client that was not given the garage CA.
			config := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
			_, err := servedSerial(t, b, config)
			var unknownAuthority x509.UnknownAuthorityError
			if !errors.As(err, &unknownAuthority) {
				t.Errorf("TLS handshake trusting only the system CAs: error %v, want an unknown authority", err)
			}
		})

		t.Run("TLS 1.1", func(t *testing.T) {
			// OpenSSL 3 offers TLS 1.1 only at security level 0. The
			// alert checked below shows that the broker rejected it.
			out, err := sClient(t, b, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-servername", serverName)
			if err == nil {
				t.Fatalf("s_client -tls1_1 succeeded:\n%s", out)
			}
			if !strings.Contains(out, "alert protocol version") {
				t.Errorf("s_client -tls1_1 failed without the broker's protocol_version alert:\n%s", out)
			}
		})

		t.Run("CBC suite AES128-SHA", func(t *testing.T) {
			out, err := sClient(t, b, "-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0",
				"-servername", serverName)
			if err == nil {
				t.Fatalf("s_client -cipher AES128-SHA succeeded:\n%s", out)
			}
			if !strings.Contains(out, "alert handshake failure") {
				t.Errorf("s_client -cipher AES128-SHA failed without the broker's "+
					"handshake_failure alert:\n%s", out)
			}
		})
	})

	// verifyArgs make s_client trust only the garage CA, check the
	// certificate's name and fail on any verification error.
	verifyArgs := []string{
		"-CAfile", caFile, "-no-CApath", "-no-CAstore", "-verify_return_error",
		"-servername", serverName, "-verify_hostname", serverName,
	}

	t.Run("TLS 1.2 verifies with ECDHE AEAD", func(t *testing.T) {
		out, err := sClient(t, b, append([]string{"-tls1_2"}, verifyArgs...)...)
		if err != nil {
			t.Fatalf("s_client -tls1_2: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Verified peername: "+serverName) {
			t.Errorf("s_client did not verify the name %s:\n%s", serverName, out)
		}
		protocol, cipher := negotiated(t, out)
		if protocol != "TLSv1.2" {
			t.Errorf("negotiated protocol %s, want TLSv1.2", protocol)
		}
		aead := strings.Contains(cipher, "-GCM-") || strings.HasSuffix(cipher, "-CHACHA20-POLY1305")
		if !strings.HasPrefix(cipher, "ECDHE-") || !aead {
			t.Errorf("negotiated cipher %s, want an ECDHE suite with AES-GCM or ChaCha20-Poly1305", cipher)
		}
	})

	t.Run("ESP8266 suite accepted", func(t *testing.T) {
		const suite = "ECDHE-RSA-AES128-GCM-SHA256"
		args := append([]string{"-tls1_2", "-cipher", suite}, verifyArgs...)
		out, err := sClient(t, b, args...)
		if err != nil {
			t.Fatalf("s_client -cipher %s: %v\n%s", suite, err, out)
		}
		if _, cipher := negotiated(t, out); cipher != suite {
			t.Errorf("negotiated cipher %s, want %s", cipher, suite)
		}
	})
}

// checkBrokerIdentity fails the test unless the broker process runs with the
// root's mosq user and group and no supplementary groups.
func checkBrokerIdentity(t *testing.T, h *hub, b *broker) {
	t.Helper()
	mosq, err := h.root.LookupUser("mosq")
	if err != nil {
		t.Fatalf("look up mosq in the root: %v", err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(b.pid) + "/status")
	if err != nil {
		t.Fatalf("read the broker's process status: %v", err)
	}

	uid, gid := strconv.Itoa(mosq.UID), strconv.Itoa(mosq.GID)
	want := map[string][]string{
		"Name:":   {"mosquitto"},
		"Uid:":    {uid, uid, uid, uid},
		"Gid:":    {gid, gid, gid, gid},
		"Groups:": nil,
	}
	for _, line := range strings.Split(string(status), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		wantValues, ok := want[fields[0]]
		if !ok {
			continue
		}
		delete(want, fields[0])
		if got := strings.Join(fields[1:], " "); got != strings.Join(wantValues, " ") {
			t.Errorf("broker process %s %q, want %q", fields[0], got, strings.Join(wantValues, " "))
		}
	}
	for key := range want {
		t.Errorf("broker process status has no %s line", key)
	}
}
