package command

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Format constants.
const (
	// Version is the first field of every command.
	Version = "v1"

	// ActionPulse pulses the relay once for its configured time. It is the only action.
	ActionPulse = "pulse"

	// MaxPayload is the longest command in bytes. The relay rejects longer ones, so
	// Sign does too.
	MaxPayload = 128

	// KeySize is the length of a device's command key in bytes.
	KeySize = 32

	// MaxSeq is the highest sequence number, 2^63-1, so that the relay can keep it in
	// a signed 64-bit integer.
	MaxSeq = math.MaxInt64

	macHexLen = 2 * sha256.Size
)

// ClockWindow is how far a command's ts may be behind or ahead of the relay's
// clock, as GARAGE_CLOCK_WINDOW in the firmware. A command that the broker
// delivers late is therefore still accepted until its ts is this far behind.
const ClockWindow = 30 * time.Second

// ErrMalformed is wrapped by every error of Parse.
var ErrMalformed = errors.New("malformed command")

// Command is the signed part of a command: everything before the MAC.
type Command struct {
	Device string
	Action string
	Seq    uint64
	// Time is when the gate made the command, in Unix seconds.
	Time int64
}

// Signed is a parsed command with its MAC.
type Signed struct {
	Command
	MAC [sha256.Size]byte
}

// String returns the signed text "v1 <device> <action> <seq> <ts>", which is what
// the MAC covers.
func (c Command) String() string {
	return Version + " " + c.Device + " " + c.Action + " " +
		strconv.FormatUint(c.Seq, 10) + " " + strconv.FormatInt(c.Time, 10)
}

// Validate checks every field against the format.
func (c Command) Validate() error {
	if !isDeviceName(c.Device) {
		return fmt.Errorf("invalid device name %q: use 1 to 31 lowercase letters, digits "+
			"and hyphens, starting with a letter", c.Device)
	}
	if c.Action != ActionPulse {
		return fmt.Errorf("invalid action %q: the only action is %s", c.Action, ActionPulse)
	}
	if c.Seq < 1 || c.Seq > MaxSeq {
		return fmt.Errorf("invalid sequence number %d: use 1 to %d", c.Seq, uint64(MaxSeq))
	}
	if c.Time < 0 {
		return fmt.Errorf("invalid time %d: use Unix seconds, 0 or more", c.Time)
	}
	return nil
}

// MAC returns the HMAC-SHA256 of the signed text under key.
func (c Command) MAC(key []byte) [sha256.Size]byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(c.String()))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// Sign checks c and the key and returns the complete payload to publish.
func Sign(c Command, key []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sign command: key is %d bytes, want %d", len(key), KeySize)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("sign command: %w", err)
	}
	payload := Signed{Command: c, MAC: c.MAC(key)}.Encode()
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("sign command: payload is %d bytes, more than the maximum %d",
			len(payload), MaxPayload)
	}
	return payload, nil
}

// Encode returns the payload of s: the signed text, a space and the MAC in
// lowercase hex.
func (s Signed) Encode() []byte {
	text := s.Command.String()
	out := make([]byte, 0, len(text)+1+macHexLen)
	out = append(out, text...)
	out = append(out, ' ')
	return hex.AppendEncode(out, s.MAC[:])
}

// Verify reports whether the MAC of s is the one key makes, compared in constant time.
func (s Signed) Verify(key []byte) bool {
	want := s.Command.MAC(key)
	return hmac.Equal(want[:], s.MAC[:])
}

// ParseKey decodes a command key from its 64 hex digits.
func ParseKey(text string) ([]byte, error) {
	if len(text) != 2*KeySize {
		return nil, fmt.Errorf("parse command key: got %d characters, want %d hex digits",
			len(text), 2*KeySize)
	}
	key, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("parse command key: invalid hex digit")
	}
	return key, nil
}
