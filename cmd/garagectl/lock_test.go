package main

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/testutil"
)

// Parallel inits on one root used to each make a CA and all report success,
// leaving only the last one's CA behind.
func TestParallelInitMakesOneCA(t *testing.T) {
	testutil.RequireTool(t, "systemd-sysusers", "systemd")
	testutil.RequireRoot(t, "init hands files to the mosq group inside the scratch root")
	dir := t.TempDir()
	files := map[string][]byte{
		"garage.yaml":  config.Example(),
		"secrets.yaml": config.ExampleSecrets(),
		"pass.txt":     []byte("correct horse battery staple\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"init", "--quiet", "--config", filepath.Join(dir, "garage.yaml"),
		"--root", filepath.Join(dir, "root"), "--ca-passphrase-file", filepath.Join(dir, "pass.txt")}

	const runs = 4
	codes := make([]int, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { codes[i] = run(args, nil, io.Discard, io.Discard) })
	}
	wg.Wait()

	succeeded := 0
	for _, c := range codes {
		if c == exitOK {
			succeeded++
		}
	}
	if succeeded != 1 {
		t.Errorf("exit statuses %v: %d inits succeeded, want exactly 1", codes, succeeded)
	}
}
