package firmware

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
	"github.com/garagectl/garagectl/pki"
)

// trickyStrings are values that a naive C string escape gets wrong.
var trickyStrings = []string{
	`plain-passphrase`,
	`pa"ss"word`,
	`back\slash`,
	`ends with a backslash\`,
	`??/ ??= ??( ??) ??! ??< ??> ??- ??'`,
	"line one\nline two\r\n",
	"tab\tand bell\a and DEL\x7f",
	"octal before digits \x012\x0034",
	"caf\u00e9 \u00fc",
	"*/ /* // end of comment",
	"%s%d%n",
}

// TestCStringCompiles compiles each tricky string with CString as C99 and,
// where g++ is installed, as C++11, with trigraphs on (both standards have
// them), runs the program and compares the bytes it prints.
func TestCStringCompiles(t *testing.T) {
	cc := testutil.RequireTool(t, "cc", "gcc")
	var src strings.Builder
	src.WriteString("#include <stdio.h>\nstatic const char *const values[] = {\n")
	for _, s := range trickyStrings {
		fmt.Fprintf(&src, "    %s,\n", CString(s))
	}
	src.WriteString("};\nstatic const size_t sizes[] = {\n")
	for _, s := range trickyStrings {
		fmt.Fprintf(&src, "    sizeof %s - 1,\n", CString(s))
	}
	src.WriteString("};\nint main(void)\n{\n    size_t i;\n" +
		"    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {\n" +
		"        fwrite(values[i], 1, sizes[i], stdout);\n        putchar(0);\n    }\n" +
		"    return 0;\n}\n")
	want := strings.Join(trickyStrings, "\x00") + "\x00"

	dir := t.TempDir()
	file := filepath.Join(dir, "strings.c")
	testutil.WriteFile(t, file, src.String(), 0o600)
	compilers := [][]string{{cc, "-std=c99", "-trigraphs"}}
	if gxx, err := exec.LookPath("g++"); err == nil {
		compilers = append(compilers, []string{gxx, "-std=c++11", "-trigraphs", "-x", "c++"})
	}
	for _, compiler := range compilers {
		t.Run(filepath.Base(compiler[0]), func(t *testing.T) {
			bin := filepath.Join(dir, filepath.Base(compiler[0])+".out")
			args := append(compiler[1:], "-Wall", "-Wextra", "-Werror", "-o", bin, file)
			compileC(t, compiler[0], args...)
			got := runCProgram(t, bin)
			if got != want {
				t.Errorf("printed %q\nwant    %q", got, want)
			}
		})
	}
}

// testSettings returns Settings with a tricky Wi-Fi password.
func testSettings() *Settings {
	var key CommandKey
	for i := range key {
		key[i] = byte(0xa0 + i)
	}
	return &Settings{
		Device:       "relay1",
		WiFiSSID:     config.Secret{Value: `My "Home" ??/ Wi-Fi`},
		WiFiPassword: config.Secret{Value: "quote\" backslash\\ trigraph??/ newline\n end"},
		BrokerHost:   "hub.home.arpa",
		BrokerPort:   8883,
		MQTTPassword: config.Secret{Value: "mqtt-Pa55word_with-base64url"},
		CommandKey:   key,
		RelayPin:     5,
		Pulse:        400 * time.Millisecond,
		Cooldown:     10 * time.Second,
		NTPServers:   []string{"0.pool.ntp.org", "time.example.org"},
		CAHeader:     []byte("// CA header\n#define GARAGE_CA_COUNT 1\n"),
	}
}

