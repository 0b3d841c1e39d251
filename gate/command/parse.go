package command

import (
	"bytes"
	"fmt"
	"strconv"
)

// Parse decodes a payload that has exactly the form of the format: six fields
// separated by single spaces, a known version and action, decimal numbers without
// sign or leading zero, and a MAC of 64 lowercase hex digits. It does not verify the
// MAC: [Signed.Verify] does. Every error wraps [ErrMalformed].
func Parse(payload []byte) (Signed, error) {
	if len(payload) > MaxPayload {
		return Signed{}, malformed("payload is %d bytes, more than the maximum %d",
			len(payload), MaxPayload)
	}
	fields := bytes.Split(payload, []byte(" "))
	if len(fields) != 6 {
		return Signed{}, malformed("got %d space-separated fields, want 6", len(fields))
	}
	if string(fields[0]) != Version {
		return Signed{}, malformed("unknown version %q", fields[0])
	}

	var s Signed
	s.Device = string(fields[1])
	s.Action = string(fields[2])
	seq, ok := parseDecimal(fields[3])
	if !ok || seq < 1 {
		return Signed{}, malformed("invalid sequence number %q", fields[3])
	}
	ts, ok := parseDecimal(fields[4])
	if !ok {
		return Signed{}, malformed("invalid time %q", fields[4])
	}
	s.Seq, s.Time = seq, int64(ts)
	if err := s.Validate(); err != nil {
		return Signed{}, malformed("%v", err)
	}
	if !parseMAC(fields[5], &s.MAC) {
		return Signed{}, malformed("mac is not %d lowercase hex digits", macHexLen)
	}
	return s, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("parse command: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// parseDecimal accepts 0 to 2^63-1 written in ASCII digits with no sign and no
// leading zero.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 63)
	return n, err == nil
}

// parseMAC decodes 64 lowercase hex digits into mac. Uppercase digits are
// rejected, so that a parsed command re-encodes to the same bytes.
func parseMAC(b []byte, mac *[32]byte) bool {
	if len(b) != macHexLen {
		return false
	}
	for i := range mac {
		hi, ok1 := hexValue(b[2*i])
		lo, ok2 := hexValue(b[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		mac[i] = hi<<4 | lo
	}
	return true
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// isDeviceName reports whether s matches [a-z][a-z0-9-]{0,30}.
func isDeviceName(s string) bool {
	if len(s) < 1 || len(s) > 31 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
