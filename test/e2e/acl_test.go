package e2e

import (
	"testing"
)

// TestBrokerACL checks the generated ACL on a hub with two relays. The gate
// writes every relay's cmd topic and reads its state and avail topics. A relay
// reads only its own cmd topic and writes only its own state and avail topics.
//
// MQTT 3.1.1 gives a publisher no sign that the ACL dropped its message, so
// each denial is checked at a subscriber that may read the topic. After the
// denied message, a client that may publish there sends a marker, and the
// subscriber's next message must be the marker. mosquitto routes or drops a
// message before it sends the PUBACK, so a leaked message would arrive first.
func TestBrokerACL(t *testing.T) {
	h := newHub(t, "relay2")
	b := startBroker(t, h)
	connect := func(t *testing.T, account string) *mqttClient {
		t.Helper()
		return connectMQTT(t, b, h.clientTLS(t), account, h.password(t, account))
	}

	t.Run("relay1 cannot command relay2", func(t *testing.T) {
		relay2 := connect(t, "relay2")
		relay2.mustSubscribe(t, "garage/relay2/cmd")
		relay1 := connect(t, "relay1")
		gate := connect(t, "gate")

		publishDenied(t, relay1, "garage/relay2/cmd", "pulse from relay1")
		gate.mustPublish(t, "garage/relay2/cmd", "marker from gate")
		relay2.expectNext(t, "garage/relay2/cmd", "marker from gate")
	})

	t.Run("relay1 cannot read relay2 commands", func(t *testing.T) {
		relay2 := connect(t, "relay2")
		relay2.mustSubscribe(t, "garage/relay2/cmd")
		relay1 := connect(t, "relay1")
		if granted := relay1.subscribe(t, "garage/relay2/cmd"); granted != 0x80 {
			t.Logf("mosquitto granted relay1 QoS %d on garage/relay2/cmd, so delivery decides",
				granted)
		}
		relay1.mustSubscribe(t, "garage/relay1/cmd")
		gate := connect(t, "gate")

		gate.mustPublish(t, "garage/relay2/cmd", "pulse for relay2")
		relay2.expectNext(t, "garage/relay2/cmd", "pulse for relay2")
		gate.mustPublish(t, "garage/relay1/cmd", "marker for relay1")
		relay1.expectNext(t, "garage/relay1/cmd", "marker for relay1")
	})

	t.Run("relay1 reads only its own topics", func(t *testing.T) {
		relay1 := connect(t, "relay1")
		relay1.mustSubscribe(t, "garage/#")
		relay2 := connect(t, "relay2")
		gate := connect(t, "gate")

		gate.mustPublish(t, "garage/relay2/cmd", "pulse for relay2")
		relay2.mustPublish(t, "garage/relay2/state", "closed")
		relay2.mustPublish(t, "garage/relay2/avail", "online")
		gate.mustPublish(t, "garage/relay1/cmd", "marker for relay1")
		relay1.expectNext(t, "garage/relay1/cmd", "marker for relay1")
	})

	t.Run("relay1 cannot command itself", func(t *testing.T) {
		relay1 := connect(t, "relay1")
		relay1.mustSubscribe(t, "garage/relay1/cmd")
		gate := connect(t, "gate")

		publishDenied(t, relay1, "garage/relay1/cmd", "pulse from relay1")
		gate.mustPublish(t, "garage/relay1/cmd", "marker from gate")
		relay1.expectNext(t, "garage/relay1/cmd", "marker from gate")
	})

	t.Run("relay1 cannot fake relay2 state", func(t *testing.T) {
		gate := connect(t, "gate")
		gate.mustSubscribe(t, "garage/relay2/state")
		relay1 := connect(t, "relay1")
		relay2 := connect(t, "relay2")

		publishDenied(t, relay1, "garage/relay2/state", "open")
		relay2.mustPublish(t, "garage/relay2/state", "closed")
		gate.expectNext(t, "garage/relay2/state", "closed")
	})

	t.Run("gate reads state and avail", func(t *testing.T) {
		gate := connect(t, "gate")
		gate.mustSubscribe(t, "garage/relay1/state")
		gate.mustSubscribe(t, "garage/relay1/avail")
		relay1 := connect(t, "relay1")

		relay1.mustPublish(t, "garage/relay1/state", "closed")
		gate.expectNext(t, "garage/relay1/state", "closed")
		relay1.mustPublish(t, "garage/relay1/avail", "online")
		gate.expectNext(t, "garage/relay1/avail", "online")
	})

	t.Run("gate cannot read commands", func(t *testing.T) {
		gate := connect(t, "gate")
		gate.mustSubscribe(t, "garage/#")
		relay1 := connect(t, "relay1")
		relay1.mustSubscribe(t, "garage/relay1/cmd")

		gate.mustPublish(t, "garage/relay1/cmd", "pulse for relay1")
		relay1.expectNext(t, "garage/relay1/cmd", "pulse for relay1")
		relay1.mustPublish(t, "garage/relay1/state", "marker from relay1")
		gate.expectNext(t, "garage/relay1/state", "marker from relay1")
	})

	t.Run("gate cannot fake state", func(t *testing.T) {
		gate := connect(t, "gate")
		gate.mustSubscribe(t, "garage/relay1/state")
		relay1 := connect(t, "relay1")

		publishDenied(t, gate, "garage/relay1/state", "open")
		relay1.mustPublish(t, "garage/relay1/state", "closed")
		gate.expectNext(t, "garage/relay1/state", "closed")
	})
}

// publishDenied publishes a message the ACL must drop. A broker that closes
// the connection instead of acknowledging is rejecting too, so a publish
// error is logged, not failed on.
func publishDenied(t *testing.T, c *mqttClient, topic, payload string) {
	t.Helper()
	if err := c.publish(t, topic, payload); err != nil {
		t.Logf("%s: publish to %s: %v", c.username, topic, err)
	}
}
