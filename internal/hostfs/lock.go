package hostfs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked is returned by Lock when another garagectl holds the root.
var ErrLocked = errors.New("another garagectl is changing this root")

// Lock takes an exclusive advisory lock on the root directory, creating it
// when missing, so that two runs never plan against the same state and both
// write: two parallel inits would otherwise each make a CA. Call the returned
// function to release it; the lock also ends with the process.
func (r Root) Lock() (func(), error) {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create root %s: %w", r.dir, err)
	}
	f, err := os.Open(r.dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", r.dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s): wait for it to finish", ErrLocked, r.dir)
		}
		return nil, fmt.Errorf("lock %s: %w", r.dir, err)
	}
	return func() { f.Close() }, nil
}
