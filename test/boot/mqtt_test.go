package boot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/garagectl/garagectl/internal/testutil/mqtttest"
)

// mqttTimeout bounds each MQTT step: connect, subscribe, and the wait for a
// message.
const mqttTimeout = 10 * time.Second

// clientCount makes MQTT client IDs unique within the test binary.
var clientCount atomic.Int64

// message is a received MQTT message.
type message struct {
	topic, payload string
	qos            byte
}

// mqttClient is a paho client connected from the host end of the veth.
type mqttClient struct {
	client   mqtt.Client
	username string
	messages chan message
	lost     chan error // receives the error when the connection drops
}

// clientTLS returns the settings of a client that trusts only the garage CA
// from the tree and checks the broker's name.
func clientTLS(t *testing.T, s *scenario) *tls.Config {
	t.Helper()
	const caPath = "/etc/garagectl/pki/ca.crt"
	return mqtttest.ClientTLS(t, s.readTreeFile(t, caPath), caPath+" in the tree", brokerName)
}

// dialMQTT connects to the broker from source over TLS with MQTT 3.1.1 and a
// clean session, without retries. It returns the CONNACK return code, or
// packets.ErrNetworkError when no CONNACK arrived. The caller disconnects the
// client.
func dialMQTT(t *testing.T, m *machine, tlsConfig *tls.Config, source, username, password string) (*mqttClient, byte, error) {
	t.Helper()
	c := &mqttClient{username: username, messages: make(chan message, 16), lost: make(chan error, 1)}
	opts := mqtt.NewClientOptions().
		AddBroker("ssl://" + net.JoinHostPort(guestAddr, brokerPort)).
		SetClientID(fmt.Sprintf("boot-%s-%d", username, clientCount.Add(1))).
		SetUsername(username).
		SetPassword(password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(mqttTimeout).
		SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
			return dialTLS(m, source, tlsConfig)
		}).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) {
			c.messages <- message{topic: msg.Topic(), payload: string(msg.Payload()), qos: msg.Qos()}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	c.client = mqtt.NewClient(opts)

	token := c.client.Connect()
	if err := waitToken(t, token); err != nil {
		return nil, token.(*mqtt.ConnectToken).ReturnCode(), err
	}
	return c, packets.Accepted, nil
}

// dialTLS connects from source to the broker port on the guest and completes
// the TLS handshake with tlsConfig.
func dialTLS(m *machine, source string, tlsConfig *tls.Config) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), mqttTimeout)
	defer cancel()
	conn, err := m.dial(ctx, source, brokerPort)
	if err != nil {
		return nil, err
	}
	tlsConn := tls.Client(conn, tlsConfig)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tlsConn, nil
}

// servedSerial returns the serial number of the certificate that the broker
// serves to a new connection from source.
func servedSerial(m *machine, source string, tlsConfig *tls.Config) (*big.Int, error) {
	conn, err := dialTLS(m, source, tlsConfig)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// waitToken waits up to mqttTimeout for token and returns its error.
func waitToken(t *testing.T, token mqtt.Token) error {
	t.Helper()
	return mqtttest.WaitToken(t, token, mqttTimeout)
}

// mustSubscribe subscribes to topic with QoS 1 and fails the test unless the
// broker grants QoS 1.
func (c *mqttClient) mustSubscribe(t *testing.T, topic string) {
	t.Helper()
	mqtttest.MustSubscribe(t, c.client, c.username, topic, mqttTimeout)
}

// checkConnected fails the test if the client's connection dropped.
func (c *mqttClient) checkConnected(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.lost:
		t.Fatalf("%s lost its connection: %v", c.username, err)
	default:
	}
	if !c.client.IsConnectionOpen() {
		t.Fatalf("%s is not connected", c.username)
	}
}

// quietPeriod is how long a subscriber must receive nothing more after a
// command, for the check that one trigger sends exactly one command.
const quietPeriod = time.Second

