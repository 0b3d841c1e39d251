package mqttclient

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// discardStore is a paho Store that keeps nothing. paho v1.5.1 resends the
// outbound packets in its store after every automatic reconnect, whatever the
// clean-session flag (client.reconnect calls resume). With this store, a publish
// that got no PUBACK on its own connection is never sent again.
type discardStore struct{}

var _ mqtt.Store = discardStore{}

func (discardStore) Open()                                   {}
func (discardStore) Put(key string, m packets.ControlPacket) {}
func (discardStore) Get(key string) packets.ControlPacket    { return nil }
func (discardStore) All() []string                           { return nil }
func (discardStore) Del(key string)                          {}
func (discardStore) Close()                                  {}
func (discardStore) Reset()                                  {}
