package e2e

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/garagectl/garagectl/gate/command"
)

// commandSub plays a relay: it subscribes with the device's own account to the
// device's command topic and checks each command like the firmware does.
type commandSub struct {
	device   string
	key      []byte
	client   mqtt.Client
	messages chan message
}

// subscribeCommands connects as device and subscribes to garage/<device>/cmd
// with QoS 1. A persistent subscriber keeps its session on the broker (clean
// session off) and reconnects by itself, so the broker queues the commands
// published while it is away, across a clean broker restart too.
func subscribeCommands(t *testing.T, h *hub, b *broker, device string, persistent bool) *commandSub {
	t.Helper()
	s := &commandSub{device: device, key: deviceKey(t, h, device), messages: make(chan message, 64)}
	opts := mqtt.NewClientOptions().
		AddBroker("ssl://" + b.addr).
		SetTLSConfig(h.clientTLS(t)).
		SetUsername(device).
		SetPassword(h.password(t, device)).
		SetClientID(fmt.Sprintf("e2e-%s-cmd-%d", device, clientCount.Add(1))).
		SetProtocolVersion(4).
		SetCleanSession(!persistent).
		SetAutoReconnect(persistent).
		SetMaxReconnectInterval(time.Second).
		SetConnectTimeout(mqttTimeout).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			s.messages <- message{topic: m.Topic(), payload: string(m.Payload()), qos: m.Qos()}
		})
	s.client = mqtt.NewClient(opts)
	if err := waitToken(t, s.client.Connect()); err != nil {
		t.Fatalf("connect as %s: %v", device, err)
	}
	t.Cleanup(func() { s.client.Disconnect(100) })

	topic := "garage/" + device + "/cmd"
	token := s.client.Subscribe(topic, 1, nil)
	if err := waitToken(t, token); err != nil {
		t.Fatalf("subscribe to %s: %v", topic, err)
	}
	if granted := token.(*mqtt.SubscribeToken).Result()[topic]; granted != 1 {
		t.Fatalf("subscribe to %s: granted QoS %#x, want 1", topic, granted)
	}
	return s
}

// next waits for the next command and fails the test unless it is on the
// device's topic with QoS 1, parses, names the device, carries a MAC made with
// the device's key, and was made within 30 seconds of now.
func (s *commandSub) next(t *testing.T) command.Signed {
	t.Helper()
	var m message
	select {
	case m = <-s.messages:
	case <-time.After(mqttTimeout):
		t.Fatalf("%s received no command within %s", s.device, mqttTimeout)
	}
	if m.topic != "garage/"+s.device+"/cmd" || m.qos != 1 {
		t.Fatalf("%s received %v, want a QoS 1 message on garage/%s/cmd", s.device, m, s.device)
	}
	cmd, err := command.Parse([]byte(m.payload))
	if err != nil {
		t.Fatalf("%s received %q: %v", s.device, m.payload, err)
	}
	if cmd.Device != s.device {
		t.Errorf("command %q names device %s, want %s", m.payload, cmd.Device, s.device)
	}
	if !cmd.Verify(s.key) {
		t.Errorf("command %q: the MAC does not verify with the key of %s", m.payload, s.device)
	}
	if skew := time.Since(time.Unix(cmd.Time, 0)); skew < -30*time.Second || skew > 30*time.Second {
		t.Errorf("command %q was made %s ago, more than the relay's 30 s", m.payload, skew)
	}
	return cmd
}

// expectNone fails the test if a message arrives within d.
func (s *commandSub) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-s.messages:
		t.Errorf("%s received %v, want no further command", s.device, m)
	case <-time.After(d):
	}
}

// report publishes a retained state or availability report as the relay does,
// kind being "state" or "avail".
func (s *commandSub) report(t *testing.T, kind, payload string) {
	t.Helper()
	topic := "garage/" + s.device + "/" + kind
	if err := waitToken(t, s.client.Publish(topic, 1, true, payload)); err != nil {
		t.Fatalf("%s: publish to %s: %v", s.device, topic, err)
	}
}
