package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/internal/hostfs"
)

// nothingToChangeRE matches the whole output of a plan or apply that
// changes nothing.
var nothingToChangeRE = regexp.MustCompile(`\Anothing to change: [0-9]+ items unchanged\n\z`)

// TestApplyAfterInit runs apply right after init and checks that it changes
// nothing: the same bytes, modes, owners and modification times.
func TestApplyAfterInit(t *testing.T) {
	h := newHub(t)
	before := snapshotTree(t, h.root.Dir())

	// Linux stamps files from a coarse clock that ticks every 1 to 10 ms
	// (one jiffy). Waiting longer than a tick gives a file that apply
	// rewrites a later mtime than init gave it.
	time.Sleep(20 * time.Millisecond)
	res := mustGaragectl(t, "apply", "--config", h.configPath, "--root", h.root.Dir())

	if !nothingToChangeRE.MatchString(res.stdout) {
		t.Errorf("apply stdout = %q, want only %q", res.stdout, "nothing to change: N items unchanged")
	}
	if diff := cmp.Diff(before, snapshotTree(t, h.root.Dir())); diff != "" {
		t.Errorf("apply changed the root (-before +after):\n%s", diff)
	}
}

// fileState is what a walk records of one path.
type fileState struct {
	Mode     fs.FileMode
	UID, GID int
	Size     int64
	ModTime  time.Time
	SHA256   string // of a regular file's content
}

// snapshotTree records every path under dir, relative to dir.
func snapshotTree(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	states := map[string]fileState{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		uid, gid := hostfs.OwnerOf(fi)
		state := fileState{Mode: fi.Mode(), UID: uid, GID: gid, Size: fi.Size(), ModTime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			state.SHA256 = hex.EncodeToString(sum[:])
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		states[rel] = state
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return states
}
