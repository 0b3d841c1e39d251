package firmware

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
)

// TestBuildSourceOnly runs garagectl firmware build --source-only on a hub
// that init provisioned, and checks the files, their modes and where the
// secrets went.
func TestBuildSourceOnly(t *testing.T) {
	h := newHub(t)
	out := filepath.Join(h.dir, "firmware")
	res := mustGaragectl(t, "firmware", "build", "--device", "relay1", "--source-only",
		"--out", out, "--config", h.configPath, "--root", h.root.Dir())
	if res.stdout != "project: "+out+"\n" {
		t.Errorf("stdout = %q, want the project directory", res.stdout)
	}

	secrets := map[string]string{
		"Wi-Fi password": "your-wifi-passphrase", // from the example secrets.yaml
		"MQTT password":  h.secret(t, layout.MQTTPassword("relay1")),
		"command key":    h.secret(t, layout.DeviceKey("relay1")),
		"gate password":  h.secret(t, layout.MQTTPassword("gate")),
	}
	key, _ := hex.DecodeString(secrets["command key"])
	checkMode(t, out, ModeProjectDir)
	files := 0
	err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		rel, _ := filepath.Rel(out, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == filepath.FromSlash(ConfigHeaderPath) {
			checkMode(t, path, 0o600)
			checkHeaderSecrets(t, string(data), secrets, key)
			return nil
		}
		checkMode(t, path, 0o644)
		for name, secret := range secrets {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s contains the %s", rel, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Errorf("the project has %d files, want the sketch, the headers and the core", files)
	}
	for name, secret := range secrets {
		if strings.Contains(res.stderr, secret) {
			t.Errorf("stderr contains the %s", name)
		}
	}
}

func checkHeaderSecrets(t *testing.T, header string, secrets map[string]string, key []byte) {
	t.Helper()
	for _, name := range []string{"Wi-Fi password", "MQTT password"} {
		if !strings.Contains(header, `"`+secrets[name]+`"`) {
			t.Errorf("the config header lacks the %s", name)
		}
	}
	if strings.Contains(header, secrets["gate password"]) {
		t.Errorf("the config header contains the gate's password")
	}
	var b strings.Builder
	for i, c := range key[:8] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("0x" + hex.EncodeToString([]byte{c}))
	}
	if !strings.Contains(header, b.String()) {
		t.Errorf("the config header lacks the command key")
	}
}

// TestBuildErrors checks the exit status and message of a failed build.
func TestBuildErrors(t *testing.T) {
	h := newHub(t)
	emptyPath := t.TempDir()
	sourceDir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(sourceDir, "main.go"), "package main\n", 0o644)
	args := func(extra ...string) []string {
		return append([]string{"firmware", "build", "--config", h.configPath, "--root", h.root.Dir()}, extra...)
	}
	cases := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr []string
	}{
		{name: "unknown device", args: args("--device", "relay9", "--source-only"), code: 2,
			stderr: []string{`unknown device "relay9"`, "relay1"}},
		{name: "no device", args: args("--source-only"), code: 2, stderr: []string{"--device is missing"}},
		{name: "bad board", args: args("--device", "relay1", "--board", "arduino:avr:uno",
			"--out", filepath.Join(t.TempDir(), "p")), code: 2, stderr: []string{"invalid board"}},
		{name: "source directory", args: args("--device", "relay1", "--out", sourceDir),
			code: 2, stderr: []string{"not a firmware project directory"}},
		{name: "no toolchain", env: []string{"PATH=" + emptyPath},
			args: args("--device", "relay1", "--out", filepath.Join(t.TempDir(), "p")), code: 1,
			stderr: []string{"no firmware toolchain found", "arduino-cli", "PlatformIO", "--source-only"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runGaragectl(t, c.env, c.args...)
			if res.exitCode != c.code {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", res.exitCode, c.code, res.stderr)
			}
			for _, want := range c.stderr {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
				}
			}
		})
	}
}

// fakeArduinoCLI records its arguments and writes an image where
// arduino-cli compile --output-dir puts it.
const fakeArduinoCLI = `#!/bin/sh
printf '%s\n' "$@" > "$FAKE_ARGS"
while [ $# -gt 0 ]; do
	if [ "$1" = --output-dir ]; then out=$2; fi
	shift
done
mkdir -p "$out" && printf 'firmware image' > "$out/garage_relay.ino.bin"
echo "Sketch uses 300000 bytes"
`

// TestBuildWithToolchain runs firmware build with a stand-in arduino-cli on
// PATH and checks the command line it got and the image summary.
func TestBuildWithToolchain(t *testing.T) {
	h := newHub(t)
	bin := t.TempDir()
	testutil.WriteFile(t, filepath.Join(bin, "arduino-cli"), fakeArduinoCLI, 0o755)
	argsFile := filepath.Join(t.TempDir(), "args")
	out := filepath.Join(h.dir, "firmware")

	res := runGaragectl(t, []string{"PATH=" + bin + ":/usr/bin:/bin", "FAKE_ARGS=" + argsFile},
		"firmware", "build", "--device", "relay1", "--out", out,
		"--config", h.configPath, "--root", h.root.Dir())
	if res.exitCode != 0 {
		t.Fatalf("exit status %d\nstderr:\n%s", res.exitCode, res.stderr)
	}
	sum := sha256.Sum256([]byte("firmware image"))
	image := filepath.Join(out, "build", "garage_relay.ino.bin")
	want := "project: " + out + "\nimage: " + image + "\nsize: 14 bytes\nsha256: " +
		hex.EncodeToString(sum[:]) + "\n"
	if res.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, want)
	}

	got, err := os.ReadFile(argsFile)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := strings.Join([]string{"compile", "--fqbn", DefaultBoard, "--output-dir",
		filepath.Join(out, "build"), filepath.Join(out, SketchName)}, "\n") + "\n"
	if string(got) != wantArgs {
		t.Errorf("arduino-cli got the arguments:\n%s\nwant:\n%s", got, wantArgs)
	}
}

// TestBuildDryRun checks that --dry-run lists the files and writes none.
func TestBuildDryRun(t *testing.T) {
	h := newHub(t)
	out := filepath.Join(h.dir, "firmware")
	res := mustGaragectl(t, "firmware", "build", "--device", "relay1", "--dry-run", "--out", out,
		"--config", h.configPath, "--root", h.root.Dir())
	if !strings.Contains(res.stdout, "write "+filepath.Join(out, ConfigHeaderPath)+" 0600\n") {
		t.Errorf("the dry run does not list the config header with mode 0600:\n%s", res.stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("the dry run created %s", out)
	}
}
