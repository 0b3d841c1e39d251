package change

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/internal/hostfs"
)

func newRoot(t *testing.T) hostfs.Root {
	t.Helper()
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func actions(plan []Planned) []Action {
	var out []Action
	for _, p := range plan {
		out = append(out, p.Action)
	}
	return out
}

func sampleChanges() []Change {
	return []Change{
		{Kind: Dir, Path: "/etc/app", Owner: "root", Group: "root", Mode: 0o750},
		{Kind: File, Path: "/etc/app/a.conf", Content: []byte("a\n"), Owner: "root", Group: "root", Mode: 0o644},
		{Kind: File, Path: "/etc/app/b.key", Content: []byte("b\n"), Owner: "root", Group: "root", Mode: 0o600, Secret: true},
	}
}

func TestPlanApplyThenUnchanged(t *testing.T) {
	ctx := t.Context()
	root := newRoot(t)
	changes := sampleChanges()

	plan, err := Plan(ctx, root, changes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Action{Create, Create, Create}, actions(plan)); diff != "" {
		t.Fatalf("first plan (-want +got):\n%s", diff)
	}
	if err := Apply(ctx, root, plan); err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		fi, err := os.Stat(root.Path(c.Path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.Mode {
			t.Errorf("%s: mode %04o, want %04o", c.Path, fi.Mode().Perm(), c.Mode)
		}
	}

	before, _ := os.Stat(root.Path("/etc/app/a.conf"))
	time.Sleep(10 * time.Millisecond)
	plan, err = Plan(ctx, root, changes)
	if err != nil {
		t.Fatal(err)
	}
	if Changed(plan) {
		t.Fatalf("second plan changes something: %v", plan)
	}
	if err := Apply(ctx, root, plan); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(root.Path("/etc/app/a.conf"))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("unchanged file was rewritten: mtime %v, was %v", after.ModTime(), before.ModTime())
	}
}

func TestPlanReportsModeAndContent(t *testing.T) {
	ctx := t.Context()
	root := newRoot(t)
	changes := sampleChanges()
	plan, _ := Plan(ctx, root, changes)
	if err := Apply(ctx, root, plan); err != nil {
		t.Fatal(err)
	}

	if err := os.Chmod(root.Path("/etc/app/b.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes[1].Content = []byte("a2\n")
	plan, err := Plan(ctx, root, changes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Action{Unchanged, Update, Update}, actions(plan)); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"content"}, plan[1].Reasons); diff != "" {
		t.Errorf("reasons for a.conf (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"mode 0644, want 0600"}, plan[2].Reasons); diff != "" {
		t.Errorf("reasons for b.key (-want +got):\n%s", diff)
	}
}

// A failure while staging must leave every file as it was and remove the
// directories the run created.
func TestApplyFailureLeavesFilesAlone(t *testing.T) {
	ctx := context.Background()
	root := newRoot(t)
	if err := os.MkdirAll(root.Path("/etc/app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/etc/app/a.conf"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes := []Change{
		{Kind: File, Path: "/etc/app/a.conf", Content: []byte("new\n"), Owner: "root", Group: "root", Mode: 0o644},
		{Kind: Dir, Path: "/etc/other", Owner: "root", Group: "root", Mode: 0o755},
		// The owner does not exist, so staging this file fails.
		{Kind: File, Path: "/etc/other/x", Content: []byte("x"), Owner: "nobody-here", Group: "root", Mode: 0o644},
	}
	plan, err := Plan(ctx, root, changes)
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, root, plan); err == nil {
		t.Fatal("Apply succeeded with an unknown owner")
	}

	got, _ := os.ReadFile(root.Path("/etc/app/a.conf"))
	if string(got) != "old\n" {
		t.Errorf("a.conf = %q after a failed apply, want the old content", got)
	}
	if _, err := os.Stat(root.Path("/etc/other")); !os.IsNotExist(err) {
		t.Errorf("/etc/other still exists after a failed apply: %v", err)
	}
	leftovers, _ := filepath.Glob(root.Path("/etc/app/.*tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestPlanRejectsDirectoryInPlaceOfFile(t *testing.T) {
	root := newRoot(t)
	if err := os.MkdirAll(root.Path("/etc/app/a.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Plan(t.Context(), root, sampleChanges()[1:2])
	if err == nil {
		t.Fatal("Plan accepted a directory where a file belongs")
	}
}

func TestPlannedStringHidesSecret(t *testing.T) {
	p := Planned{Change: sampleChanges()[2], Action: Create}
	got := p.String()
	want := "create    file    /etc/app/b.key root:root 0600"
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// A symbolic link above a managed path used to lead writes out of --root.
func TestPlanRejectsSymlinkedParent(t *testing.T) {
	root := newRoot(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, root.Path("/etc")); err != nil {
		t.Fatal(err)
	}
	_, err := Plan(t.Context(), root, sampleChanges())
	if err == nil {
		t.Fatal("Plan accepted /etc as a symbolic link out of the root")
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Errorf("files written outside the root: %v", entries)
	}
}

// A run killed between staging and renaming used to leave its temporary
// copies, secrets among them, beside the targets for good.
func TestApplyRemovesStaleTemps(t *testing.T) {
	ctx := t.Context()
	root := newRoot(t)
	plan, err := Plan(ctx, root, sampleChanges())
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, root, plan); err != nil {
		t.Fatal(err)
	}
	stale := root.Path("/etc/app/.b.key.tmp-123456")
	if err := os.WriteFile(stale, []byte("b\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	plan, err = Plan(ctx, root, sampleChanges())
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, root, plan); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there: %v", err)
	}
}
