package testutil

import (
	"context"
	"fmt"
	"os/exec"
)

// GoBuild runs go build -o out pkg with the go command on PATH. pkg is an
// import path or a directory relative to the working directory. The error
// contains the compiler's output.
func GoBuild(ctx context.Context, out, pkg string) error {
	output, err := exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, output)
	}
	return nil
}
