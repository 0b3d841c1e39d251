package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/garagectl/garagectl/internal/testutil/mqtttest"
)

// mqttTimeout bounds each MQTT step: connect, subscribe, publish, and the
// wait for a message.
const mqttTimeout = 10 * time.Second

// clientCount makes MQTT client IDs unique within the test binary.
var clientCount atomic.Int64

// message is a received MQTT message.
type message struct {
	topic, payload string
	qos            byte
}

func (m message) String() string {
	return fmt.Sprintf("%s %q (QoS %d)", m.topic, m.payload, m.qos)
}

// mqttClient is a connected paho client. Messages of all its subscriptions
// arrive on one channel, in the order the broker sent them.
type mqttClient struct {
	client   mqtt.Client
	username string
	messages chan message
	lost     chan error // receives the error when the connection drops
}

// dialMQTT connects to the broker over TLS with MQTT 3.1.1 and a clean
// session, without retries. An empty username connects anonymously. It
// returns the CONNACK return code, or packets.ErrNetworkError when no CONNACK
// arrived, and the connect error. t.Cleanup disconnects the client.
func dialMQTT(
	t *testing.T, b *broker, tlsConfig *tls.Config, username, password string,
) (*mqttClient, byte, error) {
	t.Helper()
	c := &mqttClient{
		username: username,
		messages: make(chan message, 64),
		lost:     make(chan error, 1),
	}
	opts := mqtt.NewClientOptions().
		AddBroker("ssl://" + b.addr).
		SetClientID(fmt.Sprintf("e2e-%s-%d", username, clientCount.Add(1))).
		SetTLSConfig(tlsConfig).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(mqttTimeout).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			c.messages <- message{topic: m.Topic(), payload: string(m.Payload()), qos: m.Qos()}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if username != "" {
		opts.SetUsername(username).SetPassword(password)
	}
	c.client = mqtt.NewClient(opts)

	token := c.client.Connect()
	if err := waitToken(t, token); err != nil {
		return nil, token.(*mqtt.ConnectToken).ReturnCode(), err
	}
	t.Cleanup(func() { c.client.Disconnect(100) })
	return c, packets.Accepted, nil
}

// connectMQTT is dialMQTT that fails the test when the broker refuses.
func connectMQTT(
	t *testing.T, b *broker, tlsConfig *tls.Config, username, password string,
) *mqttClient {
	t.Helper()
	c, code, err := dialMQTT(t, b, tlsConfig, username, password)
	if err != nil {
		t.Fatalf("connect as %q: %v (CONNACK return code %d)", username, err, code)
	}
	return c
}

// waitToken waits up to mqttTimeout for token and returns its error.
func waitToken(t *testing.T, token mqtt.Token) error {
	t.Helper()
	return mqtttest.WaitToken(t, token, mqttTimeout)
}

// subscribe subscribes to topic with QoS 1 and returns the QoS the broker
// granted, 0x80 meaning it refused the subscription.
func (c *mqttClient) subscribe(t *testing.T, topic string) byte {
	t.Helper()
	return mqtttest.Subscribe(t, c.client, c.username, topic, mqttTimeout)
}

// mustSubscribe subscribes to topic and fails the test unless the broker
// grants QoS 1.
func (c *mqttClient) mustSubscribe(t *testing.T, topic string) {
	t.Helper()
	mqtttest.MustSubscribe(t, c.client, c.username, topic, mqttTimeout)
}

// publish sends payload to topic with QoS 1 and waits for the PUBACK. With
// MQTT 3.1.1 mosquitto acknowledges a publish that the ACL denies and drops
// it, so a nil error does not mean that anyone received the message.
func (c *mqttClient) publish(t *testing.T, topic, payload string) error {
	t.Helper()
	return waitToken(t, c.client.Publish(topic, 1, false, payload))
}

// mustPublish is publish that fails the test on an error.
func (c *mqttClient) mustPublish(t *testing.T, topic, payload string) {
	t.Helper()
	if err := c.publish(t, topic, payload); err != nil {
		t.Fatalf("%s: publish to %s: %v", c.username, topic, err)
	}
}

// expectNext waits for the next message and fails the test unless it is
// payload on topic. A test that publishes a message the ACL must drop, then
// a permitted one, calls expectNext for the permitted one: mosquitto queues
// a client's messages in order, so a dropped message that got through would
// arrive first.
func (c *mqttClient) expectNext(t *testing.T, topic, payload string) message {
	t.Helper()
	want := message{topic: topic, payload: payload, qos: 1}
	ctx, cancel := context.WithTimeout(t.Context(), mqttTimeout)
	defer cancel()
	select {
	case got := <-c.messages:
		if got != want {
			t.Fatalf("%s received %v, want %v", c.username, got, want)
		}
		return got
	case err := <-c.lost:
		t.Fatalf("%s lost its connection while waiting for %v: %v", c.username, want, err)
	case <-ctx.Done():
		t.Fatalf("%s received nothing within %s, want %v", c.username, mqttTimeout, want)
	}
	return message{}
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

// isAuthRefusal reports whether code is a CONNACK refusal for missing or wrong
// credentials, which proves that the TLS handshake succeeded and the broker
// itself turned the client away.
func isAuthRefusal(code byte) bool {
	return code == packets.ErrRefusedNotAuthorised || code == packets.ErrRefusedBadUsernameOrPassword
}
