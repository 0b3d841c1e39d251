package command

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The test vector of docs/protocol.md, which the firmware tests check too.
const (
	vectorKey     = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	vectorSigned  = "v1 relay1 pulse 42 1764849600"
	vectorMAC     = "0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e"
	vectorPayload = vectorSigned + " " + vectorMAC

	foreignSigned = "v1 relay2 pulse 43 1764849601"
	foreignMAC    = "71394a4e68e5bccec42856aab2df2b3a8a8ad957bc5acbc6f9b76bcd4b88b1f8"
)

func vectorKeyBytes(t testing.TB) []byte {
	t.Helper()
	key, err := ParseKey(vectorKey)
	if err != nil {
		t.Fatalf("ParseKey(test vector key): %v", err)
	}
	return key
}

func TestSignVector(t *testing.T) {
	key := vectorKeyBytes(t)
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"relay1", Command{"relay1", ActionPulse, 42, 1764849600}, vectorPayload},
		{"relay2", Command{"relay2", ActionPulse, 43, 1764849601}, foreignSigned + " " + foreignMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sign(tt.cmd, key)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Sign payload mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVector(t *testing.T) {
	got, err := Parse([]byte(vectorPayload))
	if err != nil {
		t.Fatalf("Parse(test vector): %v", err)
	}
	want := Command{Device: "relay1", Action: ActionPulse, Seq: 42, Time: 1764849600}
	if diff := cmp.Diff(want, got.Command); diff != "" {
		t.Errorf("Parse command mismatch (-want +got):\n%s", diff)
	}
	if mac := hex.EncodeToString(got.MAC[:]); mac != vectorMAC {
		t.Errorf("MAC = %s, want %s", mac, vectorMAC)
	}
	if got.String() != vectorSigned {
		t.Errorf("signed text = %q, want %q", got.String(), vectorSigned)
	}
	if !got.Verify(vectorKeyBytes(t)) {
		t.Error("Verify(test vector key) = false, want true")
	}
}

func TestVerifyRejects(t *testing.T) {
	key := vectorKeyBytes(t)
	otherKey := make([]byte, KeySize)
	tampered := strings.Replace(vectorPayload, " 42 ", " 43 ", 1)
	tests := []struct {
		name    string
		payload string
		key     []byte
	}{
		{"other key", vectorPayload, otherKey},
		{"changed sequence", tampered, key},
		{"changed device", "v1 relay9 pulse 42 1764849600 " + vectorMAC, key},
		{"changed time", "v1 relay1 pulse 42 1764849601 " + vectorMAC, key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.payload))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Verify(tt.key) {
				t.Error("Verify = true, want false")
			}
		})
	}
}

// The foreign payload verifies with the key, but names relay2, so relay1 must
// tell it apart by its device field.
func TestParseForeignDevice(t *testing.T) {
	s, err := Parse([]byte(foreignSigned + " " + foreignMAC))
	if err != nil {
		t.Fatalf("Parse(foreign payload): %v", err)
	}
	if s.Device != "relay2" {
		t.Errorf("Device = %q, want relay2", s.Device)
	}
	if !s.Verify(vectorKeyBytes(t)) {
		t.Error("Verify(foreign payload) = false, want true")
	}
}

