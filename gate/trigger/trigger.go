// Package trigger turns a request to open a door into one signed command: it
// enforces the cooldown per device, takes the next persisted sequence number, signs
// the command with the device's key and publishes it.
package trigger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/gate/mqttclient"
)

// Errors of Fire. A cooldown is reported as a *CooldownError.
var (
	ErrUnknownDevice = errors.New("unknown device")
	// ErrUnavailable wraps the cause when the broker did not acknowledge the command.
	ErrUnavailable = errors.New("broker unavailable")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("gate is shutting down")
)

// DefaultPublishTimeout is how long Fire waits for the broker's PUBACK. It keeps
// the response to a trigger under 2 seconds when the broker hangs.
const DefaultPublishTimeout = 1500 * time.Millisecond

// CooldownError is returned by Fire for a trigger inside the cooldown of its device.
type CooldownError struct {
	Device string
	// Left is the time until the device accepts the next trigger.
	Left time.Duration
}

func (e *CooldownError) Error() string {
	return fmt.Sprintf("device %s is in its cooldown for %s more", e.Device, e.Left.Round(time.Millisecond))
}

// Publisher sends a payload and waits for the broker's acknowledgement.
// *mqttclient.Client is one. An error that wraps mqttclient.ErrNotConnected means
// that nothing was sent.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
	Connected() bool
}

// Sequencer hands out persisted sequence numbers. *sequence.Store is one.
type Sequencer interface {
	Next(device string) (uint64, error)
}

// Config configures a Trigger.
type Config struct {
	// Keys maps each device name to its 32-byte command key.
	Keys map[string][]byte
	// Cooldown is the minimum time between two commands to one device.
	Cooldown time.Duration
	// PublishTimeout bounds the wait for the PUBACK; 0 means DefaultPublishTimeout.
	PublishTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Trigger sends commands. It is safe for concurrent use.
type Trigger struct {
	cfg     Config
	seq     Sequencer
	pub     Publisher
	devices map[string]*device

	mu       sync.Mutex
	closed   bool
	inFlight sync.WaitGroup
}

// device serializes the triggers of one device, so that two presses at once
// cannot both pass the cooldown check.
type device struct {
	lock    chan struct{} // contains one token while a trigger runs
	readyAt time.Time     // end of the cooldown, guarded by lock
}

// Result describes a command that the broker acknowledged.
type Result struct {
	Device string
	Seq    uint64
	// Time is when the command was made.
	Time time.Time
}

// New returns a Trigger for the devices in cfg.Keys.
func New(cfg Config, seq Sequencer, pub Publisher) (*Trigger, error) {
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Trigger{cfg: cfg, seq: seq, pub: pub, devices: make(map[string]*device)}
	for name, key := range cfg.Keys {
		if len(key) != command.KeySize {
			return nil, fmt.Errorf("create trigger: key of device %s is %d bytes, want %d",
				name, len(key), command.KeySize)
		}
		t.devices[name] = &device{lock: make(chan struct{}, 1)}
	}
	return t, nil
}

// Devices returns the device names in order.
func (t *Trigger) Devices() []string {
	names := make([]string, 0, len(t.devices))
	for name := range t.devices {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Fire sends one command to the named device and returns when the broker
// acknowledged it. It fails with ErrUnknownDevice, a *CooldownError, ErrClosed,
// ErrUnavailable when the broker is down or sent no PUBACK within the publish
// timeout, or an error from persisting the sequence number.
//
// The cooldown starts when a command may have reached the broker, even without a
// PUBACK, because the door may be moving. A command that was certainly not sent
// (no open connection) leaves the cooldown as it was. ctx bounds only the wait for
// another trigger of the same device. Once publishing began, Fire waits for the
// outcome, so that the cooldown is always set right.
func (t *Trigger) Fire(ctx context.Context, name string) (Result, error) {
	d, ok := t.devices[name]
	if !ok {
		return Result{}, fmt.Errorf("trigger %s: %w", name, ErrUnknownDevice)
	}
	if !t.begin() {
		return Result{}, fmt.Errorf("trigger %s: %w", name, ErrClosed)
	}
	defer t.inFlight.Done()

	select {
	case d.lock <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("trigger %s: %w", name, ctx.Err())
	}
	defer func() { <-d.lock }()

	now := t.cfg.Now()
	if left := d.readyAt.Sub(now); left > 0 {
		return Result{}, &CooldownError{Device: name, Left: left}
	}
	if !t.pub.Connected() {
		return Result{}, fmt.Errorf("trigger %s: %w: %w", name, ErrUnavailable,
			mqttclient.ErrNotConnected)
	}
	return t.send(ctx, d, name, now)
}

// send signs and publishes one command. The caller holds d.lock.
func (t *Trigger) send(ctx context.Context, d *device, name string, now time.Time) (Result, error) {
	// The number is on disk before the command leaves, so a restart never reuses it.
	seq, err := t.seq.Next(name)
	if err != nil {
		return Result{}, fmt.Errorf("trigger %s: %w", name, err)
	}
	cmd := command.Command{Device: name, Action: command.ActionPulse, Seq: seq, Time: now.Unix()}
	payload, err := command.Sign(cmd, t.cfg.Keys[name])
	if err != nil {
		return Result{}, fmt.Errorf("trigger %s: %w", name, err)
	}

	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.cfg.PublishTimeout)
	defer cancel()
	err = t.pub.Publish(pubCtx, mqttclient.Topic(name, "cmd"), payload)
	if err != nil && errors.Is(err, mqttclient.ErrNotConnected) {
		return Result{}, fmt.Errorf("trigger %s: %w: %w", name, ErrUnavailable, err)
	}
	d.readyAt = now.Add(t.cfg.Cooldown)
	if err != nil {
		return Result{}, fmt.Errorf("trigger %s: %w: %w", name, ErrUnavailable, err)
	}
	return Result{Device: name, Seq: seq, Time: now}, nil
}

// begin registers a trigger in flight, and returns false after Close.
func (t *Trigger) begin() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.inFlight.Add(1)
	return true
}

// Close rejects new triggers with ErrClosed and waits until the triggers in
// flight have finished or ctx ends.
func (t *Trigger) Close(ctx context.Context) error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()

	done := make(chan struct{})
	go func() {
		t.inFlight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for triggers in flight: %w", ctx.Err())
	}
}
