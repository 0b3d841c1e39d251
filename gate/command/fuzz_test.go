package command

import (
	"bytes"
	"testing"
)

// FuzzParse checks that Parse never panics, that whatever it accepts re-encodes
// to the same bytes and passes Validate, and that a signed command parses back.
func FuzzParse(f *testing.F) {
	f.Add([]byte(vectorPayload))
	f.Add([]byte(foreignSigned + " " + foreignMAC))
	f.Add([]byte("v1 relay1 pulse 042 1764849600 " + vectorMAC))
	f.Add([]byte("v1 a pulse 9223372036854775807 0 " + vectorMAC))
	f.Add([]byte("v1 relay1 pulse 42 1764849600 " + vectorMAC + "\n"))
	f.Add([]byte(""))

	key := vectorKeyBytes(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		s, err := Parse(payload)
		if err != nil {
			return
		}
		if got := s.Encode(); !bytes.Equal(got, payload) {
			t.Fatalf("Parse(%q) re-encodes to %q", payload, got)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted an invalid command: %v", payload, err)
		}

		signed, err := Sign(s.Command, key)
		if err != nil {
			t.Fatalf("Sign(%+v) of a parsed command: %v", s.Command, err)
		}
		again, err := Parse(signed)
		if err != nil || !again.Verify(key) || again.Command != s.Command {
			t.Fatalf("Parse(Sign(%+v)) = %+v, %v: want the same command, verified", s.Command, again, err)
		}
	})
}
