package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/gate/mqttclient"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// fakeBroker records publishes. publish decides the outcome of each one.
type fakeBroker struct {
	mu        sync.Mutex
	connected bool
	sent      []string // topic and payload
	publish   func(ctx context.Context) error
}

func (b *fakeBroker) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected
}

func (b *fakeBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	b.sent = append(b.sent, topic+" "+string(payload))
	publish := b.publish
	b.mu.Unlock()
	if publish != nil {
		return publish(ctx)
	}
	return nil
}

func (b *fakeBroker) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sent)
}

// fakeStore counts from 1 per device, above relayLast as the real store does, or
// fails with err. It keeps the cooldown ends in memory, and fails to read them
// with cooldownErr.
type fakeStore struct {
	mu          sync.Mutex
	last        map[string]uint64
	err         error
	cooldowns   map[string]time.Time
	cooldownErr error
}

func (s *fakeStore) CooldownEnd(device string) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cooldowns[device], s.cooldownErr
}

func (s *fakeStore) SetCooldownEnd(device string, end time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cooldowns == nil {
		s.cooldowns = make(map[string]time.Time)
	}
	s.cooldowns[device] = end
	return nil
}

func (s *fakeStore) Next(device string, relayLast uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.last == nil {
		s.last = make(map[string]uint64)
	}
	s.last[device] = max(s.last[device], relayLast) + 1
	return s.last[device], nil
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	trigger *Trigger
	broker  *fakeBroker
	store   *fakeStore
	clock   *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		broker: &fakeBroker{connected: true},
		store:  &fakeStore{},
		clock:  &clock{now: time.Unix(1764849600, 0)},
	}
	cfg := Config{
		Keys:           map[string][]byte{"relay1": testKey, "relay2": testKey},
		Cooldown:       10 * time.Second,
		PublishTimeout: 200 * time.Millisecond,
		Now:            f.clock.Now,
	}
	tr, err := New(cfg, f.store, f.broker)
	if err != nil {
		t.Fatal(err)
	}
	f.trigger = tr
	return f
}

func TestFireSendsSignedCommand(t *testing.T) {
	f := newFixture(t)
	res, err := f.trigger.Fire(t.Context(), "relay1")
	if err != nil {
		t.Fatalf("Fire: %v", err)
	}
	want := Result{Device: "relay1", Seq: 1, Time: time.Unix(1764849600, 0)}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Result mismatch (-want +got):\n%s", diff)
	}

	if len(f.broker.sent) != 1 {
		t.Fatalf("published %d messages, want 1", len(f.broker.sent))
	}
	topic := mqttclient.Topic("relay1", "cmd")
	payload, ok := strings.CutPrefix(f.broker.sent[0], topic+" ")
	if !ok {
		t.Fatalf("published %q, want a message on %s", f.broker.sent[0], topic)
	}
	s, err := command.Parse([]byte(payload))
	if err != nil {
		t.Fatalf("published payload %q does not parse: %v", payload, err)
	}
	wantCmd := command.Command{Device: "relay1", Action: "pulse", Seq: 1, Time: 1764849600}
	if diff := cmp.Diff(wantCmd, s.Command); diff != "" {
		t.Errorf("command mismatch (-want +got):\n%s", diff)
	}
	if !s.Verify(testKey) {
		t.Error("published command does not verify with the device key")
	}
}

func TestFireCooldown(t *testing.T) {
	f := newFixture(t)
	if _, err := f.trigger.Fire(t.Context(), "relay1"); err != nil {
		t.Fatal(err)
	}

	f.clock.advance(3 * time.Second)
	_, err := f.trigger.Fire(t.Context(), "relay1")
	var cooldown *CooldownError
	if !errors.As(err, &cooldown) {
		t.Fatalf("second Fire error = %v, want a *CooldownError", err)
	}
	if cooldown.Left != 7*time.Second {
		t.Errorf("Left = %s, want 7s", cooldown.Left)
	}
	if n := f.broker.count(); n != 1 {
		t.Errorf("published %d messages, want 1: a trigger in the cooldown must not publish", n)
	}

	// Each device has its own cooldown.
	if _, err := f.trigger.Fire(t.Context(), "relay2"); err != nil {
		t.Errorf("Fire(relay2) during the cooldown of relay1: %v", err)
	}

	f.clock.advance(7 * time.Second)
	res, err := f.trigger.Fire(t.Context(), "relay1")
	if err != nil {
		t.Fatalf("Fire after the cooldown: %v", err)
	}
	if res.Seq != 2 {
		t.Errorf("Seq after the cooldown = %d, want 2", res.Seq)
	}
}

