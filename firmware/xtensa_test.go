package firmware

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/garagectl/garagectl/internal/testutil"
)

// picolibcSpecs is the GCC specs file of Debian's picolibc-xtensa-lx106-elf,
// which points the compiler at picolibc's headers.
const picolibcSpecs = "/usr/lib/xtensa-lx106-elf/picolibc.specs"

// maxCoreText is the size budget of the core's code and read-only data on
// the ESP8266, BearSSL and libgcc excluded.
const maxCoreText = 8 * 1024

// xtensaFlags match the ESP8266 Arduino core's code generation (-Os,
// -mlongcalls, -mtext-section-literals, one section per function).
var xtensaFlags = []string{
	"-Os", "-mlongcalls", "-mtext-section-literals", "-ffunction-sections", "-fdata-sections",
}

// TestXtensaCore cross-compiles the firmware core for the ESP8266 with
// Debian's xtensa-lx106-elf-gcc and picolibc, with every warning an error,
// and checks and logs the size of each object. BearSSL is used for its
// headers only: the HMAC calls stay undefined symbols, which the ESP8266
// core's own libbearssl resolves when the sketch is linked.
func TestXtensaCore(t *testing.T) {
	gcc := testutil.RequireTool(t, "xtensa-lx106-elf-gcc", "gcc-xtensa-lx106")
	size := testutil.RequireTool(t, "xtensa-lx106-elf-size", "binutils-xtensa-lx106")
	requirePicolibc(t)
	requireBearSSL(t)

	// The core includes <bearssl/...>. Only that directory of the host's
	// /usr/include may be visible, so that picolibc provides the C library.
	include := t.TempDir()
	if err := os.Symlink(filepath.Dir(bearSSLHeader), filepath.Join(include, "bearssl")); err != nil {
		t.Fatal(err)
	}
	objects := t.TempDir()
	var built []string
	for _, src := range coreSources(t) {
		obj := filepath.Join(objects, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		args := append([]string{"--specs=" + picolibcSpecs}, cFlags...)
		args = append(args, xtensaFlags...)
		args = append(args, "-isystem", include, "-c", src, "-o", obj)
		compileC(t, gcc, args...)
		built = append(built, obj)
	}

	out, err := exec.CommandContext(t.Context(), size, append([]string{"-t"}, built...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("xtensa-lx106-elf-size: %v\n%s", err, out)
	}
	t.Logf("xtensa-lx106-elf-size -t (text includes .rodata and literal pools):\n%s", out)
	total := totalText(t, string(out))
	t.Logf("core .text on the ESP8266: %d bytes of a %d-byte budget", total, maxCoreText)
	if total >= maxCoreText {
		t.Errorf("core .text is %d bytes, want under %d", total, maxCoreText)
	}
}

func requirePicolibc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(picolibcSpecs); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: install the Debian package picolibc-xtensa-lx106-elf", picolibcSpecs)
	}
	t.Skipf("%s not found: install the Debian package picolibc-xtensa-lx106-elf to run this test",
		picolibcSpecs)
}

// totalText returns the text column of the "(TOTALS)" line that size -t prints.
func totalText(t *testing.T, out string) int {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 6 && fields[5] == "(TOTALS)" {
			n, err := strconv.Atoi(fields[0])
			if err != nil {
				t.Fatalf("size -t: invalid total %q", fields[0])
			}
			return n
		}
	}
	t.Fatalf("size -t printed no (TOTALS) line:\n%s", out)
	return 0
}
