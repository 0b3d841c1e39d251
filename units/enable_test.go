package units

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/testutil"
)

// newUnitRoot returns a temporary root with the example units in UnitDir.
func newUnitRoot(t *testing.T) (hostfs.Root, []File) {
	t.Helper()
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := renderExample(t)
	if err := os.MkdirAll(root.Path(UnitDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(root.Path(f.Path()), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, files
}

// systemctlRoot runs systemctl on the tree under root only. --root makes
// systemctl work on the files there, without talking to a service manager.
func systemctlRoot(t *testing.T, root hostfs.Root, args ...string) string {
	t.Helper()
	out, err := runSystemctlRoot(t, root, args...)
	if err != nil {
		t.Fatalf("systemctl --root=%s %s: %v\n%s", root.Dir(), strings.Join(args, " "), err, out)
	}
	return out
}

func runSystemctlRoot(t *testing.T, root hostfs.Root, args ...string) (string, error) {
	t.Helper()
	systemctl := testutil.RequireTool(t, "systemctl", "systemd")
	if root.Live() {
		t.Fatal("systemctl may only run on a temporary root, not on the live host")
	}
	args = append([]string{"--root=" + root.Dir()}, args...)
	out, err := exec.CommandContext(t.Context(), systemctl, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// isEnabled returns the state that "systemctl is-enabled" prints for unit
// in root. It exits non-zero for every state but enabled, so only the output
// counts.
func isEnabled(t *testing.T, root hostfs.Root, unit string) string {
	t.Helper()
	out, err := runSystemctlRoot(t, root, "is-enabled", unit)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("systemctl is-enabled %s: %v", unit, err)
	}
	return out
}

// links returns every symbolic link under root's UnitDir, as host paths.
func links(t *testing.T, root hostfs.Root) []Link {
	t.Helper()
	var out []Link
	err := filepath.WalkDir(root.Path(UnitDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type() != fs.ModeSymlink {
			return err
		}
		target, err := os.Readlink(p)
		out = append(out, Link{Path: root.HostPath(p), Target: target})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortLinks(l []Link) []Link {
	slices.SortFunc(l, func(a, b Link) int { return strings.Compare(a.Path, b.Path) })
	return l
}

func TestEnableLinksMatchSystemctl(t *testing.T) {
	root, files := newUnitRoot(t)
	for _, f := range files {
		systemctlRoot(t, root, "enable", f.Name)
	}

	want := links(t, root)
	got, err := EnableLinks(files)
	if err != nil {
		t.Fatalf("EnableLinks: %v", err)
	}
	if diff := cmp.Diff(sortLinks(want), sortLinks(got)); diff != "" {
		t.Errorf("links (-systemctl enable +EnableLinks):\n%s", diff)
	}
}

func TestEnableLinksOfExample(t *testing.T) {
	got, err := EnableLinks(renderExample(t))
	if err != nil {
		t.Fatalf("EnableLinks: %v", err)
	}
	want := []Link{
		{"/etc/systemd/system/multi-user.target.wants/garage-mosquitto.service",
			"/etc/systemd/system/garage-mosquitto.service"},
		{"/etc/systemd/system/multi-user.target.wants/garage-gate.service",
			"/etc/systemd/system/garage-gate.service"},
		{"/etc/systemd/system/sysinit.target.wants/garage-firewall.service",
			"/etc/systemd/system/garage-firewall.service"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}

func TestEnableLinksRejectUnsupportedInstall(t *testing.T) {
	f := File{Name: "x.service", Content: []byte("[Install]\nAlso=y.service\n")}
	if _, err := EnableLinks([]File{f}); err == nil {
		t.Error("EnableLinks accepted Also=")
	}
}

// applyLinks makes the link changes through their Check and Do functions, as
// change.Apply does for a kind that carries them.
func applyLinks(t *testing.T, root hostfs.Root, changes []change.Change) {
	t.Helper()
	for _, c := range changes {
		action, _, err := c.Check(t.Context(), root)
		if err != nil {
			t.Fatalf("check %s: %v", c.Path, err)
		}
		if action == change.Unchanged {
			continue
		}
		if err := c.Do(t.Context(), root); err != nil {
			t.Fatalf("apply %s: %v", c.Path, err)
		}
	}
}

// Applying the enable links must leave the units enabled, as systemctl
// reports them.
func TestEnableLinksEnableUnits(t *testing.T) {
	root, files := newUnitRoot(t)
	enable, err := EnableLinks(files)
	if err != nil {
		t.Fatal(err)
	}
	applyLinks(t, root, LinkChanges(enable, nil))
	for _, f := range files {
		if got := isEnabled(t, root, f.Name); got != "enabled" {
			t.Errorf("systemctl is-enabled %s = %q, want enabled", f.Name, got)
		}
	}
}

func TestMaskDebianBroker(t *testing.T) {
	debianUnit := "[Unit]\nDescription=Mosquitto MQTT Broker\n\n[Service]\n" +
		"ExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf\n\n" +
		"[Install]\nWantedBy=multi-user.target\n"
	tests := []struct {
		name string
		// unitDir is where the package's unit file lies; empty means nowhere.
		unitDir       string
		enable        bool
		wantInstalled bool
		wantLinks     []string
	}{
		{name: "not installed"},
		{name: "installed, disabled", unitDir: "/lib/systemd/system", wantInstalled: true},
		{name: "installed in /usr/lib, enabled", unitDir: "/usr/lib/systemd/system",
			enable: true, wantInstalled: true,
			wantLinks: []string{"/etc/systemd/system/multi-user.target.wants/mosquitto.service"}},
		{name: "installed, enabled", unitDir: "/lib/systemd/system",
			enable: true, wantInstalled: true,
			wantLinks: []string{"/etc/systemd/system/multi-user.target.wants/mosquitto.service"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := newUnitRoot(t)
			if tt.unitDir != "" {
				dir := root.Path(tt.unitDir)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				err := os.WriteFile(filepath.Join(dir, DebianBrokerUnit), []byte(debianUnit), 0o644)
				if err != nil {
					t.Fatal(err)
				}
			}
			if tt.enable {
				systemctlRoot(t, root, "enable", DebianBrokerUnit)
			}

			m, err := MaskDebianBroker(root)
			if err != nil {
				t.Fatalf("MaskDebianBroker: %v", err)
			}
			if m.Installed != tt.wantInstalled {
				t.Errorf("Installed = %v, want %v", m.Installed, tt.wantInstalled)
			}
			if diff := cmp.Diff(tt.wantLinks, m.EnableLinks); diff != "" {
				t.Errorf("EnableLinks (-want +got):\n%s", diff)
			}
			if want := (Link{"/etc/systemd/system/mosquitto.service", "/dev/null"}); m.Mask != want {
				t.Errorf("Mask = %+v, want %+v", m.Mask, want)
			}

			applyLinks(t, root, LinkChanges([]Link{m.Mask}, m.EnableLinks))
			if !tt.wantInstalled {
				return
			}
			if got := isEnabled(t, root, DebianBrokerUnit); got != "masked" {
				t.Errorf("systemctl is-enabled %s = %q, want masked", DebianBrokerUnit, got)
			}
			after, err := MaskDebianBroker(root)
			if err != nil || after.Enabled() {
				t.Errorf("after masking: enable links %v, err %v", after.EnableLinks, err)
			}
		})
	}
}
