package mqttclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/garagectl/garagectl/gate/command"
)

// ErrNotConnected is returned by Publish when the connection to the broker is not
// open. The payload was not sent and never will be.
var ErrNotConnected = errors.New("not connected to the broker")

// Timing of the connection.
const (
	// writeTimeout bounds how long paho's Publish waits to hand a packet to the
	// connection. Past it the packet is dropped, not kept for the next connection.
	writeTimeout = time.Second

	connectTimeout = 10 * time.Second

	// connectRetryInterval is the wait between attempts of the first connection.
	// Reconnects after a lost connection back off from 1 s to Config.MaxReconnectInterval.
	connectRetryInterval = 5 * time.Second

	keepAlive       = 30 * time.Second
	pingTimeout     = 10 * time.Second
	subscribeWait   = 10 * time.Second
	disconnectQuiet = 250 // milliseconds that Close gives paho to finish its work
)

// Config is the broker connection of the gate.
type Config struct {
	// Address is host:port of the broker's TLS listener.
	Address string
	// TLS must trust only the garage CA and name the broker's certificate name.
	TLS *tls.Config

	Username, Password string
	ClientID           string

	// Devices are the devices whose state and avail topics the client follows.
	Devices []string

	// MaxReconnectInterval caps the backoff between reconnect attempts.
	MaxReconnectInterval time.Duration

	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Client is a connection to the broker that reconnects by itself.
type Client struct {
	paho   mqtt.Client
	log    *slog.Logger
	now    func() time.Time
	board  *board
	topics map[string]byte

	mu       sync.Mutex
	failures int // failed connection attempts since the last connect
}

// New returns a Client for cfg. Call Start to connect.
func New(cfg Config) *Client {
	c := &Client{
		log:    cfg.Logger,
		now:    cfg.Now,
		board:  newBoard(cfg.Devices),
		topics: make(map[string]byte, 2*len(cfg.Devices)),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, d := range cfg.Devices {
		c.topics[Topic(d, "state")] = 1
		c.topics[Topic(d, "avail")] = 1
	}
	c.paho = mqtt.NewClient(c.options(cfg))
	return c
}

// options returns the paho options. The comment on an option gives the reason
// for its value, for a command that must fire now or never.
func (c *Client) options(cfg Config) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().
		AddBroker("ssl://" + cfg.Address).
		SetTLSConfig(cfg.TLS).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetClientID(cfg.ClientID).
		SetProtocolVersion(4).
		// No session on the broker, so it keeps no command for the gate either.
		SetCleanSession(true).
		// Subscriptions are made again by onConnect, not replayed from the store.
		SetResumeSubs(false).
		SetStore(discardStore{}).
		SetWriteTimeout(writeTimeout).
		// In order, so that the newest report of a device is the one kept. The
		// handler only stores the payload under a mutex, so it does not hold up
		// paho's router.
		SetOrderMatters(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(cfg.MaxReconnectInterval).
		SetConnectRetry(true).
		SetConnectRetryInterval(connectRetryInterval).
		SetConnectTimeout(connectTimeout).
		SetKeepAlive(keepAlive).
		SetPingTimeout(pingTimeout).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			c.board.record(m.Topic(), m.Payload(), c.now())
		}).
		SetOnConnectHandler(func(mqtt.Client) { c.onConnect(cfg.Address) }).
		SetConnectionNotificationHandler(c.onNotification)
}

// Start begins connecting in the background and returns at once. The client keeps
// trying until Close.
func (c *Client) Start() {
	c.paho.Connect()
}

// Connected reports whether the connection to the broker is open now.
func (c *Client) Connected() bool { return c.paho.IsConnectionOpen() }

// Status returns the last reports of device, and false for a device that the
// client does not follow.
func (c *Client) Status(device string) (DeviceStatus, bool) { return c.board.get(device) }

// LastSeq returns the last sequence number that device reported accepting in
// its state report, and false before a readable report arrived. The broker
// sends the retained report right after the client subscribes, on each connect.
func (c *Client) LastSeq(device string) (uint64, bool) {
	st, ok := c.board.get(device)
	if !ok || !st.State.Known() {
		return 0, false
	}
	s, err := command.ParseState([]byte(st.State.Value))
	if err != nil {
		return 0, false
	}
	return s.LastSeq, true
}

// Publish sends payload to topic with QoS 1, not retained, and returns when the
// broker acknowledged it (PUBACK) or ctx ends. It returns ErrNotConnected at once
// when the connection is not open. Any other error means the payload may or may not
// have reached the broker, but it will not be sent again.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte) error {
	if !c.paho.IsConnectionOpen() {
		return fmt.Errorf("publish to %s: %w", topic, ErrNotConnected)
	}
	token := c.paho.Publish(topic, 1, false, payload)
	select {
	case <-token.Done():
		if err := token.Error(); err != nil {
			return fmt.Errorf("publish to %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		// NOTE: paho keeps the message ID of this publish until the connection
		// closes for good, so each timeout on a connection that then reconnects
		// holds one of the 65535 IDs.
		return fmt.Errorf("publish to %s: no PUBACK: %w", topic, ctx.Err())
	}
}

// Close disconnects from the broker and stops reconnecting.
func (c *Client) Close() {
	c.paho.Disconnect(disconnectQuiet)
}

// onConnect subscribes again after each connect, because the clean session lost
// the subscriptions.
func (c *Client) onConnect(address string) {
	c.mu.Lock()
	c.failures = 0
	c.mu.Unlock()
	c.log.Info("connected to the broker", "broker", address)
	if len(c.topics) == 0 {
		return
	}
	token := c.paho.SubscribeMultiple(c.topics, nil)
	go func() {
		if !token.WaitTimeout(subscribeWait) {
			c.log.Warn("subscribe to device reports timed out", "timeout", subscribeWait)
			return
		}
		if err := token.Error(); err != nil {
			c.log.Warn("subscribe to device reports failed", "error", err)
		}
	}()
}

// onNotification logs lost connections and failed attempts. Failed attempts are
// logged on the 1st, 2nd, 4th, 8th… failure in a row, so a broker that stays down
// does not flood the journal.
func (c *Client) onNotification(_ mqtt.Client, n mqtt.ConnectionNotification) {
	switch n := n.(type) {
	case mqtt.ConnectionNotificationLost:
		c.log.Warn("lost the broker connection", "error", n.Reason)
	case mqtt.ConnectionNotificationFailed:
		c.mu.Lock()
		c.failures++
		count := c.failures
		c.mu.Unlock()
		if count&(count-1) == 0 {
			c.log.Warn("connect to the broker failed", "error", n.Reason, "failures", count)
		}
	}
}
