package command

import (
	"bytes"
	"fmt"
	"slices"
)

// States of the relay in a state report.
const (
	StatusIdle    = "idle"
	StatusPulsing = "pulsing"
)

// Reasons of a state report: "ok" for an accepted command, "boot" after a start,
// and otherwise the code under which the relay rejected a command.
var Reasons = []string{
	"ok", "boot", "malformed", "foreign", "forged", "stale", "future", "replay", "cooldown",
}

// State is a relay's report on garage/<device>/state: "v1 <status> <last-seq> <reason>".
type State struct {
	Status string
	// LastSeq is the last sequence number the relay accepted, 0 before the first.
	LastSeq uint64
	Reason  string
}

// String returns the payload of s.
func (s State) String() string {
	return fmt.Sprintf("%s %s %d %s", Version, s.Status, s.LastSeq, s.Reason)
}

// ParseState decodes a state report in exactly its documented form. Errors wrap
// [ErrMalformed].
func ParseState(payload []byte) (State, error) {
	fields := bytes.Split(payload, []byte(" "))
	if len(fields) != 4 || string(fields[0]) != Version {
		return State{}, malformedState("want \"v1 <status> <last-seq> <reason>\"")
	}
	s := State{Status: string(fields[1]), Reason: string(fields[3])}
	if s.Status != StatusIdle && s.Status != StatusPulsing {
		return State{}, malformedState("unknown status %q", fields[1])
	}
	seq, ok := parseDecimal(fields[2])
	if !ok {
		return State{}, malformedState("invalid sequence number %q", fields[2])
	}
	s.LastSeq = seq
	if !slices.Contains(Reasons, s.Reason) {
		return State{}, malformedState("unknown reason %q", fields[3])
	}
	return s, nil
}

func malformedState(format string, args ...any) error {
	return fmt.Errorf("parse state: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
