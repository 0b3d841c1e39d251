package testutil

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

// RequireFile fails under CI=true and skips elsewhere unless path exists, and
// names the Debian package that installs it. Any error other than a missing
// file fails the test.
func RequireFile(t testing.TB, path, debianPackage string) {
	t.Helper()
	_, err := os.Stat(path)
	if err == nil {
		return
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("check %s: %v", path, err)
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: install the Debian package %s", path, debianPackage)
	}
	t.Skipf("%s not found: install the Debian package %s to run this test", path, debianPackage)
}

// WriteFile writes data to path with mode and fails the test on an error.
func WriteFile(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}