func TestFireBrokerDown(t *testing.T) {
	f := newFixture(t)
	f.broker.connected = false

	_, err := f.trigger.Fire(t.Context(), "relay1")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, mqttclient.ErrNotConnected) {
		t.Fatalf("Fire error = %v, want ErrUnavailable and ErrNotConnected", err)
	}
	if n := f.broker.count(); n != 0 {
		t.Errorf("published %d messages while disconnected, want 0", n)
	}

	// Nothing was sent, so no cooldown started and no number was used.
	f.broker.connected = true
	res, err := f.trigger.Fire(t.Context(), "relay1")
	if err != nil {
		t.Fatalf("Fire after the broker came back: %v", err)
	}
	if res.Seq != 1 {
		t.Errorf("Seq = %d, want 1", res.Seq)
	}
}

// The connection can drop between the check and the publish. A publish that
// reports ErrNotConnected sent nothing, so it starts no cooldown.
func TestFireConnectionDropsBeforePublish(t *testing.T) {
	f := newFixture(t)
	f.broker.publish = func(context.Context) error {
		return fmt.Errorf("publish: %w", mqttclient.ErrNotConnected)
	}
	if _, err := f.trigger.Fire(t.Context(), "relay1"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Fire error = %v, want ErrUnavailable", err)
	}

	f.broker.publish = nil
	if _, err := f.trigger.Fire(t.Context(), "relay1"); err != nil {
		t.Errorf("Fire after a publish that sent nothing: %v", err)
	}
}

// Without a PUBACK the command may have reached the relay, so the cooldown
// starts anyway, and Fire gives up after the publish timeout.
func TestFireNoPubackStartsCooldown(t *testing.T) {
	f := newFixture(t)
	f.broker.publish = func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	start := time.Now()
	_, err := f.trigger.Fire(t.Context(), "relay1")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fire error = %v, want ErrUnavailable after a timeout", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Fire took %s, want about the publish timeout of 200ms", took)
	}

	f.broker.publish = nil
	var cooldown *CooldownError
	if _, err := f.trigger.Fire(t.Context(), "relay1"); !errors.As(err, &cooldown) {
		t.Errorf("Fire after an unacknowledged publish = %v, want a *CooldownError", err)
	}
}

// A client that hangs up must not cut the wait for the PUBACK short, because
// the outcome decides the cooldown.
func TestFireIgnoresCancelDuringPublish(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	f.broker.publish = func(pubCtx context.Context) error {
		cancel()
		select {
		case <-pubCtx.Done():
			return pubCtx.Err()
		case <-time.After(20 * time.Millisecond):
			return nil
		}
	}
	if _, err := f.trigger.Fire(ctx, "relay1"); err != nil {
		t.Errorf("Fire with a context canceled during the publish: %v", err)
	}
}

func TestFireUnknownDevice(t *testing.T) {
	f := newFixture(t)
	if _, err := f.trigger.Fire(t.Context(), "relay9"); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("Fire(relay9) error = %v, want ErrUnknownDevice", err)
	}
}

func TestFireSequenceError(t *testing.T) {
	f := newFixture(t)
	f.store.err = errors.New("disk full")
	_, err := f.trigger.Fire(t.Context(), "relay1")
	if err == nil || !errors.Is(err, f.store.err) {
		t.Fatalf("Fire error = %v, want the sequence error", err)
	}
	if n := f.broker.count(); n != 0 {
		t.Errorf("published %d messages without a persisted number, want 0", n)
	}
}

