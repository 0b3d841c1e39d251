package firmware

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/garagectl/garagectl/internal/hostfs"
)

// ModeProjectDir is the mode of a project directory and its subdirectories:
// only the owner may list them, because the config header contains secrets.
const ModeProjectDir fs.FileMode = 0o700

// ErrNotProject is returned by [WriteProject] for an existing directory that
// is neither empty nor a project that garagectl wrote.
var ErrNotProject = errors.New("not a firmware project directory")

// WriteProject writes files into dir, each atomically with its mode, and
// creates dir and its subdirectories with [ModeProjectDir]. dir may be
// missing, empty, or a project that WriteProject wrote before, which it
// updates. Any other directory gives an error wrapping [ErrNotProject], so
// that a mistyped --out cannot scatter secrets into a source tree.
func WriteProject(dir string, files []File) error {
	if err := prepareDir(dir); err != nil {
		return err
	}
	uid, gid := os.Geteuid(), os.Getegid()
	for _, f := range files {
		target := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(target), ModeProjectDir); err != nil {
			return fmt.Errorf("create directory for %s: %w", f.Path, err)
		}
		if err := hostfs.WriteFile(target, f.Data, uid, gid, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// prepareDir creates dir with mode 0700, or checks that an existing dir may
// be written and sets its mode to 0700.
func prepareDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", filepath.Dir(dir), err)
		}
		if err := os.Mkdir(dir, ModeProjectDir); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s exists and is not a directory", ErrNotProject, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", dir, err)
	}
	if len(entries) > 0 && !isProject(dir) {
		return fmt.Errorf("%w: %s is not empty and has no .gitignore from garagectl firmware "+
			"build: choose a new directory", ErrNotProject, dir)
	}
	if err := os.Chmod(dir, ModeProjectDir); err != nil {
		return fmt.Errorf("change mode of %s: %w", dir, err)
	}
	return nil
}

func isProject(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, gitignorePath))
	return err == nil && string(data) == gitignore
}

// ProjectPath returns the path in dir of a file of a rendered project, such
// as [ConfigHeaderPath].
func ProjectPath(dir, file string) string {
	return filepath.Join(dir, filepath.FromSlash(path.Clean(file)))
}
