package provision

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/pki"
)

// loadExample writes the example config and secrets to a temporary directory
// and loads them.
func loadExample(tb testing.TB) *config.Config {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "garage.yaml"), config.Example(), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets.yaml"), config.ExampleSecrets(), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "garage.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func passphrase() ([]byte, error) { return []byte("correct horse battery staple"), nil }

// provisionRoot runs Build, Plan and Apply on root and returns the plan.
func provisionRoot(tb testing.TB, cfg *config.Config, root hostfs.Root, newCA bool) []change.Planned {
	tb.Helper()
	ctx := tb.Context()
	res, err := Build(ctx, Options{Config: cfg, Root: root, NewCA: newCA, Passphrase: passphrase})
	if err != nil {
		tb.Fatal(err)
	}
	plan, err := change.Plan(ctx, root, res.Changes)
	if err != nil {
		tb.Fatal(err)
	}
	if err := change.Apply(ctx, root, plan); err != nil {
		tb.Fatal(err)
	}
	return plan
}

func newTestRoot(tb testing.TB) hostfs.Root {
	tb.Helper()
	testutil.RequireTool(tb, "systemd-sysusers", "systemd")
	testutil.RequireRoot(tb, "files are handed to the mosq group inside the root")
	root, err := hostfs.NewRoot(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

func TestBuildKeepsGeneratedSecrets(t *testing.T) {
	cfg := loadExample(t)
	root := newTestRoot(t)
	provisionRoot(t, cfg, root, true)
	passwd, err := os.ReadFile(root.Path(layout.PasswordFile))
	if err != nil {
		t.Fatal(err)
	}

	plan := provisionRoot(t, cfg, root, false)
	if change.Changed(plan) {
		t.Errorf("second run changes something: %v", plan)
	}
	again, err := os.ReadFile(root.Path(layout.PasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(passwd, again) {
		t.Error("password file changed on a second run")
	}
}

func TestBuildReissuesServerForNewName(t *testing.T) {
	cfg := loadExample(t)
	root := newTestRoot(t)
	provisionRoot(t, cfg, root, true)

	// A name under a permitted one is inside the CA's name constraints.
	cfg.Broker.Names = append(cfg.Broker.Names, "mqtt.hub.home.arpa")
	res, err := Build(t.Context(), Options{Config: cfg, Root: root, Passphrase: passphrase})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ServerIssued {
		t.Error("server certificate kept after a name was added")
	}
}

func TestBuildRejectsNameOutsideCA(t *testing.T) {
	cfg := loadExample(t)
	root := newTestRoot(t)
	provisionRoot(t, cfg, root, true)

	cfg.Broker.Names = append(cfg.Broker.Names, "mqtt.example.org")
	_, err := Build(t.Context(), Options{Config: cfg, Root: root, Passphrase: passphrase})
	var ce *pki.ConstraintError
	if !errors.As(err, &ce) {
		t.Fatalf("Build with a name outside the CA: err = %v, want a *pki.ConstraintError", err)
	}
}

func TestBuildWithoutCAFails(t *testing.T) {
	cfg := loadExample(t)
	root := newTestRoot(t)
	_, err := Build(t.Context(), Options{Config: cfg, Root: root, Passphrase: passphrase})
	if err == nil {
		t.Fatal("apply without a CA succeeded")
	}
}

// BenchmarkInit measures a whole init of the example config into a fresh
// root, RSA-2048 key generation of the CA and the server included.
func BenchmarkInit(b *testing.B) {
	cfg := loadExample(b)
	for b.Loop() {
		b.StopTimer()
		root := newTestRoot(b)
		b.StartTimer()
		provisionRoot(b, cfg, root, true)
	}
}

// BenchmarkApplyUnchanged measures an apply that finds nothing to change.
func BenchmarkApplyUnchanged(b *testing.B) {
	cfg := loadExample(b)
	root := newTestRoot(b)
	provisionRoot(b, cfg, root, true)
	for b.Loop() {
		if plan := provisionRoot(b, cfg, root, false); change.Changed(plan) {
			b.Fatalf("apply changed something: %v", plan)
		}
	}
}

func TestBuildReissuesServerForNewKeyType(t *testing.T) {
	cfg := loadExample(t)
	root := newTestRoot(t)
	provisionRoot(t, cfg, root, true)

	cfg.PKI.KeyType = config.ECDSAP256
	res, err := Build(t.Context(), Options{Config: cfg, Root: root, Passphrase: passphrase})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ServerIssued {
		t.Error("server certificate kept after pki.key_type changed")
	}
}
