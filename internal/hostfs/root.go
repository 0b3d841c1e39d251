package hostfs

import (
	"fmt"
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
