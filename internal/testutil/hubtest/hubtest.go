// Package hubtest prepares scratch roots that tests provision with garagectl
// init from the example config.
package hubtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/garagectl/garagectl/internal/testutil"
)

// ExampleConfigEnd is the last line of the example config, the last key of its
// only device. A device appended after it joins the devices list.
const ExampleConfigEnd = "    wifi_password: !secret wifi_password\n"

// ScratchDir returns a new t.TempDir for a root that garagectl init will
// provision. It first requires root and systemd-sysusers, which init needs to
// hand files to the mosq group. mosquitto runs as the root's mosq account and
// must search every directory above the root, so ScratchDir opens the
// directory and its parent, which t.TempDir makes 0700, to mode 0711.
// NOTE: the directories above those, $TMPDIR included, must be searchable by
// other users, as the default /tmp is.
func ScratchDir(t testing.TB) string {
	t.Helper()
	testutil.RequireRoot(t, "init hands files to the mosq group inside the scratch root")
	testutil.RequireTool(t, "systemd-sysusers", "systemd")

	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatalf("open %s to the broker's account: %v", d, err)
		}
	}
	return dir
}

// AppendRelays appends a relay device for each name to config, the example
// config that garagectl config example prints. The relays share the
// example's Wi-Fi secrets. It fails the test when there are names and config
// no longer ends with ExampleConfigEnd, since the devices would then land
// outside the devices list.
func AppendRelays(t testing.TB, config string, names ...string) string {
	t.Helper()
	if !strings.HasSuffix(config, ExampleConfigEnd) && len(names) > 0 {
		t.Fatalf("the example config no longer ends with %q, so the test cannot append a device:\n%s",
			ExampleConfigEnd, config)
	}
	for _, name := range names {
		config += "  - name: " + name + "\n    relay_pin: 4\n    pulse: 400ms\n" +
			"    wifi_ssid: !secret wifi_ssid\n    wifi_password: !secret wifi_password\n"
	}
	return config
}
