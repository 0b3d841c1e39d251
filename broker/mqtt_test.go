package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mqttTimeout bounds every wait for the broker.
const mqttTimeout = 10 * time.Second

// clientCounter makes client ids unique, because mosquitto disconnects a
// client when another one connects with the same id.
var clientCounter atomic.Int64

// connectMQTT connects to brokerURL ("tcp://..." or "ssl://...") as user. An
// empty user connects without credentials. The client is disconnected in
// t.Cleanup. The password goes to the broker in the CONNECT packet, never on
// a command line.
func connectMQTT(t *testing.T, brokerURL string, tlsConf *tls.Config, user, password string) (mqtt.Client, error) {
	t.Helper()
	opts := mqtt.NewClientOptions().
		AddBroker(brokerURL).
		SetClientID(fmt.Sprintf("%s-%d", clientIDPrefix(user), clientCounter.Add(1))).
		SetUsername(user).
		SetPassword(password).
		SetTLSConfig(tlsConf).
		SetProtocolVersion(4). // MQTT 3.1.1
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(mqttTimeout)
	c := mqtt.NewClient(opts)
	if err := waitToken(c.Connect()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

// clientIDPrefix returns user, or "anonymous" for no user.
func clientIDPrefix(user string) string {
	if user == "" {
		return "anonymous"
	}
	return user
}

// mustConnectMQTT is connectMQTT that fails the test on error.
func mustConnectMQTT(t *testing.T, brokerURL string, tlsConf *tls.Config, user, password string) mqtt.Client {
	t.Helper()
	c, err := connectMQTT(t, brokerURL, tlsConf, user, password)
	if err != nil {
		t.Fatalf("connect to %s as %q: %v", brokerURL, user, err)
	}
	return c
}

// subscribe subscribes c to filter with QoS 1 and returns the messages it
// receives. mosquitto 2.0.11 grants a subscription that the ACL does not
// allow and then delivers nothing, so the SUBACK code is not checked.
func subscribe(t *testing.T, c mqtt.Client, filter string) <-chan mqtt.Message {
	t.Helper()
	messages := make(chan mqtt.Message, 100)
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { messages <- m })
	if err := waitToken(tok); err != nil {
		t.Fatalf("subscribe to %s: %v", filter, err)
	}
	return messages
}

// publish publishes payload to topic with QoS 1 and waits for the PUBACK.
// mosquitto 2.0.11 also acknowledges a publish that the ACL denies, and
// drops it.
func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	if err := waitToken(c.Publish(topic, 1, false, payload)); err != nil {
		t.Fatalf("publish to %s: %v", topic, err)
	}
}

// expectNext fails the test unless the next message on messages is
// payload on topic. Tests publish such a barrier message after the
// acknowledged publish of one that must not arrive. mosquitto handles
// publishes in the order it receives them, so a forbidden message that got
// through would arrive before the barrier.
func expectNext(t *testing.T, messages <-chan mqtt.Message, topic, payload string) {
	t.Helper()
	select {
	case m := <-messages:
		if m.Topic() != topic || string(m.Payload()) != payload {
			t.Errorf("received %q on %s, want %q on %s", m.Payload(), m.Topic(), payload, topic)
		}
	case <-time.After(mqttTimeout):
		t.Errorf("received nothing within %v, want %q on %s", mqttTimeout, payload, topic)
	}
}

func waitToken(tok mqtt.Token) error {
	if !tok.WaitTimeout(mqttTimeout) {
		return errors.New("timed out waiting for the broker")
	}
	return tok.Error()
}
