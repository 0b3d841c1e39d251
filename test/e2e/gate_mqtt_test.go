package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/garagectl/garagectl/gate/mqttclient"
	"github.com/garagectl/garagectl/internal/layout"
)

// faultProxy forwards TCP connections from a loopback port to the broker and
// can fail in the ways a network fails: swallow what clients send (a broker
// that hangs), cut every connection, or refuse new ones (a broker that is down).
type faultProxy struct {
	addr, target string

	mu        sync.Mutex
	ln        net.Listener
	swallow   bool
	conns     []net.Conn
	closeOnce sync.Once
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{addr: ln.Addr().String(), target: target, ln: ln}
	go p.accept(ln)
	t.Cleanup(func() { p.setDown(t, true) })
	return p
}

func (p *faultProxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.copyToServer(server, client)
		go io.Copy(client, server)
	}
}

// copyToServer forwards client bytes unless the proxy swallows them.
func (p *faultProxy) copyToServer(server, client net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 && !p.swallowing() {
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			server.Close()
			return
		}
	}
}

func (p *faultProxy) swallowing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.swallow
}

// setSwallow makes the proxy drop, or again forward, what clients send.
func (p *faultProxy) setSwallow(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.swallow = on
}

// cut closes every open connection.
func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// setDown closes the listener and every connection, or listens again on the
// same port.
func (p *faultProxy) setDown(t *testing.T, down bool) {
	t.Helper()
	if down {
		p.mu.Lock()
		p.ln.Close()
		p.mu.Unlock()
		p.cut()
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.accept(ln)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gateClient returns the gate's broker client connected through the proxy.
func gateClient(t *testing.T, h *hub, p *faultProxy) *mqttclient.Client {
	t.Helper()
	c := mqttclient.New(mqttclient.Config{
		Address:              p.addr,
		TLS:                  h.clientTLS(t),
		Username:             layout.GateAccount,
		Password:             h.password(t, layout.GateAccount),
		ClientID:             fmt.Sprintf("e2e-gate-%d", clientCount.Add(1)),
		Devices:              []string{"relay1"},
		MaxReconnectInterval: time.Second,
	})
	c.Start()
	t.Cleanup(c.Close)
	waitFor(t, "the gate client to connect", c.Connected)
	return c
}

func publishWithin(c *mqttclient.Client, d time.Duration, payload string) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Publish(ctx, "garage/relay1/cmd", []byte(payload))
}

// TestMQTTClientNeverSendsLate checks that a command without a PUBACK is not
// sent again after a reconnect, and that a command while disconnected fails at
// once and is not sent when the connection returns.
func TestMQTTClientNeverSendsLate(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	proxy := startFaultProxy(t, b.addr)
	client := gateClient(t, h, proxy)

	if err := publishWithin(client, mqttTimeout, "before"); err != nil {
		t.Fatalf("publish through a working proxy: %v", err)
	}
	if m := <-relay.messages; m.payload != "before" {
		t.Fatalf("relay received %v, want \"before\"", m)
	}

	t.Run("no PUBACK, then reconnect", func(t *testing.T) {
		proxy.setSwallow(true)
		err := publishWithin(client, 500*time.Millisecond, "swallowed")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("publish into a hanging broker = %v, want a timeout", err)
		}
		proxy.setSwallow(false)
		proxy.cut()
		waitFor(t, "the client to notice the cut", func() bool { return !client.Connected() })
		waitFor(t, "the client to reconnect", client.Connected)
		relay.expectNone(t, 2*time.Second)
	})

	t.Run("publish while down", func(t *testing.T) {
		proxy.setDown(t, true)
		waitFor(t, "the client to notice the broker is down", func() bool { return !client.Connected() })
		start := time.Now()
		err := publishWithin(client, mqttTimeout, "while down")
		if !errors.Is(err, mqttclient.ErrNotConnected) {
			t.Errorf("publish while down = %v, want ErrNotConnected", err)
		}
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Errorf("publish while down took %s, want an immediate failure", took)
		}
		proxy.setDown(t, false)
		waitFor(t, "the client to reconnect", client.Connected)
		relay.expectNone(t, 2*time.Second)
	})

	if err := publishWithin(client, mqttTimeout, "after"); err != nil {
		t.Fatalf("publish after the faults: %v", err)
	}
	if m := <-relay.messages; m.payload != "after" {
		t.Errorf("relay received %v, want \"after\"", m)
	}
}

// TestPahoResendsAfterReconnect shows the hazard that mqttclient guards against:
// with its default store, paho sends a QoS 1 publish that got no PUBACK again
// after it reconnects, even with a clean session. If this test starts failing,
// paho changed, and the comments on mqttclient's discard store need a look.
func TestPahoResendsAfterReconnect(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	proxy := startFaultProxy(t, b.addr)

	opts := mqtt.NewClientOptions().
		AddBroker("ssl://" + proxy.addr).
		SetTLSConfig(h.clientTLS(t)).
		SetUsername(layout.GateAccount).
		SetPassword(h.password(t, layout.GateAccount)).
		SetClientID(fmt.Sprintf("e2e-paho-%d", clientCount.Add(1))).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(time.Second)
	client := mqtt.NewClient(opts)
	if err := waitToken(t, client.Connect()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(100) })

	proxy.setSwallow(true)
	token := client.Publish("garage/relay1/cmd", 1, false, "swallowed")
	if token.WaitTimeout(500 * time.Millisecond) {
		t.Fatalf("publish into a hanging broker completed: %v", token.Error())
	}
	proxy.setSwallow(false)
	proxy.cut()

	select {
	case m := <-relay.messages:
		if m.payload != "swallowed" {
			t.Errorf("relay received %v, want the resent \"swallowed\"", m)
		}
	case <-time.After(mqttTimeout):
		t.Errorf("paho did not resend the unacknowledged publish within %s", mqttTimeout)
	}
}
