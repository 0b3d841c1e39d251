// Package sequence hands out the command sequence numbers of each device and
// persists them, so that the gate never reuses one, not even after a restart or a
// crash. The relay rejects a command whose number is not above the last one it
// accepted, so a reused number would be a lost trigger, and a number that goes
// backwards would lock the relay out until the gate caught up.
//
// Beside each number the package persists the end of the device's cooldown, so
// that a restart of the gate does not shorten the cooldown.
package sequence

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/internal/hostfs"
)

// fileMode keeps the state readable by the gate alone. The numbers are not secret,
// but no other account needs them.
const fileMode fs.FileMode = 0o600

// Store persists the last sequence number used for each device, one file
// "<device>.seq" each in its directory, and the end of the device's cooldown in
// "<device>.cooldown". It is safe for concurrent use.
type Store struct {
	dir string
	log *slog.Logger

	mu   sync.Mutex
	last map[string]uint64 // cache of the files read or written so far
}

// Open returns the Store in dir, creating dir with mode 0700 when it is missing.
// log receives a warning when Next finds a sequence file missing or behind the
// relay; nil discards them.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{dir: dir, log: log, last: make(map[string]uint64)}, nil
}

// Next returns the next sequence number of device: one more than the larger of
// the last one persisted and relayLast, the last number that the relay reported
// accepting (0 when unknown). The new number is on disk (written to a temporary
// file, synced and renamed) before Next returns it, so publish it only after Next
// returned without error.
//
// relayLast covers a sequence file that was deleted or restored from an old
// backup: starting over at the file's number would make the relay reject every
// command as a replay.
func (s *Store) Next(device string, relayLast uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	last, found, err := s.lastLocked(device)
	if err != nil {
		return 0, err
	}
	if relayLast > last {
		s.warnBehind(device, found, last, relayLast)
		last = relayLast
	}
	if last >= command.MaxSeq {
		return 0, fmt.Errorf("next sequence number of %s: %d is the maximum", device, last)
	}
	next := last + 1
	data := []byte(strconv.FormatUint(next, 10) + "\n")
	if err := hostfs.WriteFile(s.path(device), data, os.Geteuid(), os.Getegid(), fileMode); err != nil {
		return 0, fmt.Errorf("persist sequence number of %s: %w", device, err)
	}
	s.last[device] = next
	return next, nil
}

// Last returns the last sequence number used for device, 0 when there is none.
func (s *Store) Last(device string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _, err := s.lastLocked(device)
	return n, err
}

// lastLocked returns the last sequence number of device, and found false when
// its file does not exist.
func (s *Store) lastLocked(device string) (n uint64, found bool, err error) {
	if n, ok := s.last[device]; ok {
		return n, true, nil
	}
	if !validName(device) {
		return 0, false, fmt.Errorf("read sequence number: invalid device name %q", device)
	}
	data, err := os.ReadFile(s.path(device))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read sequence number of %s: %w", device, err)
	}
	// A damaged file is an error, not a fresh start at 1: starting over would
	// reuse numbers that the relay has already seen and rejects.
	n, err = strconv.ParseUint(strings.TrimSuffix(string(data), "\n"), 10, 63)
	if err != nil {
		return 0, false, fmt.Errorf("read sequence number of %s: %s does not contain a number: "+
			"write the relay's last sequence number (from garage/%s/state) into it",
			device, s.path(device), device)
	}
	s.last[device] = n
	return n, true, nil
}

// warnBehind logs that the relay reported a higher last sequence number than
// the one persisted for device, or than none when found is false.
func (s *Store) warnBehind(device string, found bool, last, relayLast uint64) {
	if !found {
		s.log.Warn("sequence file missing: continuing above the relay's last sequence number",
			"device", device, "file", s.path(device), "relay_last_seq", relayLast)
		return
	}
	s.log.Warn("sequence file behind the relay: continuing above the relay's last sequence number",
		"device", device, "file", s.path(device), "persisted_seq", last, "relay_last_seq", relayLast)
}

func (s *Store) path(device string) string {
	return filepath.Join(s.dir, device+".seq")
}

// CooldownEnd returns the end of device's cooldown that SetCooldownEnd
// persisted, and the zero Time when there is none. A file that does not contain
// an RFC 3339 time is an error.
func (s *Store) CooldownEnd(device string) (time.Time, error) {
	if !validName(device) {
		return time.Time{}, fmt.Errorf("read cooldown end: invalid device name %q", device)
	}
	path := s.cooldownPath(device)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read cooldown end of %s: %w", device, err)
	}
	end, err := time.Parse(time.RFC3339Nano, strings.TrimSuffix(string(data), "\n"))
	if err != nil {
		return time.Time{}, fmt.Errorf("read cooldown end of %s: %s does not contain an "+
			"RFC 3339 time", device, path)
	}
	return end, nil
}

// SetCooldownEnd persists end as the end of device's cooldown, written to a
// temporary file, synced and renamed like the sequence numbers.
func (s *Store) SetCooldownEnd(device string, end time.Time) error {
	if !validName(device) {
		return fmt.Errorf("persist cooldown end: invalid device name %q", device)
	}
	data := []byte(end.UTC().Format(time.RFC3339Nano) + "\n")
	err := hostfs.WriteFile(s.cooldownPath(device), data, os.Geteuid(), os.Getegid(), fileMode)
	if err != nil {
		return fmt.Errorf("persist cooldown end of %s: %w", device, err)
	}
	return nil
}

func (s *Store) cooldownPath(device string) string {
	return filepath.Join(s.dir, device+".cooldown")
}

// validName keeps device names from leaving the directory.
func validName(device string) bool {
	return command.Command{Device: device, Action: command.ActionPulse, Seq: 1}.Validate() == nil
}
