// Package trigger turns a request to open a door into one signed command: it
// enforces the cooldown per device, takes the next persisted sequence number, signs
// the command with the device's key and publishes it.
package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Store persists what a restart must not lose: the sequence numbers and the end
// of each device's cooldown. *sequence.Store is one.
type Store interface {
	// Next returns a number above both the last one it persisted for device and
	// relayLast, and persists it.
	Next(device string, relayLast uint64) (uint64, error)
	// CooldownEnd returns the end that SetCooldownEnd persisted for device, and
	// the zero Time when there is none.
	CooldownEnd(device string) (time.Time, error)
	SetCooldownEnd(device string, end time.Time) error
}

// Config configures a Trigger.
type Config struct {
	// Keys maps each device name to its 32-byte command key.
	Keys map[string][]byte
	// Cooldown is the minimum time between two commands to one device.
	Cooldown time.Duration
	// PublishTimeout bounds the wait for the PUBACK; 0 means DefaultPublishTimeout.
	PublishTimeout time.Duration
	// RelayLastSeq returns the last sequence number that the device reported
	// accepting, and false before it reported one. Each command gets a number
	// above it. Nil means no reports. (*mqttclient.Client).LastSeq is one.
	RelayLastSeq func(device string) (uint64, bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives a warning when a persisted cooldown cannot be read. Nil
	// discards it.
	Logger *slog.Logger
}

// Trigger sends commands. It is safe for concurrent use.
type Trigger struct {
	cfg     Config
	store   Store
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

// New returns a Trigger for the devices in cfg.Keys. Each device starts in the
// cooldown that store persisted for it, so a restart does not shorten a cooldown.
//
// The persisted end is preferred over starting every device in a full cooldown
// at each start: that would also hold the first press after a restart that
// came hours after the last command, such as an upgrade or a reboot. The cost
// is one more synced write per command.
func New(cfg Config, store Store, pub Publisher) (*Trigger, error) {
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Trigger{cfg: cfg, store: store, pub: pub, devices: make(map[string]*device)}
	now := cfg.Now()
	for name, key := range cfg.Keys {
		if len(key) != command.KeySize {
			return nil, fmt.Errorf("create trigger: key of device %s is %d bytes, want %d",
				name, len(key), command.KeySize)
		}
		t.devices[name] = &device{lock: make(chan struct{}, 1), readyAt: t.restoreCooldown(name, now)}
	}
	return t, nil
}

// restoreCooldown returns the persisted end of device's cooldown, at most one
// Cooldown after now, so that a clock set back or an edited file cannot hold a
// device longer. When the end cannot be read, the device gets a full cooldown,
// because its last command may have been moments ago.
func (t *Trigger) restoreCooldown(device string, now time.Time) time.Time {
	latest := now.Add(t.cfg.Cooldown)
	end, err := t.store.CooldownEnd(device)
	if err != nil {
		t.cfg.Logger.Warn("read cooldown end failed: starting a full cooldown",
			"device", device, "error", err)
		return latest
	}
	if end.After(latest) {
		return latest
	}
	return end
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
// timeout, or an error from persisting the sequence number or the cooldown.
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
	seq, err := t.store.Next(name, t.relayLastSeq(name))
	if err != nil {
		return Result{}, fmt.Errorf("trigger %s: %w", name, err)
	}
	// So is the end of the cooldown, so a restart keeps it. A publish that then
	// sends nothing leaves it on disk, which can only make a restart wait.
	if t.cfg.Cooldown > 0 {
		if err := t.store.SetCooldownEnd(name, now.Add(t.cfg.Cooldown)); err != nil {
			return Result{}, fmt.Errorf("trigger %s: %w", name, err)
		}
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

// relayLastSeq returns the last sequence number that device reported
// accepting, 0 when unknown.
func (t *Trigger) relayLastSeq(device string) uint64 {
	if t.cfg.RelayLastSeq == nil {
		return 0
	}
	n, _ := t.cfg.RelayLastSeq(device)
	return n
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
