package hostfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Staged is a file written in full to a temporary name beside its target,
// with its final owner and mode, and not yet renamed into place.
type Staged struct {
	tmp    string
	target string
}

// Stage writes data to a new temporary file in the directory of target. The
// file is created with mode 0600, handed to uid:gid and given mode before any
// byte is written, then synced. Call Commit to rename it over target, or Abort
// to remove it. Stage rejects a target that exists and is not a regular file.
func Stage(target string, data []byte, uid, gid int, mode fs.FileMode) (*Staged, error) {
	if fi, err := os.Lstat(target); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("write %s: exists and is not a regular file", target)
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", target, err)
	}
	s := &Staged{tmp: f.Name(), target: target}
	err = fillFile(f, data, uid, gid, mode)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.Abort()
		return nil, fmt.Errorf("write %s: %w", target, err)
	}
	return s, nil
}

func fillFile(f *os.File, data []byte, uid, gid int, mode fs.FileMode) error {
	if err := chown(f, uid, gid); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// chown hands f to uid:gid. A caller that is not root can only provision a
// tree for itself, so there it keeps its own IDs.
// NOTE: without root, a --root tree gets the caller's owner, not the one planned.
func chown(f *os.File, uid, gid int) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(uid, gid)
}

// Commit renames the staged file over its target and syncs the directory.
func (s *Staged) Commit() error {
	if err := os.Rename(s.tmp, s.target); err != nil {
		s.Abort()
		return fmt.Errorf("rename %s: %w", s.target, err)
	}
	return SyncDir(filepath.Dir(s.target))
}

// Abort removes the temporary file; the target stays as it was.
func (s *Staged) Abort() {
	_ = os.Remove(s.tmp)
}

// WriteFile stages and commits one file.
func WriteFile(target string, data []byte, uid, gid int, mode fs.FileMode) error {
	s, err := Stage(target, data, uid, gid, mode)
	if err != nil {
		return err
	}
	return s.Commit()
}

// MkdirAll creates dir and any missing parents. It returns the directories it
// created, outermost first, so a failed run can remove them again. The last
// directory gets uid:gid and mode; parents get root:root 0755.
func MkdirAll(dir string, uid, gid int, mode fs.FileMode) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("create directory %s: %s is not a directory", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create directory %s: %w", dir, err)
		}
		missing = append([]string{d}, missing...)
	}
	for i, d := range missing {
		m, u, g := fs.FileMode(0o755), 0, 0
		if i == len(missing)-1 {
			m, u, g = mode, uid, gid
		}
		if err := mkdir(d, u, g, m); err != nil {
			RemoveDirs(missing[:i])
			return nil, fmt.Errorf("create directory %s: %w", d, err)
		}
	}
	return missing, nil
}

// mkdir creates d with mode 0700 and only then widens it to mode, so the
// directory is never open to others before it has its owner.
func mkdir(d string, uid, gid int, mode fs.FileMode) error {
	if err := os.Mkdir(d, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(d, mode)
}

// RemoveDirs removes the directories that MkdirAll created, innermost first.
// It leaves a directory that is no longer empty.
func RemoveDirs(created []string) {
	for i := len(created) - 1; i >= 0; i-- {
		_ = os.Remove(created[i])
	}
}

// SetOwnerMode changes the owner and mode of an existing path without
// following a final symbolic link.
func SetOwnerMode(path string, uid, gid int, mode fs.FileMode) error {
	if os.Geteuid() == 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("change owner of %s: %w", path, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("change mode of %s: %w", path, err)
	}
	return nil
}

// OwnerOf returns the numeric owner of fi.
func OwnerOf(fi fs.FileInfo) (uid, gid int) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1
	}
	return int(st.Uid), int(st.Gid)
}

// SyncDir flushes dir to disk, so that a rename or removal in it survives a
// power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
