package change

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/internal/hostfs"
)

const (
	testLink   = "/etc/systemd/system/multi-user.target.wants/garage-gate.service"
	testTarget = "/etc/systemd/system/garage-gate.service"
)

// Each setup prepares the root before the change is planned.
func setupNothing(t *testing.T, root hostfs.Root) {}

func setupLink(target string) func(*testing.T, hostfs.Root) {
	return func(t *testing.T, root hostfs.Root) {
		t.Helper()
		p := root.Path(testLink)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
}

func setupFile(t *testing.T, root hostfs.Root) {
	t.Helper()
	p := root.Path(testLink)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("[Unit]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSymlinkPlanAndApply(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(*testing.T, hostfs.Root)
		change      Change
		wantAction  Action
		wantReasons []string
		// wantTarget is the link target after Do; empty means no link.
		wantTarget string
	}{
		{"link missing", setupNothing, LinkChange(testLink, testTarget),
			Create, nil, testTarget},
		{"link in place", setupLink(testTarget), LinkChange(testLink, testTarget),
			Unchanged, nil, testTarget},
		{"link to another target", setupLink("/lib/systemd/system/x.service"),
			LinkChange(testLink, testTarget), Update,
			[]string{"target /lib/systemd/system/x.service, want " + testTarget}, testTarget},
		{"unlink existing link", setupLink(testTarget), UnlinkChange(testLink),
			Remove, []string{"target " + testTarget}, ""},
		{"unlink missing link", setupNothing, UnlinkChange(testLink),
			Unchanged, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			root := newRoot(t)
			tt.setup(t, root)

			action, reasons, err := tt.change.Check(ctx, root)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if action != tt.wantAction {
				t.Errorf("action %s, want %s", action, tt.wantAction)
			}
			if diff := cmp.Diff(tt.wantReasons, reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}

			if action != Unchanged {
				if err := tt.change.Do(ctx, root); err != nil {
					t.Fatalf("Do: %v", err)
				}
			}
			got, err := os.Readlink(root.Path(testLink))
			if tt.wantTarget == "" {
				if !os.IsNotExist(err) {
					t.Errorf("link still there after Do: target %q, err %v", got, err)
				}
			} else if got != tt.wantTarget {
				t.Errorf("link target %q (err %v), want %q", got, err, tt.wantTarget)
			}

			again, _, err := tt.change.Check(ctx, root)
			if err != nil || again != Unchanged {
				t.Errorf("Check after Do: %s, %v; want unchanged", again, err)
			}
		})
	}
}

// A unit file copied into a .wants directory by hand is content, not a link:
// neither change may replace or delete it.
func TestSymlinkRejectsRegularFile(t *testing.T) {
	for _, c := range []Change{LinkChange(testLink, testTarget), UnlinkChange(testLink)} {
		name := "unlink"
		if len(c.Content) > 0 {
			name = "link"
		}
		t.Run(name, func(t *testing.T) {
			root := newRoot(t)
			setupFile(t, root)
			if _, _, err := c.Check(t.Context(), root); err == nil {
				t.Error("Check accepted a regular file in place of a link")
			}
			if err := c.Do(t.Context(), root); err == nil {
				t.Error("Do accepted a regular file in place of a link")
			}
			if fi, err := os.Lstat(root.Path(testLink)); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("regular file changed: %v, %v", fi, err)
			}
		})
	}
}

func TestLinkReplacesLinkAtomically(t *testing.T) {
	root := newRoot(t)
	setupLink("/dev/null")(t, root)
	if err := LinkChange(testLink, testTarget).Do(t.Context(), root); err != nil {
		t.Fatal(err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(root.Path(testLink)), ".*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary links left behind: %v", leftovers)
	}
}
