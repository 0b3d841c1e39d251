package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/gate/loglimit"
	"github.com/garagectl/garagectl/gate/mqttclient"
	"github.com/garagectl/garagectl/gate/trigger"
)

// Kinds of outcome of a trigger. They appear in the page's redirect and as the
// "status" or "error" of the API's JSON.
const (
	outcomeSent        = "sent"
	outcomeCooldown    = "cooldown"
	outcomeUnreachable = "broker_unreachable" // not connected: nothing was sent
	outcomeUnconfirmed = "not_acknowledged"   // sent, but no PUBACK in time
	outcomeClosed      = "shutting_down"
	outcomeUnknown     = "unknown_device"
	outcomeFailed      = "internal_error"
)

// windowSeconds is how long after a command without a PUBACK the relay may
// still receive and accept it: the relay accepts a command until its time is
// command.ClockWindow behind the relay's clock.
const windowSeconds = int(command.ClockWindow / time.Second)

// outcome is the result of one trigger, ready for a response.
type outcome struct {
	kind string
	seq  uint64
	left time.Duration
	err  error
}

// classify turns what Fire returned into an outcome.
func classify(res trigger.Result, err error) outcome {
	var cooldown *trigger.CooldownError
	switch {
	case err == nil:
		return outcome{kind: outcomeSent, seq: res.Seq}
	case errors.As(err, &cooldown):
		return outcome{kind: outcomeCooldown, left: cooldown.Left, err: err}
	case errors.Is(err, trigger.ErrUnknownDevice):
		return outcome{kind: outcomeUnknown, err: err}
	case errors.Is(err, mqttclient.ErrNotConnected):
		return outcome{kind: outcomeUnreachable, err: err}
	case errors.Is(err, trigger.ErrUnavailable):
		return outcome{kind: outcomeUnconfirmed, err: err}
	case errors.Is(err, trigger.ErrClosed):
		return outcome{kind: outcomeClosed, err: err}
	}
	return outcome{kind: outcomeFailed, err: err}
}

// status returns the API's HTTP status for the outcome.
func (o outcome) status() int {
	switch o.kind {
	case outcomeSent:
		return http.StatusAccepted
	case outcomeCooldown:
		return http.StatusTooManyRequests
	case outcomeUnreachable, outcomeUnconfirmed, outcomeClosed:
		return http.StatusServiceUnavailable
	case outcomeUnknown:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// retryAfter returns the whole seconds left in a cooldown, rounded up, for the
// Retry-After header.
func (o outcome) retryAfter() int {
	return int(math.Ceil(o.left.Seconds()))
}

// query returns the query string of the redirect after a press, which the page
// turns into a notice.
func (o outcome) query(device string) string {
	v := url.Values{"device": {device}, "result": {o.kind}}
	switch o.kind {
	case outcomeSent:
		v.Set("seq", strconv.FormatUint(o.seq, 10))
	case outcomeCooldown:
		v.Set("left", strconv.Itoa(o.retryAfter()))
	}
	return v.Encode()
}

// fire runs one trigger for phone and logs it: every command sent, and refused
// ones through the rate limit.
func (h *handler) fire(r *http.Request, device, phone, via string) outcome {
	res, err := h.cfg.Trigger.Fire(r.Context(), device)
	o := classify(res, err)
	source := PeerFrom(r.Context()).Source
	if o.kind == outcomeSent {
		h.log.Info("trigger sent", "device", device, "phone", phone, "via", via,
			"source", source, "seq", o.seq)
		return o
	}
	// An unknown device name comes from the request, so the line shows only its
	// start, and not the error, which repeats the whole name.
	args := []any{"device", loglimit.Value(device), "phone", phone, "via", via, "result", o.kind}
	if o.kind != outcomeUnknown {
		args = append(args, "error", o.err)
	}
	h.noise.warn(source, "trigger refused", args...)
	return o
}
