// Package mqttclient is the gate's connection to the broker: it publishes commands
// with QoS 1 and waits for the broker's PUBACK, and it keeps the last state and
// availability report of each device for the page.
//
// A command must fire now or never. A paho client (github.com/eclipse/paho.mqtt.golang
// v1.5.1) keeps a QoS 1 publish in its store while it is disconnected or
// reconnecting, and it sends the publish again after it reconnects. A trigger
// pressed while the broker was down would then open the door minutes later. This package prevents that in
// three ways: Publish fails at once with [ErrNotConnected] unless the connection is
// open, the client's store discards everything so that nothing is left to resend,
// and the client's write timeout stops a publish from waiting for the next
// connection.
package mqttclient
