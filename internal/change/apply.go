package change

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/garagectl/garagectl/internal/hostfs"
)

// Apply carries out every planned change whose action is not Unchanged.
//
// Accounts and directories are made first, in plan order, so that the owners
// of later files exist. Every file is then staged in full beside its target,
// and only when all are staged are they renamed into place; symbolic links
// come last. A failure before the renames removes the staged files and the
// directories this call created, so the files on the host stay as they were.
// Accounts already created are kept; creating them again is a no-op. The
// caller holds the root's lock (hostfs.Root.Lock), because Apply also removes
// the temporary files of an earlier run that was killed.
func Apply(ctx context.Context, root hostfs.Root, plan []Planned) (err error) {
	var staged []*hostfs.Staged
	var createdDirs []string
	var links []Planned
	defer func() {
		if err == nil {
			return
		}
		for _, s := range staged {
			s.Abort()
		}
		hostfs.RemoveDirs(createdDirs)
	}()

	removeStaleTemps(root, plan)
	for _, p := range plan {
		if p.Action == Unchanged {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch p.Kind {
		case Account, Ruleset:
			if err := p.Do(ctx, root); err != nil {
				return fmt.Errorf("apply %s %s: %w", p.Kind, p.Path, err)
			}
		case Dir:
			dirs, err := applyDir(root, p)
			createdDirs = append(createdDirs, dirs...)
			if err != nil {
				return err
			}
		case File:
			s, err := stageFile(root, p)
			if err != nil {
				return err
			}
			staged = append(staged, s)
		case Symlink:
			links = append(links, p)
		}
	}

	for i, s := range staged {
		if err := s.Commit(); err != nil {
			staged = staged[i+1:]
			return err
		}
	}
	staged = nil

	// Links go last, so that a unit is enabled only once its file is in place.
	for _, l := range links {
		if err := l.Do(ctx, root); err != nil {
			return fmt.Errorf("apply link %s: %w", l.Path, err)
		}
	}
	return nil
}

func applyDir(root hostfs.Root, p Planned) ([]string, error) {
	uid, gid, err := root.Owner(p.Owner, p.Group)
	if err != nil {
		return nil, fmt.Errorf("apply directory %s: %w", p.Path, err)
	}
	if p.Action == Create {
		return hostfs.MkdirAll(root.Path(p.Path), uid, gid, p.Mode)
	}
	return nil, hostfs.SetOwnerMode(root.Path(p.Path), uid, gid, p.Mode)
}

func stageFile(root hostfs.Root, p Planned) (*hostfs.Staged, error) {
	uid, gid, err := root.Owner(p.Owner, p.Group)
	if err != nil {
		return nil, fmt.Errorf("apply file %s: %w", p.Path, err)
	}
	return hostfs.Stage(root.Path(p.Path), p.Content, uid, gid, p.Mode)
}

// removeStaleTemps deletes temporary files that a run killed between Stage
// and Commit left beside the planned files. The caller holds the root's lock,
// so no other run is writing them.
func removeStaleTemps(root hostfs.Root, plan []Planned) {
	for _, p := range plan {
		if p.Kind != File {
			continue
		}
		target := root.Path(p.Path)
		stale, _ := filepath.Glob(filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*"))
		for _, f := range stale {
			_ = os.Remove(f)
		}
	}
}
