package hostfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Root is the directory that stands for "/" of the host being provisioned.
type Root struct {
	dir string
}

// NewRoot returns the Root for dir; an empty dir or "/" means the live host.
func NewRoot(dir string) (Root, error) {
	if dir == "" || dir == "/" {
		return Root{dir: "/"}, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("resolve root %s: %w", dir, err)
	}
	return Root{dir: abs}, nil
}

// Dir returns the root directory itself.
func (r Root) Dir() string { return r.dir }

// Live reports whether r is the running host's own "/".
func (r Root) Live() bool { return r.dir == "/" || r.dir == "" }

// Path maps the absolute host path p under r. Relative paths are taken as
// relative to the host's "/".
func (r Root) Path(p string) string {
	if r.Live() {
		return filepath.Join("/", p)
	}
	return filepath.Join(r.dir, filepath.Join("/", p))
}

// HostPath is the reverse of Path: it strips r's directory from p.
func (r Root) HostPath(p string) string {
	if r.Live() {
		return p
	}
	rel, ok := strings.CutPrefix(p, r.dir)
	if !ok {
		return p
	}
	return filepath.Join("/", rel)
}

// CheckParents returns an error when a directory between r and the host path
// p is a symbolic link. Under --root such a link would resolve against the
// running host, so a write meant for the tree would land outside it. The live
// host has no such boundary, so there every path passes.
func (r Root) CheckParents(p string) error {
	if r.Live() {
		return nil
	}
	dir := r.dir
	parts := strings.Split(strings.Trim(filepath.Join("/", p), "/"), "/")
	for _, part := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, part)
		fi, err := os.Lstat(dir)
		if err != nil {
			return nil // missing from here on: nothing to follow
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link: under --root garagectl writes only "+
				"through real directories, so replace it with a directory", r.HostPath(dir))
		}
	}
	return nil
}
