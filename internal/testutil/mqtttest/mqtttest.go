// Package mqtttest connects paho MQTT clients to a broker that garagectl
// configured, the way the relays and the gate connect on the LAN.
package mqtttest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ClientTLS returns the TLS settings of a client that trusts only the CA
// certificate in caPEM and checks that the broker's certificate names
// serverName. source names where caPEM came from, for the failure message.
func ClientTLS(t testing.TB, caPEM []byte, source, serverName string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s contains no PEM certificate", source)
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// WaitToken waits up to timeout for token and returns its error. The error
// wraps context.DeadlineExceeded when no reply arrived in time.
func WaitToken(t testing.TB, token mqtt.Token, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	select {
	case <-token.Done():
		return token.Error()
	case <-ctx.Done():
		return fmt.Errorf("no reply from the broker within %s: %w", timeout, ctx.Err())
	}
}

// Subscribe subscribes client to topic with QoS 1 and returns the QoS that
// the broker granted, 0x80 meaning it refused the subscription. who names the
// client in failure messages.
func Subscribe(t testing.TB, client mqtt.Client, who, topic string, timeout time.Duration) byte {
	t.Helper()
	token := client.Subscribe(topic, 1, nil)
	if err := WaitToken(t, token, timeout); err != nil {
		t.Fatalf("%s: subscribe to %s: %v", who, topic, err)
	}
	granted, ok := token.(*mqtt.SubscribeToken).Result()[topic]
	if !ok {
		t.Fatalf("%s: the SUBACK for %s has no return code", who, topic)
	}
	return granted
}

// MustSubscribe is Subscribe that fails the test unless the broker grants
// QoS 1.
func MustSubscribe(t testing.TB, client mqtt.Client, who, topic string, timeout time.Duration) {
	t.Helper()
	if granted := Subscribe(t, client, who, topic, timeout); granted != 1 {
		t.Fatalf("%s: subscribe to %s: granted QoS %#x, want 1", who, topic, granted)
	}
}
