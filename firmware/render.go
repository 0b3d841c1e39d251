package firmware

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"

	"github.com/garagectl/garagectl/templates"
)

// Sources contains the firmware core, the Arduino sketch and the host build.
// The config header's template is templates.FirmwareConfig.
//
//go:embed core/*.c core/*.h host/*.c host/*.h sketch/garage_relay/garage_relay.ino
var Sources embed.FS

// SketchName is the Arduino sketch's name: its directory in a rendered
// project and the base name of its .ino file.
const SketchName = "garage_relay"

// Paths of the rendered files inside a project directory.
const (
	ConfigHeaderPath = SketchName + "/garage_config.h"
	CAHeaderPath     = SketchName + "/garage_ca.h"
	inoPath          = SketchName + "/" + SketchName + ".ino"
	// coreDir is under the sketch's src/, which arduino-cli compiles recursively.
	coreDir       = SketchName + "/src/garage"
	gitignorePath = ".gitignore"
	platformIOINI = "platformio.ini"
)

// File modes of rendered files. The config header contains the Wi-Fi
// password, the MQTT password and the command key, which open the door.
const (
	ModeSecretFile fs.FileMode = 0o600
	ModePublicFile fs.FileMode = 0o644
)

// gitignore keeps the whole project, secrets included, out of version control.
// WriteProject also reads it as the mark of a directory it may overwrite.
const gitignore = "# Written by garagectl firmware build. This directory contains secrets.\n*\n"

// File is one rendered file of a project.
type File struct {
	Path string // slash-separated, relative to the project directory
	Data []byte
	Mode fs.FileMode
}

// headerData is the data of garage_config.h.tmpl.
type headerData struct {
	Device, WiFiSSID, WiFiPassword   string
	BrokerHost                       string
	BrokerPort                       uint16
	MQTTPassword                     string
	TopicCmd, TopicState, TopicAvail string
	NTPServers                       [maxNTPServers]string
	RelayPin                         int
	PulseMS, CooldownMS              int64
	CommandKey                       []byte
}

// Render returns the files of the Arduino project for s: the sketch, the
// firmware core under the sketch's src/garage, garage_config.h (mode
// [ModeSecretFile]), garage_ca.h, a platformio.ini for board, an Arduino
// FQBN such as [DefaultBoard], and a .gitignore of "*". The same arguments
// give the same bytes.
func Render(s *Settings, board string) ([]File, error) {
	boardName, err := boardID(board)
	if err != nil {
		return nil, err
	}
	header, err := renderConfigHeader(s)
	if err != nil {
		return nil, err
	}
	ino, err := fs.ReadFile(Sources, "sketch/"+inoPath)
	if err != nil {
		return nil, err
	}
	files := []File{
		{Path: gitignorePath, Data: []byte(gitignore), Mode: ModePublicFile},
		{Path: platformIOINI, Data: []byte(platformIO(s.Device, boardName)), Mode: ModePublicFile},
		{Path: inoPath, Data: ino, Mode: ModePublicFile},
		{Path: ConfigHeaderPath, Data: header, Mode: ModeSecretFile},
		{Path: CAHeaderPath, Data: s.CAHeader, Mode: ModePublicFile},
	}
	core, err := fs.ReadDir(Sources, "core")
	if err != nil {
		return nil, err
	}
	for _, e := range core {
		data, err := fs.ReadFile(Sources, "core/"+e.Name())
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: path.Join(coreDir, e.Name()), Data: data, Mode: ModePublicFile})
	}
	return files, nil
}

