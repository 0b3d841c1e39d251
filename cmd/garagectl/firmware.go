package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/garagectl/garagectl/firmware"
)

// firmwareBuild contains the flags of firmware build.
type firmwareBuild struct {
	g          *globals
	device     string
	out        string
	board      string
	ntp        []string
	sourceOnly bool
}

func newFirmwareCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "firmware",
		Short: "Render and build the relay firmware",
	}
	cmd.AddCommand(newFirmwareBuildCommand(g))
	return cmd
}

func newFirmwareBuildCommand(g *globals) *cobra.Command {
	b := &firmwareBuild{g: g}
	cmd := &cobra.Command{
		Use:   "build --device NAME",
		Short: "Render one relay's firmware project and compile it",
		Long: `build renders the Arduino project of one relay into a private directory:
the sketch, the firmware core, garage_ca.h and garage_config.h, which contains
the Wi-Fi password, the relay's MQTT password and its command key (mode 0600).
It then compiles the project with arduino-cli or PlatformIO, whichever is on
PATH, and prints the image's path, size and SHA-256.`,
		Args: cobra.NoArgs,
		RunE: b.run,
	}
	f := cmd.Flags()
	f.StringVar(&b.device, "device", "", "`name` of the device in the config (required)")
	f.StringVar(&b.out, "out", "", "project `dir`, created with mode 0700 (default ./garage-firmware-NAME)")
	f.StringVar(&b.board, "board", firmware.DefaultBoard, "Arduino `FQBN` of the ESP8266 board")
	f.StringSliceVar(&b.ntp, "ntp-server", firmware.DefaultNTPServers,
		"NTP `host` of the relay, up to 3 (repeat or separate with commas)")
	f.BoolVar(&b.sourceOnly, "source-only", false, "render the project and do not compile it")
	return cmd
}

func (b *firmwareBuild) run(cmd *cobra.Command, _ []string) error {
	if b.device == "" {
		return usagef("--device is missing: name one of the config's devices")
	}
	out := b.out
	if out == "" {
		out = "garage-firmware-" + b.device
	}
	cfg, root, err := b.g.loadConfigAndRoot(cmd)
	if err != nil {
		return err
	}

	settings, err := firmware.LoadSettings(cfg, root, b.device, b.ntp)
	if errors.Is(err, firmware.ErrUnknownDevice) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	files, err := firmware.Render(settings, b.board)
	if errors.Is(err, firmware.ErrInvalidBoard) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if b.g.dryRun {
		return b.printFiles(cmd.OutOrStdout(), out, files)
	}
	if err := firmware.WriteProject(out, files); err != nil {
		if errors.Is(err, firmware.ErrNotProject) {
			return usageError{err}
		}
		return err
	}
	b.g.infof(cmd.ErrOrStderr(), "rendered the firmware project of %s in %s", b.device, out)
	if b.sourceOnly {
		return b.printResult(cmd.OutOrStdout(), out, nil)
	}
	return b.compile(cmd, out)
}

func (b *firmwareBuild) compile(cmd *cobra.Command, dir string) error {
	tc, err := firmware.FindToolchain(exec.LookPath)
	if err != nil {
		return withHint(err, "or run again with --source-only and compile "+
			filepath.Join(dir, firmware.SketchName)+" yourself")
	}
	b.g.infof(cmd.ErrOrStderr(), "compiling with %s for %s", tc.Path, b.board)
	toolOutput := cmd.ErrOrStderr()
	if b.g.quiet {
		toolOutput = io.Discard
	}
	img, err := firmware.Compile(cmd.Context(), tc, dir, b.board, toolOutput)
	if err != nil && tc.Name == "arduino-cli" {
		return withHint(err, "install the ESP8266 core: arduino-cli core install esp8266:esp8266 "+
			"--additional-urls https://arduino.esp8266.com/stable/package_esp8266com_index.json")
	}
	if err != nil {
		return err
	}
	return b.printResult(cmd.OutOrStdout(), dir, img)
}

// firmwareResult is the output of firmware build in --output json.
type firmwareResult struct {
	Project string `json:"project"`
	Image   string `json:"image,omitempty"`
	Size    int64  `json:"size,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

func (b *firmwareBuild) printResult(w io.Writer, dir string, img *firmware.Image) error {
	r := firmwareResult{Project: dir}
	if img != nil {
		r.Image, r.Size, r.SHA256 = img.Path, img.Size, hex.EncodeToString(img.SHA256[:])
	}
	if b.g.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if img == nil {
		_, err := fmt.Fprintf(w, "project: %s\n", r.Project)
		return err
	}
	_, err := fmt.Fprintf(w, "project: %s\nimage: %s\nsize: %d bytes\nsha256: %s\n",
		r.Project, r.Image, r.Size, r.SHA256)
	return err
}

// printFiles prints what a --dry-run would write, one file a line.
func (b *firmwareBuild) printFiles(w io.Writer, dir string, files []firmware.File) error {
	for _, f := range files {
		if _, err := fmt.Fprintf(w, "write %s %04o\n", firmware.ProjectPath(dir, f.Path), f.Mode); err != nil {
			return err
		}
	}
	return nil
}
