package change

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/garagectl/garagectl/internal/hostfs"
)

// Plan compares each change with the host under root and returns the action
// Apply would take for it, in the same order.
func Plan(ctx context.Context, root hostfs.Root, changes []Change) ([]Planned, error) {
	plan := make([]Planned, 0, len(changes))
	for _, c := range changes {
		p := Planned{Change: c}
		var err error
		if c.Kind == File || c.Kind == Dir || c.Kind == Symlink {
			if err := root.CheckParents(c.Path); err != nil {
				return nil, fmt.Errorf("plan %s %s: %w", c.Kind, c.Path, err)
			}
		}
		switch c.Kind {
		case Account, Symlink, Ruleset:
			p.Action, p.Reasons, err = c.Check(ctx, root)
		case File, Dir:
			p.Action, p.Reasons, err = checkPath(root, c)
		default:
			err = fmt.Errorf("unknown change kind %q", c.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("plan %s %s: %w", c.Kind, c.Path, err)
		}
		plan = append(plan, p)
	}
	return plan, nil
}

func checkPath(root hostfs.Root, c Change) (Action, []string, error) {
	fi, err := os.Lstat(root.Path(c.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return Create, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if err := checkType(fi, c.Kind); err != nil {
		return "", nil, err
	}

	var reasons []string
	if c.Kind == File {
		same, err := sameContent(root.Path(c.Path), c.Content)
		if err != nil {
			return "", nil, err
		}
		if !same {
			reasons = append(reasons, "content")
		}
	}
	reasons = append(reasons, ownerReasons(root, c, fi)...)
	if got := modeBits(fi.Mode()); got != modeBits(c.Mode) {
		reasons = append(reasons, fmt.Sprintf("mode %04o, want %04o", got, modeBits(c.Mode)))
	}
	if len(reasons) == 0 {
		return Unchanged, nil, nil
	}
	return Update, reasons, nil
}

func checkType(fi fs.FileInfo, kind Kind) error {
	switch {
	case kind == File && !fi.Mode().IsRegular():
		return fmt.Errorf("exists and is not a regular file (%s); move it away and run again", fi.Mode().Type())
	case kind == Dir && !fi.IsDir():
		return fmt.Errorf("exists and is not a directory (%s); move it away and run again", fi.Mode().Type())
	}
	return nil
}

// ownerReasons compares the owner of fi with the planned one. An owner that
// does not exist yet, because an earlier change creates it, counts as differing.
func ownerReasons(root hostfs.Root, c Change, fi fs.FileInfo) []string {
	if os.Geteuid() != 0 {
		// Without root, Apply cannot chown, so the owner is not part of the plan.
		return nil
	}
	uid, gid := hostfs.OwnerOf(fi)
	wantUID, wantGID, err := root.Owner(c.Owner, c.Group)
	if err != nil || uid != wantUID || gid != wantGID {
		return []string{fmt.Sprintf("owner %d:%d, want %s:%s", uid, gid, c.Owner, c.Group)}
	}
	return nil
}

func sameContent(path string, want []byte) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	if fi.Size() != int64(len(want)) {
		return false, nil
	}
	got, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, want), nil
}

// modeBits returns the permission bits of m with the setuid, setgid and sticky
// bits in their octal places, as chmod writes them: a setuid bit on a unit or
// a key must count as a difference.
func modeBits(m fs.FileMode) uint32 {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits
}
