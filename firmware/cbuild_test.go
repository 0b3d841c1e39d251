package firmware

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// cFlags are the language and warning flags of every C build in the tests:
// any warning fails the test.
var cFlags = []string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"}

// sanitizeFlags build the native C tests with AddressSanitizer and
// UndefinedBehaviorSanitizer, and make any finding fatal.
var sanitizeFlags = []string{"-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"}

// compileTimeout bounds one compiler run.
const compileTimeout = 2 * time.Minute

// bearSSLHeader is installed by the Debian package libbearssl-dev, with the
// library that the native builds link.
const bearSSLHeader = "/usr/include/bearssl/bearssl.h"

// requireBearSSL fails under CI=true and skips elsewhere unless BearSSL's
// headers and library are installed.
func requireBearSSL(t *testing.T) {
	t.Helper()
	testutil.RequireFile(t, bearSSLHeader, "libbearssl-dev")
}

// coreSources returns the paths of the firmware core's C files.
func coreSources(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("core", "*.c"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no C files in core: %v", err)
	}
	return files
}

// compileC runs compiler with args and fails the test, showing the
// compiler's output, when it exits with an error.
func compileC(t *testing.T, compiler string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), compileTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, compiler, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", compiler, strings.Join(args, " "), err, out)
	}
}

// buildNative compiles sources with the core, the sanitizers and BearSSL
// into a program in a new temporary directory and returns its path.
func buildNative(t *testing.T, name string, sources ...string) string {
	t.Helper()
	cc := testutil.RequireTool(t, "cc", "gcc")
	requireBearSSL(t)
	bin := filepath.Join(t.TempDir(), name)
	args := append([]string{}, cFlags...)
	args = append(args, sanitizeFlags...)
	args = append(args, "-o", bin)
	args = append(args, sources...)
	args = append(args, coreSources(t)...)
	compileC(t, cc, append(args, "-lbearssl")...)
	return bin
}

// buildHostRelay compiles the host build of the relay with BuildHostRelay
// and returns its path.
func buildHostRelay(t *testing.T) string {
	t.Helper()
	cc := testutil.RequireTool(t, "cc", "gcc")
	requireBearSSL(t)
	bin := filepath.Join(t.TempDir(), "garage-relay-host")
	ctx, cancel := context.WithTimeout(t.Context(), compileTimeout)
	defer cancel()
	if err := BuildHostRelay(ctx, cc, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}
