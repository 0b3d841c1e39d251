package broker

import (
	"errors"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestACLOnMosquitto runs the rendered config, password file and ACL on
// mosquitto and checks what the gate and two relays may publish and receive.
func TestACLOnMosquitto(t *testing.T) {
	accounts := []Account{{"gate", "gate-pw"}, {"relay1", "relay1-pw"}, {"relay2", "relay2-pw"}}
	passwd, err := PasswordFile(accounts, nil)
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}
	acl, err := ACL("gate", []string{"relay1", "relay2"})
	if err != nil {
		t.Fatalf("ACL: %v", err)
	}
	h := newTestHub(t, passwd, acl)
	conf, err := RenderConfig(h.opts)
	if err != nil {
		t.Fatalf("RenderConfig: %v", err)
	}
	h.start(t, conf)
	url, tlsConf := "ssl://"+h.addr(), h.tlsConfig()

	gate := mustConnectMQTT(t, url, tlsConf, "gate", "gate-pw")
	relay1 := mustConnectMQTT(t, url, tlsConf, "relay1", "relay1-pw")
	relay2 := mustConnectMQTT(t, url, tlsConf, "relay2", "relay2-pw")

	t.Run("gate commands relay1", func(t *testing.T) {
		cmds := subscribe(t, relay1, "garage/relay1/cmd")
		publish(t, gate, "garage/relay1/cmd", "open")
		expectNext(t, cmds, "garage/relay1/cmd", "open")
	})

	t.Run("relay1 cannot command relay2", func(t *testing.T) {
		cmds := subscribe(t, relay2, "garage/relay2/cmd")
		publish(t, relay1, "garage/relay2/cmd", "forged")
		publish(t, gate, "garage/relay2/cmd", "barrier")
		expectNext(t, cmds, "garage/relay2/cmd", "barrier")
	})

	t.Run("relay1 cannot read relay2 commands", func(t *testing.T) {
		all := subscribe(t, relay1, "#")
		publish(t, gate, "garage/relay2/cmd", "for relay2")
		publish(t, relay2, "garage/relay2/state", "closed")
		publish(t, gate, "garage/relay1/cmd", "barrier")
		expectNext(t, all, "garage/relay1/cmd", "barrier")
	})

	t.Run("gate reads relay reports", func(t *testing.T) {
		states := subscribe(t, gate, "garage/+/state")
		avail := subscribe(t, gate, "garage/relay1/avail")
		publish(t, relay1, "garage/relay1/state", "open")
		expectNext(t, states, "garage/relay1/state", "open")
		publish(t, relay1, "garage/relay1/avail", "online")
		expectNext(t, avail, "garage/relay1/avail", "online")
	})

	t.Run("gate cannot publish state", func(t *testing.T) {
		states := subscribe(t, gate, "garage/relay2/state")
		publish(t, gate, "garage/relay2/state", "forged")
		publish(t, relay2, "garage/relay2/state", "barrier")
		expectNext(t, states, "garage/relay2/state", "barrier")
	})

	t.Run("relay cannot publish outside its topics", func(t *testing.T) {
		all := subscribe(t, gate, "#")
		publish(t, relay1, "garage/relay2/state", "forged")
		publish(t, relay1, "garage/relay1/other", "forged")
		publish(t, relay1, "$SYS/forged", "forged")
		publish(t, relay1, "garage/relay1/state", "barrier")
		expectNext(t, all, "garage/relay1/state", "barrier")
	})

	t.Run("rejected logins", func(t *testing.T) {
		tests := []struct {
			name, user, password string
		}{
			{"anonymous", "", ""},
			{"wrong password", "gate", "relay1-pw"},
			{"unknown account", "intruder", "gate-pw"},
			{"empty password", "relay1", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := connectMQTT(t, url, tlsConf, tt.user, tt.password)
				if !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
					t.Errorf("connect as %q: error %v, want %v", tt.user, err, packets.ErrorRefusedNotAuthorised)
				}
			})
		}
	})
}
