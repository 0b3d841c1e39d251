package hostfs

import (
	"fmt"
	"io"
	"os"
)

// MaxReadSize bounds ReadFile. Every file garagectl reads back from a host is
// a few kilobytes; the bound keeps a planted device file from filling memory.
const MaxReadSize = 1 << 20

// ReadFile reads a regular file of at most MaxReadSize bytes. It checks the
// type first without following a final symbolic link, because opening a FIFO
// blocks and reading a device may never end. Either is an error. A missing
// file gives an error that wraps fs.ErrNotExist.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): move it away and run again",
			path, fi.Mode().Type())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxReadSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxReadSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: move it away and run again", path, MaxReadSize)
	}
	return data, nil
}