// configHeaderMacros are the macros the sketch needs. renderConfigHeader
// checks that each has exactly one #define line.
var configHeaderMacros = []string{
	"GARAGE_DEVICE_NAME", "GARAGE_WIFI_SSID", "GARAGE_WIFI_PASSWORD", "GARAGE_BROKER_HOST",
	"GARAGE_BROKER_PORT", "GARAGE_MQTT_PASSWORD", "GARAGE_TOPIC_CMD", "GARAGE_TOPIC_STATE",
	"GARAGE_TOPIC_AVAIL", "GARAGE_NTP_SERVER_1", "GARAGE_NTP_SERVER_2", "GARAGE_NTP_SERVER_3",
	"GARAGE_RELAY_PIN", "GARAGE_RELAY_ACTIVE_HIGH", "GARAGE_PULSE_MS", "GARAGE_COOLDOWN_MS",
	"GARAGE_COMMAND_KEY",
}

func renderConfigHeader(s *Settings) ([]byte, error) {
	text := templates.FirmwareConfig
	// The template gets no function that reads files or the environment.
	tmpl, err := template.New("garage_config.h").Option("missingkey=error").
		Funcs(template.FuncMap{"cstring": CString, "cbytes": cBytes}).Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("parse config header template: %w", err)
	}
	data := headerData{
		Device:       s.Device,
		WiFiSSID:     s.WiFiSSID.Value,
		WiFiPassword: s.WiFiPassword.Value,
		BrokerHost:   s.BrokerHost,
		BrokerPort:   s.BrokerPort,
		MQTTPassword: s.MQTTPassword.Value,
		TopicCmd:     Topic(s.Device, "cmd"),
		TopicState:   Topic(s.Device, "state"),
		TopicAvail:   Topic(s.Device, "avail"),
		RelayPin:     s.RelayPin,
		PulseMS:      s.Pulse.Milliseconds(),
		CooldownMS:   s.Cooldown.Milliseconds(),
		CommandKey:   s.CommandKey[:],
	}
	copy(data.NTPServers[:], s.NTPServers)

	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		// The error names the template field, never its value.
		return nil, fmt.Errorf("render config header: %w", err)
	}
	if err := checkConfigHeader(b.String()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// checkConfigHeader checks that every macro the sketch uses is defined once.
// A value that broke out of its string literal would show up here as a
// missing or extra definition.
func checkConfigHeader(header string) error {
	counts := map[string]int{}
	for _, line := range strings.Split(header, "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "#define" {
			counts[fields[1]]++
		}
	}
	for _, name := range configHeaderMacros {
		if counts[name] != 1 {
			return fmt.Errorf("render config header: %s is defined %d times, expected once", name, counts[name])
		}
	}
	return nil
}

// Topic returns the MQTT topic garage/<device>/<kind> of the broker's ACL.
func Topic(device, kind string) string {
	return "garage/" + device + "/" + kind
}

// CString returns s as a C string literal that compiles to the same bytes
// in C89 and later and in C++. Printable ASCII passes unchanged, except that
// '"', '\' and '?' get a backslash. Every other byte becomes a three-digit
// octal escape. The
// escaped '?' keeps "??/" and other trigraphs from forming in compilers
// that still replace them, and a three-digit octal escape cannot take a
// following digit into itself the way a hex escape would.
func CString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '?':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cBytes returns data as a C initialiser list, eight bytes per line, with
// a backslash at each line end so that it can stand in a macro.
func cBytes(data []byte) string {
	var b strings.Builder
	for i, c := range data {
		if i%8 == 0 {
			b.WriteString("\\\n    ")
		}
		fmt.Fprintf(&b, "0x%02x", c)
		if i < len(data)-1 {
			b.WriteString(", ")
		}
	}
	return b.String()
}

// platformIO returns the platformio.ini of the project, whose one
// environment "relay" builds the sketch for board, a PlatformIO board ID.
func platformIO(device, board string) string {
	return "; Written by garagectl firmware build for " + device + ".\n" +
		"[platformio]\nsrc_dir = " + SketchName + "\ndefault_envs = " + platformIOEnv + "\n\n" +
		"[env:" + platformIOEnv + "]\nplatform = espressif8266\nframework = arduino\n" +
		"board = " + board + "\n" +
		"; The relay logs at 115200 baud.\nmonitor_speed = 115200\n"
}
