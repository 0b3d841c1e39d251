package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/garagectl/garagectl/internal/hostfs"
)

// PendingFile is the name of the file, in the state directory, that holds the
// table to restore while a confirm window is open.
const PendingFile = "firewall-rollback.json"

// takenSuffix marks a pending file that a rollback has claimed. Renaming is
// atomic, so a confirm and a rollback that race cannot both win.
const takenSuffix = ".taken"

// ErrNothingPending reports that no confirm window is open, either because
// none was opened or because it already expired and the rules were restored.
var ErrNothingPending = errors.New("no firewall change is waiting for confirmation")

// pending is the content of PendingFile.
type pending struct {
	Deadline time.Time     `json:"deadline"`
	Previous TableSnapshot `json:"previous"`
}

// Arm opens a confirm window: unless Confirm removes the file in dir before
// deadline, RollbackWhenDue restores previous. The file is written
// atomically, root-only.
func Arm(dir string, previous TableSnapshot, deadline time.Time) error {
	data, err := json.Marshal(pending{Deadline: deadline, Previous: previous})
	if err != nil {
		return fmt.Errorf("encode rollback: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	return hostfs.WriteFile(filepath.Join(dir, PendingFile), data, 0, 0, 0o600)
}

// Confirm closes the confirm window in dir, so the new rules stay.
func Confirm(dir string) error {
	err := os.Remove(filepath.Join(dir, PendingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNothingPending
	}
	return err
}

// RollbackWhenDue waits for the deadline of the confirm window in dir and then
// restores the previous table, unless Confirm came first. It reports whether
// it restored the table.
func (h Host) RollbackWhenDue(ctx context.Context, dir string) (bool, error) {
	path := filepath.Join(dir, PendingFile)
	p, err := readPending(path)
	if err != nil {
		return false, err
	}
	select {
	case <-time.After(time.Until(p.Deadline)):
	case <-ctx.Done():
		return false, ctx.Err()
	}

	taken := path + takenSuffix
	if err := os.Rename(path, taken); errors.Is(err, fs.ErrNotExist) {
		return false, nil // confirmed in time
	} else if err != nil {
		return false, fmt.Errorf("claim rollback: %w", err)
	}
	defer os.Remove(taken)
	if err := h.Restore(ctx, p.Previous); err != nil {
		return false, fmt.Errorf("restore previous firewall: %w", err)
	}
	return true, nil
}

func readPending(path string) (pending, error) {
	var p pending
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, ErrNothingPending
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("decode %s: %w", path, err)
	}
	return p, nil
}

// IsPending reports whether a confirm window is open in dir.
func IsPending(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, PendingFile))
	return err == nil
}
