package firmware

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// HostCFlags are the flags of the host build of the relay: C99 with every
// warning an error, optimised.
var HostCFlags = []string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"}

// BuildHostRelay compiles the host build of the relay (firmware/host with
// the core) into the program out with the C compiler cc. It links BearSSL,
// which the Debian package libbearssl-dev provides. The sources come from
// [Sources], so it works from any directory. The compiler's output is part
// of the error.
func BuildHostRelay(ctx context.Context, cc, out string) error {
	dir, err := os.MkdirTemp("", "garage-relay-host-")
	if err != nil {
		return fmt.Errorf("build host relay: %w", err)
	}
	defer os.RemoveAll(dir)

	var sources []string
	for _, pattern := range []string{"core/*", "host/*"} {
		names, err := fs.Glob(Sources, pattern)
		if err != nil {
			return err
		}
		for _, name := range names {
			data, err := fs.ReadFile(Sources, name)
			if err != nil {
				return err
			}
			target := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return fmt.Errorf("build host relay: %w", err)
			}
			if err := os.WriteFile(target, data, 0o600); err != nil {
				return fmt.Errorf("build host relay: %w", err)
			}
			if path.Ext(name) == ".c" {
				sources = append(sources, target)
			}
		}
	}

	args := append(append([]string{}, HostCFlags...), "-o", out)
	args = append(append(args, sources...), "-lbearssl")
	if output, err := exec.CommandContext(ctx, cc, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("build host relay with %s: %w\n%s", cc, err, strings.TrimSpace(string(output)))
	}
	return nil
}