// TestConfigHeaderCompiles renders the config header and compiles a C++
// program, as the sketch is C++, that prints every macro.
func TestConfigHeaderCompiles(t *testing.T) {
	gxx := testutil.RequireTool(t, "g++", "g++")
	s := testSettings()
	files, err := Render(s, DefaultBoard)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	dir := t.TempDir()
	header := fileData(t, files, ConfigHeaderPath)
	testutil.WriteFile(t, filepath.Join(dir, "garage_config.h"), string(header), 0o600)
	program := `#include <stdio.h>
#include "garage_config.h"
static void show(const char *name, const char *value, size_t len)
{
    printf("%s=", name);
    fwrite(value, 1, len, stdout);
    putchar('\n');
}
#define SHOW(m) show(#m, m, sizeof m - 1)
int main()
{
    static const unsigned char key[] = GARAGE_COMMAND_KEY;
    SHOW(GARAGE_DEVICE_NAME);
    SHOW(GARAGE_WIFI_SSID);
    SHOW(GARAGE_WIFI_PASSWORD);
    SHOW(GARAGE_BROKER_HOST);
    SHOW(GARAGE_MQTT_PASSWORD);
    SHOW(GARAGE_TOPIC_CMD);
    SHOW(GARAGE_TOPIC_STATE);
    SHOW(GARAGE_TOPIC_AVAIL);
    SHOW(GARAGE_NTP_SERVER_1);
    SHOW(GARAGE_NTP_SERVER_2);
    printf("ntp3=%d\n", GARAGE_NTP_SERVER_3 == nullptr);
    printf("port=%d pin=%d high=%d pulse=%u cooldown=%u\n", GARAGE_BROKER_PORT, GARAGE_RELAY_PIN,
        GARAGE_RELAY_ACTIVE_HIGH, GARAGE_PULSE_MS, GARAGE_COOLDOWN_MS);
    printf("key=");
    for (size_t i = 0; i < sizeof key; i++)
        printf("%02x", key[i]);
    printf(" %zu\n", sizeof key);
    return 0;
}
`
	testutil.WriteFile(t, filepath.Join(dir, "main.cpp"), program, 0o600)
	bin := filepath.Join(dir, "main")
	compileC(t, gxx, "-std=c++11", "-trigraphs", "-Wall", "-Wextra", "-Werror",
		"-o", bin, filepath.Join(dir, "main.cpp"))

	want := "GARAGE_DEVICE_NAME=relay1\n" +
		"GARAGE_WIFI_SSID=" + s.WiFiSSID.Value + "\n" +
		"GARAGE_WIFI_PASSWORD=" + s.WiFiPassword.Value + "\n" +
		"GARAGE_BROKER_HOST=hub.home.arpa\n" +
		"GARAGE_MQTT_PASSWORD=" + s.MQTTPassword.Value + "\n" +
		"GARAGE_TOPIC_CMD=garage/relay1/cmd\n" +
		"GARAGE_TOPIC_STATE=garage/relay1/state\n" +
		"GARAGE_TOPIC_AVAIL=garage/relay1/avail\n" +
		"GARAGE_NTP_SERVER_1=0.pool.ntp.org\n" +
		"GARAGE_NTP_SERVER_2=time.example.org\n" +
		"ntp3=1\n" +
		"port=8883 pin=5 high=1 pulse=400 cooldown=10000\n" +
		"key=" + hex.EncodeToString(s.CommandKey[:]) + " 32\n"
	if got := runCProgram(t, bin); got != want {
		t.Errorf("the header's values differ\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func fileData(t *testing.T, files []File, path string) []byte {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return f.Data
		}
	}
	t.Fatalf("no rendered file %s", path)
	return nil
}

// secretForms returns each secret of s in the forms it could leak in: as
// is, and the key in hex and as a C byte list.
func secretForms(s *Settings) map[string]string {
	return map[string]string{
		"Wi-Fi password":      s.WiFiPassword.Value,
		"MQTT password":       s.MQTTPassword.Value,
		"command key (hex)":   hex.EncodeToString(s.CommandKey[:]),
		"command key (bytes)": fmt.Sprintf("0x%02x, 0x%02x, 0x%02x", s.CommandKey[0], s.CommandKey[1], s.CommandKey[2]),
	}
}

func TestRenderSecretsOnlyInHeader(t *testing.T) {
	s := testSettings()
	s.WiFiPassword.Value = "plain-wifi-passphrase" // unescaped, so that it is found as is
	files, err := Render(s, DefaultBoard)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, f := range files {
		for name, secret := range secretForms(s) {
			found := bytes.Contains(f.Data, []byte(secret))
			if f.Path == ConfigHeaderPath && !found && name != "command key (hex)" {
				t.Errorf("%s lacks the %s", f.Path, name)
			}
			if f.Path != ConfigHeaderPath && found {
				t.Errorf("%s contains the %s", f.Path, name)
			}
		}
	}
}

func TestRenderFiles(t *testing.T) {
	files, err := Render(testSettings(), "esp8266:esp8266:nodemcuv2:xtal=160")
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want := map[string]fs.FileMode{
		".gitignore":                            0o644,
		"platformio.ini":                        0o644,
		"garage_relay/garage_relay.ino":         0o644,
		"garage_relay/garage_config.h":          0o600,
		"garage_relay/garage_ca.h":              0o644,
		"garage_relay/src/garage/garage_mqtt.c": 0o644,
		"garage_relay/src/garage/garage_tls.h":  0o644,
	}
	got := map[string]fs.FileMode{}
	for _, f := range files {
		got[f.Path] = f.Mode
	}
	for path, mode := range want {
		if got[path] != mode {
			t.Errorf("%s: mode %04o, want %04o", path, got[path], mode)
		}
	}
	if ini := string(fileData(t, files, "platformio.ini")); !strings.Contains(ini, "\nboard = nodemcuv2\n") {
		t.Errorf("platformio.ini does not select the board nodemcuv2:\n%s", ini)
	}
	if got := string(fileData(t, files, ".gitignore")); !strings.HasSuffix(got, "\n*\n") {
		t.Errorf(".gitignore = %q, want it to ignore everything", got)
	}
}

