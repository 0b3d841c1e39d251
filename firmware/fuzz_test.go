package firmware

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// fuzzSecondsEnv names the environment variable that sets how long each
// fuzz harness runs, in seconds. The default keeps a CI run short.
const fuzzSecondsEnv = "GARAGE_FUZZ_SECONDS"

const defaultFuzzSeconds = 10

// vectorPayload is the command of the test vector in docs/protocol.md.
const vectorPayload = "v1 relay1 pulse 42 1764849600 " +
	"0293ea48d70327e9d3aabd4a1964a1820d051a0dff36301f090c3c579c915c4e"

// TestFuzzCommand runs the libFuzzer harness of the command checks for a
// bounded time, starting from the test vector and a few near misses.
func TestFuzzCommand(t *testing.T) {
	seeds := map[string]string{
		"vector":   vectorPayload,
		"foreign":  "v1 relay2 pulse 43 1764849601 71394a4e68e5bccec42856aab2df2b3a8a8ad957bc5acbc6f9b76bcd4b88b1f8",
		"max-seq":  "v1 relay1 pulse 9223372036854775807 0 " + strings.Repeat("0", 64),
		"newline":  vectorPayload + "\n",
		"too-long": vectorPayload + strings.Repeat("0", 64),
	}
	runFuzzer(t, filepath.Join("ctest", "fuzz_command.c"), seeds)
}

// TestFuzzSession runs the libFuzzer harness of the MQTT session with a
// broker stream as input, for a bounded time.
func TestFuzzSession(t *testing.T) {
	connack := "\x20\x02\x00\x00"
	suback := "\x90\x03\x00\x01\x01"
	topic := "garage/relay1/cmd"
	publish := string([]byte{0x32, byte(2 + len(topic) + 2 + len(vectorPayload)), 0, byte(len(topic))}) +
		topic + "\x00\x07" + vectorPayload
	seeds := map[string]string{
		// Bytes 0 and 1 set the read size and the ms per poll.
		"command":       "\x3f\x0a" + connack + suback + publish,
		"one-byte-read": "\x00\x01" + connack + suback + publish + "\xd0\x00",
		"refused":       "\x10\x05\x20\x02\x00\x05",
	}
	runFuzzer(t, filepath.Join("ctest", "fuzz_session.c"), seeds)
}

// runFuzzer builds harness with clang's libFuzzer and the sanitizers, writes
// seeds into a corpus directory and fuzzes for GARAGE_FUZZ_SECONDS.
func runFuzzer(t *testing.T, harness string, seeds map[string]string) {
	t.Helper()
	clang := testutil.RequireTool(t, "clang", "clang")
	requireBearSSL(t)
	seconds := defaultFuzzSeconds
	if s := os.Getenv(fuzzSecondsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("invalid %s %q: use a whole number of seconds", fuzzSecondsEnv, s)
		}
		seconds = n
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "fuzzer")
	args := append([]string{}, cFlags...)
	args = append(args, "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
		"-fno-sanitize-recover=all", "-o", bin, harness)
	args = append(args, coreSources(t)...)
	ctx, cancel := context.WithTimeout(t.Context(), compileTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, clang, append(args, "-lbearssl")...).CombinedOutput()
	if err != nil {
		t.Fatalf("build %s with libFuzzer: %v\n%s\n(libFuzzer's runtime is in the Debian "+
			"package libclang-rt-14-dev)", harness, err, out)
	}

	corpus := filepath.Join(dir, "corpus")
	if err := os.Mkdir(corpus, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		if err := os.WriteFile(filepath.Join(corpus, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel = context.WithTimeout(t.Context(), time.Duration(seconds)*time.Second+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-max_total_time="+strconv.Itoa(seconds),
		"-timeout=10", "-rss_limit_mb=1024", "-artifact_prefix="+dir+"/", corpus)
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fuzzing %s found a failure: %v\n%s", harness, err, tail(string(out), 60))
	}
	t.Logf("%s: %s", filepath.Base(harness), lastLine(string(out)))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLine(s string) string {
	return tail(s, 1)
}
