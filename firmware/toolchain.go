package firmware

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultBoard is the Arduino FQBN of the Wemos D1 mini. Its pin D1 is
// GPIO5, the relay pin of the example config.
const DefaultBoard = "esp8266:esp8266:d1_mini"

// platformIOEnv is the environment of the rendered platformio.ini.
const platformIOEnv = "relay"

// ErrInvalidBoard is returned for a board that is not an ESP8266 FQBN.
var ErrInvalidBoard = errors.New("invalid board")

// ErrNoToolchain is returned by [FindToolchain] when neither arduino-cli
// nor PlatformIO is on PATH.
var ErrNoToolchain = errors.New("no firmware toolchain found: install arduino-cli " +
	"(https://arduino.github.io/arduino-cli/) with the ESP8266 core esp8266:esp8266, " +
	"or PlatformIO (pio)")

// Toolchain is a program that compiles the project.
type Toolchain struct {
	Name string // "arduino-cli" or "pio"
	Path string
}

// Image is a compiled firmware image.
type Image struct {
	Path   string
	Size   int64
	SHA256 [sha256.Size]byte
}

var boardPart = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// boardID checks that fqbn is an Arduino FQBN of the ESP8266 core,
// vendor:esp8266:board with optional :options, and returns its board part.
// PlatformIO's IDs of ESP8266 boards match it for the common boards, such
// as d1_mini and nodemcuv2.
func boardID(fqbn string) (string, error) {
	parts := strings.SplitN(fqbn, ":", 4)
	if len(parts) < 3 || parts[1] != "esp8266" {
		return "", fmt.Errorf("%w %q: use an ESP8266 FQBN such as %s", ErrInvalidBoard, fqbn, DefaultBoard)
	}
	for _, p := range parts[:3] {
		if !boardPart.MatchString(p) {
			return "", fmt.Errorf("%w %q: use an ESP8266 FQBN such as %s", ErrInvalidBoard, fqbn,
				DefaultBoard)
		}
	}
	return parts[2], nil
}

// FindToolchain looks for arduino-cli, then pio, then platformio with
// lookPath, which is usually exec.LookPath. It returns [ErrNoToolchain]
// when none is found.
func FindToolchain(lookPath func(string) (string, error)) (Toolchain, error) {
	for _, name := range []string{"arduino-cli", "pio", "platformio"} {
		if p, err := lookPath(name); err == nil {
			if name == "platformio" {
				name = "pio"
			}
			return Toolchain{Name: name, Path: p}, nil
		}
	}
	return Toolchain{}, ErrNoToolchain
}

// Compile builds the project in dir for board, an ESP8266 FQBN, and returns
// the image. The toolchain's output goes to output. The command line contains
// only paths and the board, because the secrets stay in the config header.
func Compile(ctx context.Context, tc Toolchain, dir, board string, output io.Writer) (*Image, error) {
	if _, err := boardID(board); err != nil {
		return nil, err
	}
	var args []string
	var image string
	switch tc.Name {
	case "arduino-cli":
		build := filepath.Join(dir, "build")
		args = []string{"compile", "--fqbn", board, "--output-dir", build, filepath.Join(dir, SketchName)}
		image = filepath.Join(build, SketchName+".ino.bin")
	case "pio":
		args = []string{"run", "--project-dir", dir, "--environment", platformIOEnv}
		image = filepath.Join(dir, ".pio", "build", platformIOEnv, "firmware.bin")
	default:
		return nil, fmt.Errorf("unknown toolchain %q: use arduino-cli or pio", tc.Name)
	}

	cmd := exec.CommandContext(ctx, tc.Path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s failed: %w", tc.Name, args[0], err)
	}
	return readImage(image)
}

func readImage(path string) (*Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read firmware image: %w", err)
	}
	return &Image{Path: path, Size: int64(len(data)), SHA256: sha256.Sum256(data)}, nil
}
