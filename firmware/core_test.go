package firmware

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cTestTimeout bounds one run of a C test program.
const cTestTimeout = time.Minute

// TestCore runs the C unit tests of command parsing, verification and
// relay timing, built with the sanitizers. Each C test is a subtest.
func TestCore(t *testing.T) {
	runCTests(t, buildNative(t, "core_test", filepath.Join("ctest", "core_test.c")))
}

// TestSession runs the C tests of the MQTT session and the device glue
// against a scripted broker.
func TestSession(t *testing.T) {
	runCTests(t, buildNative(t, "session_test", filepath.Join("ctest", "session_test.c")))
}

// runCTests lists the tests of a program built on ctest/check.h and runs
// each one as a subtest.
func runCTests(t *testing.T, bin string) {
	t.Helper()
	names := runCProgram(t, bin, "-list")
	if len(names) == 0 {
		t.Fatalf("%s lists no tests", bin)
	}
	for _, name := range strings.Fields(names) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), cTestTimeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, name).CombinedOutput()
			if err != nil {
				t.Errorf("%s %s: %v\n%s", filepath.Base(bin), name, err, out)
			}
		})
	}
}

func runCProgram(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cTestTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}