func TestParseMalformed(t *testing.T) {
	mac := " " + vectorMAC
	tests := []struct {
		name, payload string
	}{
		{"empty", ""},
		{"trailing newline", vectorPayload + "\n"},
		{"trailing space", vectorPayload + " "},
		{"leading space", " " + vectorPayload},
		{"double space", "v1  relay1 pulse 42 1764849600" + mac},
		{"tab separator", "v1\trelay1 pulse 42 1764849600" + mac},
		{"five fields", vectorSigned},
		{"seven fields", vectorPayload + " x"},
		{"version v2", "v2 relay1 pulse 42 1764849600" + mac},
		{"uppercase version", "V1 relay1 pulse 42 1764849600" + mac},
		{"unknown action", "v1 relay1 toggle 42 1764849600" + mac},
		{"device uppercase", "v1 Relay1 pulse 42 1764849600" + mac},
		{"device starts with digit", "v1 1relay pulse 42 1764849600" + mac},
		{"device 32 characters", "v1 " + strings.Repeat("a", 32) + " pulse 42 1764849600" + mac},
		{"device with slash", "v1 relay/1 pulse 42 1764849600" + mac},
		{"seq zero", "v1 relay1 pulse 0 1764849600" + mac},
		{"seq leading zero", "v1 relay1 pulse 042 1764849600" + mac},
		{"seq plus sign", "v1 relay1 pulse +42 1764849600" + mac},
		{"seq negative", "v1 relay1 pulse -42 1764849600" + mac},
		{"seq 2^63", "v1 relay1 pulse 9223372036854775808 1764849600" + mac},
		{"seq hex", "v1 relay1 pulse 0x2a 1764849600" + mac},
		{"time leading zero", "v1 relay1 pulse 42 01764849600" + mac},
		{"time negative", "v1 relay1 pulse 42 -1" + mac},
		{"time with fraction", "v1 relay1 pulse 42 1764849600.5" + mac},
		{"mac uppercase", "v1 relay1 pulse 42 1764849600 " + strings.ToUpper(vectorMAC)},
		{"mac short", "v1 relay1 pulse 42 1764849600 " + vectorMAC[:62]},
		{"mac long", vectorPayload + "00"},
		{"mac not hex", "v1 relay1 pulse 42 1764849600 " + strings.Repeat("g", 64)},
		{"over 128 bytes", "v1 " + strings.Repeat("a", 31) + " pulse 9223372036854775807 " +
			"9223372036854775807" + mac},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.payload))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) error = %v, want ErrMalformed", tt.payload, err)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
	}{
		{"max seq", Command{"r", ActionPulse, MaxSeq, 1764849600}},
		{"time zero", Command{"relay1", ActionPulse, 1, 0}},
		{"device 31 characters", Command{strings.Repeat("a", 31), ActionPulse, 1, 1764849600}},
		{"device with hyphen", Command{"door-2", ActionPulse, 7, 1764849600}},
	}
	key := vectorKeyBytes(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, err := Sign(tt.cmd, key)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := Parse(payload)
			if err != nil {
				t.Fatalf("Parse(%q): %v", payload, err)
			}
			if diff := cmp.Diff(tt.cmd, got.Command); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	key := vectorKeyBytes(t)
	long := strings.Repeat("a", 31)
	tests := []struct {
		name string
		cmd  Command
		key  []byte
		want string
	}{
		{"short key", Command{"relay1", ActionPulse, 1, 1}, key[:16], "key is 16 bytes"},
		{"bad device", Command{"Relay1", ActionPulse, 1, 1}, key, "invalid device name"},
		{"bad action", Command{"relay1", "open", 1, 1}, key, "invalid action"},
		{"seq zero", Command{"relay1", ActionPulse, 0, 1}, key, "invalid sequence number"},
		{"seq over max", Command{"relay1", ActionPulse, MaxSeq + 1, 1}, key,
			"invalid sequence number"},
		{"negative time", Command{"relay1", ActionPulse, 1, -1}, key, "invalid time"},
		{"over 128 bytes", Command{long, ActionPulse, MaxSeq, MaxSeq}, key, "more than the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign(tt.cmd, tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Sign error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"test vector", vectorKey, true},
		{"uppercase", strings.ToUpper(vectorKey), true},
		{"short", vectorKey[:62], false},
		{"not hex", strings.Repeat("zz", 32), false},
		{"trailing newline", vectorKey[:63] + "\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseKey(tt.text)
			if got := err == nil; got != tt.ok {
				t.Fatalf("ParseKey error = %v, want ok = %v", err, tt.ok)
			}
			if tt.ok && len(key) != KeySize {
				t.Errorf("key is %d bytes, want %d", len(key), KeySize)
			}
		})
	}
}

// A key that fails to parse must not show up in the error, because the error
// may reach a log.
func TestParseKeyErrorHidesKey(t *testing.T) {
	text := "0001020304050607" + strings.Repeat("q", 48)
	_, err := ParseKey(text)
	if err == nil {
		t.Fatal("ParseKey accepted a key with non-hex digits")
	}
	if strings.Contains(err.Error(), "0001020304050607") || strings.Contains(err.Error(), "qq") {
		t.Errorf("error %q contains part of the key", err)
	}
}