func TestRenderDeterministic(t *testing.T) {
	a, err := Render(testSettings(), DefaultBoard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(testSettings(), DefaultBoard)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("file %d differs between two renders: %s, %s", i, a[i].Path, b[i].Path)
		}
	}
}

func TestRenderInvalidBoard(t *testing.T) {
	for _, board := range []string{"", "d1_mini", "arduino:avr:uno", "esp8266:esp8266:d1 mini", "esp8266:esp8266:\n"} {
		t.Run(board, func(t *testing.T) {
			_, err := Render(testSettings(), board)
			if !errors.Is(err, ErrInvalidBoard) {
				t.Errorf("Render(%q) = %v, want ErrInvalidBoard", board, err)
			}
		})
	}
}

func TestSettingsFormatHidesSecrets(t *testing.T) {
	s := testSettings()
	s.WiFiPassword.Value = "plain-wifi-passphrase"
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		for _, value := range []any{s, *s, s.CommandKey} {
			out := fmt.Sprintf(format, value)
			for name, secret := range secretForms(s) {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T contains the %s: %s", format, value, name, out)
				}
			}
		}
	}
	// %x of a byte array would print the key without the Format method.
	if got := fmt.Sprintf("%x", s.CommandKey); got != "<secret>" {
		t.Errorf("%%x of the key = %q, want <secret>", got)
	}
}