// Presses at the same moment must produce one command, not one each.
func TestFireConcurrentPresses(t *testing.T) {
	f := newFixture(t)
	f.broker.publish = func(context.Context) error {
		time.Sleep(10 * time.Millisecond)
		return nil
	}
	const presses = 20
	var wg sync.WaitGroup
	errs := make(chan error, presses)
	for range presses {
		wg.Go(func() {
			_, err := f.trigger.Fire(t.Context(), "relay1")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)

	sent, cooldowns := 0, 0
	for err := range errs {
		var cooldown *CooldownError
		switch {
		case err == nil:
			sent++
		case errors.As(err, &cooldown):
			cooldowns++
		default:
			t.Errorf("Fire: %v", err)
		}
	}
	if sent != 1 || cooldowns != presses-1 {
		t.Errorf("got %d sent and %d in cooldown, want 1 and %d", sent, cooldowns, presses-1)
	}
	if n := f.broker.count(); n != 1 {
		t.Errorf("published %d messages, want 1", n)
	}
}

func TestCloseDrainsInFlight(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	started := make(chan struct{})
	f.broker.publish = func(context.Context) error {
		close(started)
		<-release
		return nil
	}
	result := make(chan error, 1)
	go func() {
		_, err := f.trigger.Fire(context.Background(), "relay1")
		result <- err
	}()
	<-started

	closed := make(chan error, 1)
	go func() { closed <- f.trigger.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a trigger was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}

	close(release)
	if err := <-result; err != nil {
		t.Errorf("trigger in flight during Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := f.trigger.Fire(t.Context(), "relay2"); !errors.Is(err, ErrClosed) {
		t.Errorf("Fire after Close = %v, want ErrClosed", err)
	}
}

func TestNewRejectsShortKey(t *testing.T) {
	_, err := New(Config{Keys: map[string][]byte{"relay1": testKey[:16]}}, &fakeStore{}, &fakeBroker{})
	if err == nil {
		t.Error("New accepted a 16-byte key")
	}
}

func TestDevicesSorted(t *testing.T) {
	f := newFixture(t)
	if diff := cmp.Diff([]string{"relay1", "relay2"}, f.trigger.Devices()); diff != "" {
		t.Errorf("Devices mismatch (-want +got):\n%s", diff)
	}
}

// The gate numbered commands from its own file alone, so a lost file made the
// relay reject every command as a replay.
func TestFireAboveRelayLastSeq(t *testing.T) {
	broker := &fakeBroker{connected: true}
	cfg := Config{
		Keys: map[string][]byte{"relay1": testKey, "relay2": testKey},
		RelayLastSeq: func(device string) (uint64, bool) {
			if device == "relay1" {
				return 41, true
			}
			return 0, false
		},
	}
	tr, err := New(cfg, &fakeStore{}, broker)
	if err != nil {
		t.Fatal(err)
	}
	for device, want := range map[string]uint64{"relay1": 42, "relay2": 1} {
		res, err := tr.Fire(t.Context(), device)
		if err != nil {
			t.Fatalf("Fire(%s): %v", device, err)
		}
		if res.Seq != want {
			t.Errorf("Fire(%s) Seq = %d, want %d", device, res.Seq, want)
		}
	}
}

// A restart of the gate reset every cooldown, so a second trigger right after
// the restart went out.
func TestCooldownSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	if _, err := f.trigger.Fire(t.Context(), "relay1"); err != nil {
		t.Fatal(err)
	}

	f.clock.advance(3 * time.Second)
	restarted := f.restart(t, nil)
	_, err := restarted.Fire(t.Context(), "relay1")
	var cooldown *CooldownError
	if !errors.As(err, &cooldown) {
		t.Fatalf("Fire after a restart inside the cooldown = %v, want a *CooldownError", err)
	}
	if cooldown.Left != 7*time.Second {
		t.Errorf("Left = %s, want 7s", cooldown.Left)
	}
	if _, err := restarted.Fire(t.Context(), "relay2"); err != nil {
		t.Errorf("Fire(relay2), which was not triggered before the restart: %v", err)
	}

	f.clock.advance(7 * time.Second)
	if _, err := restarted.Fire(t.Context(), "relay1"); err != nil {
		t.Errorf("Fire after the cooldown: %v", err)
	}
}

func TestRestoreCooldown(t *testing.T) {
	tests := []struct {
		name     string
		end      time.Duration // persisted end, from now
		readErr  error
		wantLeft time.Duration // 0 for no cooldown
		warning  bool
	}{
		{"past end", -time.Second, nil, 0, false},
		{"end inside the cooldown", 4 * time.Second, nil, 4 * time.Second, false},
		// A clock set back, or an edited file, holds a device for one cooldown at most.
		{"end past one cooldown", time.Hour, nil, 10 * time.Second, false},
		{"unreadable end", 0, errors.New("bad file"), 10 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.store.SetCooldownEnd("relay1", f.clock.Now().Add(tt.end))
			f.store.cooldownErr = tt.readErr
			var log strings.Builder
			tr := f.restart(t, slog.New(slog.NewTextHandler(&log, nil)))

			_, err := tr.Fire(t.Context(), "relay1")
			var cooldown *CooldownError
			switch {
			case tt.wantLeft == 0 && err != nil:
				t.Errorf("Fire = %v, want no cooldown", err)
			case tt.wantLeft != 0 && !errors.As(err, &cooldown):
				t.Errorf("Fire = %v, want a *CooldownError", err)
			case tt.wantLeft != 0 && cooldown.Left != tt.wantLeft:
				t.Errorf("Left = %s, want %s", cooldown.Left, tt.wantLeft)
			}
			logged := strings.Contains(log.String(), "starting a full cooldown") &&
				strings.Contains(log.String(), "device=relay1")
			if logged != tt.warning {
				t.Errorf("warning logged = %v, want %v:\n%s", logged, tt.warning, log.String())
			}
		})
	}
}

// With no cooldown, as in the latency benchmark, no end is written.
func TestNoCooldownPersistsNothing(t *testing.T) {
	store := &fakeStore{}
	tr, err := New(Config{Keys: map[string][]byte{"relay1": testKey}}, store, &fakeBroker{connected: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Fire(t.Context(), "relay1"); err != nil {
		t.Fatal(err)
	}
	if len(store.cooldowns) != 0 {
		t.Errorf("persisted cooldown ends %v, want none", store.cooldowns)
	}
}

// restart returns a new Trigger on the fixture's store, broker and clock, as a
// restarted gate builds it, logging to log.
func (f *fixture) restart(t *testing.T, log *slog.Logger) *Trigger {
	t.Helper()
	tr, err := New(Config{
		Keys:     map[string][]byte{"relay1": testKey, "relay2": testKey},
		Cooldown: 10 * time.Second,
		Now:      f.clock.Now,
		Logger:   log,
	}, f.store, f.broker)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
