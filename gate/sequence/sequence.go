// Package sequence hands out the command sequence numbers of each device and
// persists them, so that the gate never reuses one, not even after a restart or a
// crash. The relay rejects a command whose number is not above the last one it
// accepted, so a reused number would be a lost trigger, and a number that goes
// backwards would lock the relay out until the gate caught up.
package sequence

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/internal/hostfs"
)

// fileMode keeps the state readable by the gate alone. The numbers are not secret,
// but no other account needs them.
const fileMode fs.FileMode = 0o600

// Store persists the last sequence number used for each device, one file
// "<device>.seq" each in its directory. It is safe for concurrent use.
type Store struct {
	dir string

	mu   sync.Mutex
	last map[string]uint64 // cache of the files read or written so far
}

// Open returns the Store in dir, creating dir with mode 0700 when it is missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	return &Store{dir: dir, last: make(map[string]uint64)}, nil
}

// Next returns the next sequence number of device: one more than the last one
// persisted, or 1 for a device without one. The new number is on disk (written to
// a temporary file, synced and renamed) before Next returns it, so publish it only
// after Next returned without error.
func (s *Store) Next(device string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	last, err := s.lastLocked(device)
	if err != nil {
		return 0, err
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
	return s.lastLocked(device)
}

func (s *Store) lastLocked(device string) (uint64, error) {
	if n, ok := s.last[device]; ok {
		return n, nil
	}
	if !validName(device) {
		return 0, fmt.Errorf("read sequence number: invalid device name %q", device)
	}
	data, err := os.ReadFile(s.path(device))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read sequence number of %s: %w", device, err)
	}
	// A damaged file is an error, not a fresh start at 1: starting over would
	// reuse numbers that the relay has already seen and rejects.
	n, err := strconv.ParseUint(strings.TrimSuffix(string(data), "\n"), 10, 63)
	if err != nil {
		return 0, fmt.Errorf("read sequence number of %s: %s does not contain a number: "+
			"write the relay's last sequence number (from garage/%s/state) into it",
			device, s.path(device), device)
	}
	s.last[device] = n
	return n, nil
}

func (s *Store) path(device string) string {
	return filepath.Join(s.dir, device+".seq")
}

// validName keeps device names from leaving the directory.
func validName(device string) bool {
	return command.Command{Device: device, Action: command.ActionPulse, Seq: 1}.Validate() == nil
}