// testRoot returns a root with a config of one device, relay1, and its
// credentials, as init writes them, but no device CA header.
func testRoot(t *testing.T) (*config.Config, hostfs.Root) {
	t.Helper()
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(pki.CAOptions{Site: "garage", DNSNames: []string{serverName}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	write := func(hostPath, data string) {
		p := root.Path(hostPath)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, p, data, 0o600)
	}
	write(layout.CACert, string(ca.CertPEM()))
	write(layout.MQTTPassword("relay1"), "generated-mqtt-password\n")
	write(layout.DeviceKey("relay1"), strings.Repeat("ab", KeySize)+"\n")

	cfg := config.Default()
	cfg.File = "garage.yaml"
	cfg.Broker.Names = []string{serverName}
	cfg.Devices = []config.Device{{
		Name: "relay1", RelayPin: 5, Pulse: config.Duration(400 * time.Millisecond),
		WiFiSSID:     config.Secret{Value: "home"},
		WiFiPassword: config.Secret{Value: "wifi-passphrase"},
	}}
	return cfg, root
}

func TestLoadSettings(t *testing.T) {
	cfg, root := testRoot(t)
	s, err := LoadSettings(cfg, root, "relay1", nil)
	if err != nil {
		t.Fatalf("LoadSettings: %v", err)
	}
	if s.MQTTPassword.Value != "generated-mqtt-password" {
		t.Errorf("MQTT password not read from its file")
	}
	if s.CommandKey[0] != 0xab || s.CommandKey[KeySize-1] != 0xab {
		t.Errorf("command key not read from its file")
	}
	if s.BrokerHost != serverName || s.BrokerPort != 8883 {
		t.Errorf("broker %s:%d, want %s:8883", s.BrokerHost, s.BrokerPort, serverName)
	}
	if s.Cooldown != config.DefaultCooldown.Std() || s.Pulse != 400*time.Millisecond {
		t.Errorf("cooldown %s and pulse %s, want %s and 400ms", s.Cooldown, s.Pulse,
			config.DefaultCooldown.Std())
	}
	if !bytes.Contains(s.CAHeader, []byte("garage_ca_pem")) {
		t.Errorf("CA header not rendered from ca.crt:\n%s", s.CAHeader)
	}

	// A device header that init wrote is used as it is.
	own := []byte("// the device's own header\n")
	p := root.Path(layout.DeviceCAHeader("relay1"))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, p, string(own), 0o644)
	if s, err = LoadSettings(cfg, root, "relay1", []string{"ntp.example.org"}); err != nil {
		t.Fatalf("LoadSettings: %v", err)
	}
	if !bytes.Equal(s.CAHeader, own) {
		t.Errorf("CA header %q, want the device's own %q", s.CAHeader, own)
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	cases := []struct {
		name    string
		device  string
		ntp     []string
		prepare func(t *testing.T, cfg *config.Config, root hostfs.Root)
		want    string
	}{
		{name: "unknown device", device: "relay9", want: `unknown device "relay9": garage.yaml lists relay1`},
		{name: "no broker name", device: "relay1", want: "broker.names is empty",
			prepare: func(t *testing.T, cfg *config.Config, _ hostfs.Root) { cfg.Broker.Names = nil }},
		{name: "four NTP servers", device: "relay1", ntp: []string{"a", "b", "c", "d"}, want: "invalid number of NTP servers 4"},
		{name: "missing password", device: "relay1", want: "run garagectl apply",
			prepare: func(t *testing.T, _ *config.Config, root hostfs.Root) {
				os.Remove(root.Path(layout.MQTTPassword("relay1")))
			}},
		{name: "long password", device: "relay1", want: "65 bytes long",
			prepare: func(t *testing.T, _ *config.Config, root hostfs.Root) {
				testutil.WriteFile(t, root.Path(layout.MQTTPassword("relay1")), strings.Repeat("p", 65)+"\n", 0o600)
			}},
		{name: "short key", device: "relay1", want: "does not contain a 32-byte key in hex",
			prepare: func(t *testing.T, _ *config.Config, root hostfs.Root) {
				testutil.WriteFile(t, root.Path(layout.DeviceKey("relay1")), "secretkeyabcdef\n", 0o600)
			}},
		{name: "two-line key", device: "relay1", want: "does not contain one secret on one line",
			prepare: func(t *testing.T, _ *config.Config, root hostfs.Root) {
				testutil.WriteFile(t, root.Path(layout.DeviceKey("relay1")), "secretkeyabcdef\nxx\n", 0o600)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, root := testRoot(t)
			if c.prepare != nil {
				c.prepare(t, cfg, root)
			}
			_, err := LoadSettings(cfg, root, c.device, c.ntp)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadSettings error %v, want one containing %q", err, c.want)
			}
			if c.name == "unknown device" && !errors.Is(err, ErrUnknownDevice) {
				t.Errorf("error %v does not wrap ErrUnknownDevice", err)
			}
			for _, secret := range []string{"secretkeyabcdef", "generated-mqtt-password", "wifi-passphrase"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestWriteProject(t *testing.T) {
	files, err := Render(testSettings(), DefaultBoard)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out", "relay1")
	if err := WriteProject(dir, files); err != nil {
		t.Fatalf("WriteProject: %v", err)
	}
	checkMode(t, dir, ModeProjectDir)
	for _, f := range files {
		checkMode(t, ProjectPath(dir, f.Path), f.Mode)
	}

	// A second run updates the project it wrote.
	if err := WriteProject(dir, files); err != nil {
		t.Fatalf("WriteProject again: %v", err)
	}

	// An empty directory is taken and made private.
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteProject(empty, files); err != nil {
		t.Fatalf("WriteProject into an empty directory: %v", err)
	}
	checkMode(t, empty, ModeProjectDir)
}

func TestWriteProjectRejectsOtherDirectory(t *testing.T) {
	files, err := Render(testSettings(), DefaultBoard)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "main.go"), "package main\n", 0o644)
	err = WriteProject(dir, files)
	if !errors.Is(err, ErrNotProject) {
		t.Fatalf("WriteProject into a source directory: %v, want ErrNotProject", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigHeaderPath)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the config header was written into the source directory")
	}

	file := filepath.Join(t.TempDir(), "file")
	testutil.WriteFile(t, file, "", 0o644)
	if err := WriteProject(file, files); !errors.Is(err, ErrNotProject) {
		t.Errorf("WriteProject onto a file: %v, want ErrNotProject", err)
	}
}

// A symbolic link planted where the config header goes must not redirect
// the secrets: the atomic writer rejects a target that is not a regular file.
func TestWriteProjectRejectsSymlinkedHeader(t *testing.T) {
	files, err := Render(testSettings(), DefaultBoard)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "project")
	if err := WriteProject(dir, files); err != nil {
		t.Fatal(err)
	}
	header := ProjectPath(dir, ConfigHeaderPath)
	elsewhere := filepath.Join(t.TempDir(), "stolen")
	os.Remove(header)
	if err := os.Symlink(elsewhere, header); err != nil {
		t.Fatal(err)
	}
	if err := WriteProject(dir, files); err == nil {
		t.Errorf("WriteProject wrote through a symbolic link")
	}
	if _, err := os.Stat(elsewhere); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the secrets reached the link's target")
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}
