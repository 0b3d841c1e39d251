package change

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/garagectl/garagectl/internal/hostfs"
)

// Symlink is the Kind of a change to a symbolic link, such as the link that
// enables or masks a systemd unit.
const Symlink Kind = "symlink"

// Remove is the Action that deletes a symbolic link that must not exist.
const Remove Action = "remove"

// LinkChange returns the change that makes the host path a symbolic link to
// target. target is stored as it is, not mapped under --root, so that the
// link resolves on the host; Content holds it too, for the plan output.
// Apply must run the change after the files it points to are in place.
func LinkChange(path, target string) Change {
	l := symlinkChange{path: path, target: target}
	return Change{
		Kind:    Symlink,
		Path:    path,
		Content: []byte(target),
		Owner:   "root",
		Group:   "root",
		Mode:    fs.ModeSymlink | 0o777,
		Check:   l.check,
		Do:      l.create,
	}
}

// UnlinkChange returns the change that removes the symbolic link at the host
// path if there is one. It undoes LinkChange.
func UnlinkChange(path string) Change {
	l := symlinkChange{path: path}
	return Change{
		Kind:  Symlink,
		Path:  path,
		Owner: "root",
		Group: "root",
		Mode:  fs.ModeSymlink | 0o777,
		Check: l.checkAbsent,
		Do:    l.remove,
	}
}

// symlinkChange is a link that must point to target, or must not exist when
// target is empty.
type symlinkChange struct {
	path   string
	target string
}

// check returns Create for a missing link, Update for a link to another
// target, and Unchanged otherwise. Anything but a link at the path is an
// error, because replacing a file or directory would lose what it holds.
func (l symlinkChange) check(_ context.Context, root hostfs.Root) (Action, []string, error) {
	got, err := readLink(root.Path(l.path))
	if errors.Is(err, fs.ErrNotExist) {
		return Create, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if got != l.target {
		return Update, []string{fmt.Sprintf("target %s, want %s", got, l.target)}, nil
	}
	return Unchanged, nil, nil
}

// checkAbsent returns Remove for an existing link and Unchanged for none.
func (l symlinkChange) checkAbsent(_ context.Context, root hostfs.Root) (Action, []string, error) {
	got, err := readLink(root.Path(l.path))
	if errors.Is(err, fs.ErrNotExist) {
		return Unchanged, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return Remove, []string{"target " + got}, nil
}

// readLink returns the target of the link at path, or an error that wraps
// fs.ErrNotExist when there is nothing at path.
func readLink(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Type() != fs.ModeSymlink {
		return "", fmt.Errorf("%s exists and is not a symbolic link (%s); move it away "+
			"and run again", path, fi.Mode().Type())
	}
	return os.Readlink(path)
}

// create makes the link under a temporary name and renames it over the path,
// so the path is at every moment either the old link or the new one. It
// rejects a path that is not a link. Missing parent directories are created
// root:root 0755.
func (l symlinkChange) create(_ context.Context, root hostfs.Root) error {
	path := root.Path(l.path)
	if _, err := readLink(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create link %s: %w", l.path, err)
	}
	dir := filepath.Dir(path)
	if _, err := hostfs.MkdirAll(dir, 0, 0, 0o755); err != nil {
		return fmt.Errorf("create link %s: %w", l.path, err)
	}
	tmp, err := tempLinkName(dir, filepath.Base(path))
	if err != nil {
		return fmt.Errorf("create link %s: %w", l.path, err)
	}
	if err := os.Symlink(l.target, tmp); err != nil {
		return fmt.Errorf("create link %s: %w", l.path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("create link %s: %w", l.path, err)
	}
	return hostfs.SyncDir(dir)
}

// remove deletes the link, and nothing else: a file or directory that has
// taken its place is an error.
func (l symlinkChange) remove(_ context.Context, root hostfs.Root) error {
	path := root.Path(l.path)
	if _, err := readLink(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove link %s: %w", l.path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove link %s: %w", l.path, err)
	}
	return hostfs.SyncDir(filepath.Dir(path))
}

// tempLinkName returns an unused name beside the link to create, random so
// that two runs never build their links under the same name.
func tempLinkName(dir, base string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return filepath.Join(dir, "."+base+".tmp-link-"+hex.EncodeToString(b)), nil
}