// expectOneCommand waits for the next message, checks that it is a command
// for device on its topic that verifies with key, then checks that no second
// message follows within quietPeriod. It returns the command.
func (c *mqttClient) expectOneCommand(t *testing.T, device string, key []byte) command {
	t.Helper()
	topic := "garage/" + device + "/cmd"
	var got message
	select {
	case got = <-c.messages:
	case err := <-c.lost:
		t.Fatalf("%s lost its connection while waiting for a command: %v", c.username, err)
	case <-time.After(mqttTimeout):
		t.Fatalf("%s received no command on %s within %s", c.username, topic, mqttTimeout)
	}
	if got.topic != topic || got.qos != 1 {
		t.Fatalf("%s received %q on %s with QoS %d, want a command on %s with QoS 1",
			c.username, got.payload, got.topic, got.qos, topic)
	}
	cmd, err := verifyCommand(got.payload, device, key, time.Now())
	if err != nil {
		t.Fatalf("command %q: %v", got.payload, err)
	}

	select {
	case extra := <-c.messages:
		t.Fatalf("%s received a second message %q on %s after one trigger", c.username, extra.payload, extra.topic)
	case <-time.After(quietPeriod):
	}
	return cmd
}

// command is a parsed relay command.
type command struct {
	device string
	seq    uint64
	ts     int64
}

// maxClockSkew is how far a command's time may be from the relay's clock
// before the relay rejects it as stale or from the future.
const maxClockSkew = 30 * time.Second

// verifyCommand parses payload as "v1 DEVICE pulse SEQ TS MAC", at most 128
// bytes with fields separated by single spaces, and checks it as the relay
// firmware does. DEVICE must be device, SEQ and TS are decimals without a
// leading zero, and TS is within maxClockSkew of now. MAC is the lowercase hex
// HMAC-SHA256, with the device's key, of everything before the last space.
// The test checks this itself rather than with the gate's signing code, so
// that a bug there cannot hide here.
func verifyCommand(payload, device string, key []byte, now time.Time) (command, error) {
	if len(payload) > 128 {
		return command{}, fmt.Errorf("%d bytes, want at most 128", len(payload))
	}
	f := strings.Split(payload, " ")
	if len(f) != 6 || f[0] != "v1" || f[2] != "pulse" {
		return command{}, fmt.Errorf(`want "v1 DEVICE pulse SEQ TS MAC"`)
	}

	if f[1] != device {
		return command{}, fmt.Errorf("device %q, want %q", f[1], device)
	}
	seq, err := parseDecimal(f[3])
	if err != nil || seq == 0 {
		return command{}, fmt.Errorf("sequence number %q: want a decimal from 1, without a leading zero", f[3])
	}
	ts, err := parseDecimal(f[4])
	if err != nil {
		return command{}, fmt.Errorf("time %q: %v", f[4], err)
	}
	if skew := now.Sub(time.Unix(int64(ts), 0)).Abs(); skew > maxClockSkew {
		return command{}, fmt.Errorf("time %d is %s from this machine's clock, more than %s", ts, skew, maxClockSkew)
	}

	if len(f[5]) != 64 || strings.ToLower(f[5]) != f[5] {
		return command{}, fmt.Errorf("MAC %q: want 64 lowercase hex digits", f[5])
	}
	gotMAC, err := hex.DecodeString(f[5])
	if err != nil {
		return command{}, fmt.Errorf("MAC %q: %v", f[5], err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(payload[:strings.LastIndexByte(payload, ' ')]))
	if !hmac.Equal(gotMAC, mac.Sum(nil)) {
		return command{}, fmt.Errorf("MAC does not verify with the device key")
	}
	return command{device: f[1], seq: seq, ts: int64(ts)}, nil
}

// parseDecimal parses an unsigned decimal without sign or leading zero.
func parseDecimal(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.ContainsAny(s, "+-") {
		return 0, fmt.Errorf("not a plain decimal")
	}
	return strconv.ParseUint(s, 10, 63)
}
