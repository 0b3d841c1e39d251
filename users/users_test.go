package users

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/testutil"
)

func TestCreateAccountsInRoot(t *testing.T) {
	testutil.RequireTool(t, "systemd-sysusers", "systemd")
	testutil.RequireRoot(t, "systemd-sysusers writes the shadow file of the root")
	ctx := t.Context()
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	plan, err := change.Plan(ctx, root, Changes(Accounts()))
	if err != nil {
		t.Fatal(err)
	}
	if err := change.Apply(ctx, root, plan); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{Broker, Gate} {
		u, err := root.LookupUser(name)
		if err != nil {
			t.Fatalf("user %s missing after apply: %v", name, err)
		}
		if u.Shell != NoLogin {
			t.Errorf("user %s has shell %s, want %s", name, u.Shell, NoLogin)
		}
		if u.UID == 0 || u.UID >= 1000 {
			t.Errorf("user %s has UID %d, want a system UID", name, u.UID)
		}
		if strings.HasPrefix(u.Home, "/home") {
			t.Errorf("user %s has home %s under /home", name, u.Home)
		}
		if gid, err := root.LookupGroup(name); err != nil || gid != u.GID {
			t.Errorf("group %s: gid %d, err %v; want the user's gid %d", name, gid, err, u.GID)
		}
	}

	plan, err = change.Plan(ctx, root, Changes(Accounts()))
	if err != nil {
		t.Fatal(err)
	}
	if change.Changed(plan) {
		t.Errorf("second plan wants changes: %v", plan)
	}
}

func TestExistingLoginShellIsReported(t *testing.T) {
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root.Path("/etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	passwd := "mosq:x:990:990::/home/mosq:/bin/bash\n"
	if err := os.WriteFile(root.Path("/etc/passwd"), []byte(passwd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path("/etc/group"), []byte("mosq:x:990:\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	plan, err := change.Plan(t.Context(), root, Changes(Accounts()[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if plan[0].Action != change.Unchanged {
		t.Errorf("existing user: action %s, want unchanged", plan[0].Action)
	}
	want := []string{"user mosq has login shell /bin/bash: run usermod -s /usr/sbin/nologin mosq"}
	if diff := cmp.Diff(want, plan[0].Reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}
