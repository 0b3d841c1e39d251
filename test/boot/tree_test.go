package boot

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/testutil"
)

// The base tree: Debian 12 with systemd as init and the programs the
// provisioned units run. Changing any of these makes a new cache key.
const (
	debianSuite   = "bookworm"
	debianVariant = "minbase"
)

var treePackages = []string{
	"systemd", "systemd-sysv", "dbus", "nftables", "iproute2", "mosquitto", "openssh-server", "procps",
}

// aptSourcesDir holds this machine's deb822 apt sources, which name the
// Debian mirror that debootstrap downloads from.
const aptSourcesDir = "/etc/apt/sources.list.d"

// treeBuildTimeout bounds debootstrap, which installs 145 packages. It took
// 41 s to 58 s on a 2-core VM with a fast link to deb.debian.org.
const treeBuildTimeout = 10 * time.Minute

// baseTree is the cached tree, built at most once per test binary.
var baseTree struct {
	once  sync.Once
	dir   string
	built bool          // debootstrap ran in this test binary
	took  time.Duration // how long debootstrap ran, when built
	err   error
}

// debianTree returns the base tree, building it on first use. Each test boots
// a copy, so the tree itself never changes after the build.
func debianTree(t *testing.T) string {
	t.Helper()
	debootstrap := testutil.RequireTool(t, "debootstrap", "debootstrap")
	baseTree.once.Do(func() {
		mirror, err := debianMirror(aptSourcesDir, debianSuite)
		if err != nil {
			baseTree.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), treeBuildTimeout)
		defer cancel()
		start := time.Now()
		baseTree.dir, baseTree.built, baseTree.err = buildTree(ctx, debootstrap, treeCacheDir(), mirror)
		baseTree.took = time.Since(start)
	})
	if baseTree.err != nil {
		t.Fatalf("build the Debian tree: %v", baseTree.err)
	}
	if baseTree.built {
		t.Logf("built the Debian %s tree in %s: %s", debianSuite, baseTree.took.Round(time.Second), baseTree.dir)
	} else {
		t.Logf("reused the cached Debian %s tree %s", debianSuite, baseTree.dir)
	}
	return baseTree.dir
}

// treeCacheDir returns the directory that keeps built trees across test runs:
// $XDG_CACHE_HOME/garagectl-boot when that is set, else garagectl-boot-cache
// in os.TempDir. It is never inside the repository.
func treeCacheDir() string {
	if dir := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "garagectl-boot")
	}
	return filepath.Join(os.TempDir(), "garagectl-boot-cache")
}

// treeKey names a tree by a hash of what debootstrap installs, so a changed
// package list builds a new tree instead of reusing a stale one. The mirror is
// left out, because every mirror of the suite serves the same packages.
// NOTE: a cached tree keeps the package versions of the day it was built;
// delete the cache directory to pick up Debian updates.
func treeKey() string {
	packages := slices.Sorted(slices.Values(treePackages))
	h := sha256.Sum256([]byte(strings.Join([]string{
		debianSuite, debianVariant, runtime.GOARCH, strings.Join(packages, ","),
	}, "\n")))
	return debianSuite + "-" + debianVariant + "-" + hex.EncodeToString(h[:8])
}

// buildTree returns the tree for treeKey in cacheDir, and runs debootstrap
// first when the cache has none. A lock file serializes concurrent test runs.
// The tree is built in a scratch directory and renamed into place, so a
// directory named by the key is always complete.
func buildTree(ctx context.Context, debootstrap, cacheDir, mirror string) (tree string, built bool, err error) {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return "", false, fmt.Errorf("create tree cache: %w", err)
	}
	key := treeKey()
	final := filepath.Join(cacheDir, key)
	unlock, err := lockFile(ctx, final+".lock")
	if err != nil {
		return "", false, err
	}
	defer unlock()

	tree = filepath.Join(final, "tree")
	if _, err := os.Stat(filepath.Join(tree, "usr/lib/systemd/systemd")); err == nil {
		return tree, false, nil
	}

	// NOTE: a build killed before the rename leaves its scratch directory
	// behind; the next build does not reuse it.
	work, err := os.MkdirTemp(cacheDir, key+".build-")
	if err != nil {
		return "", false, fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(work)

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, debootstrap, "--variant="+debianVariant,
		"--include="+strings.Join(treePackages, ","), debianSuite, filepath.Join(work, "tree"), mirror)
	cmd.Stdout, cmd.Stderr = &out, &out
	// debootstrap runs dpkg and maintainer scripts as its children: stop the
	// whole process group when the build times out.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(work, "tree/debootstrap/debootstrap.log"))
		return "", false, fmt.Errorf("debootstrap from %s: %w\n%s\n%s", mirror, err, lastLines(out.String(), 30),
			lastLines(string(log), 30))
	}
	if err := os.Rename(work, final); err != nil {
		return "", false, fmt.Errorf("move the built tree into the cache: %w", err)
	}
	return tree, true, nil
}

// lockFile takes an exclusive flock on path, waiting until ctx ends, and
// returns the function that releases it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another test run holds it: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// debianMirror returns the first URI of the first enabled deb822 stanza in
// dir/*.sources that serves suite with the main component, which is the
// Debian mirror that apt on this machine already uses.
func debianMirror(dir, suite string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sources"))
	if err != nil {
		return "", err
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read apt sources: %w", err)
		}
		for _, stanza := range parseDeb822(data) {
			if strings.EqualFold(stanza["enabled"], "no") {
				continue
			}
			if hasField(stanza["types"], "deb") && hasField(stanza["suites"], suite) &&
				hasField(stanza["components"], "main") && stanza["uris"] != "" {
				return strings.Fields(stanza["uris"])[0], nil
			}
		}
	}
	return "", fmt.Errorf("no apt source in %s/*.sources serves %s main: "+
		"add the Debian mirror there, as Debian 12 does in debian.sources", dir, suite)
}

// parseDeb822 splits deb822 data into stanzas of lowercased field names and
// values, with continuation lines joined by spaces and comments dropped.
func parseDeb822(data []byte) []map[string]string {
	var stanzas []map[string]string
	current := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(current) > 0 {
				stanzas = append(stanzas, current)
				current, last = map[string]string{}, ""
			}
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				current[last] += " " + strings.TrimSpace(line)
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if ok {
				last = strings.ToLower(strings.TrimSpace(name))
				current[last] = strings.TrimSpace(value)
			}
		}
	}
	if len(current) > 0 {
		stanzas = append(stanzas, current)
	}
	return stanzas
}

// hasField reports whether the whitespace-separated list contains word.
func hasField(list, word string) bool {
	return slices.Contains(strings.Fields(list), word)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkTreeCacheOutsideRepo fails the test when the cache directory lies in
// the module, where go test and git would see hundreds of megabytes.
func checkTreeCacheOutsideRepo(t *testing.T) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	moduleRoot, err := filepath.Abs(filepath.Join(wd, "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(moduleRoot, treeCacheDir())
	if err == nil && !strings.HasPrefix(rel, "..") {
		t.Fatalf("the tree cache %s is inside the repository %s: set XDG_CACHE_HOME or TMPDIR elsewhere",
			treeCacheDir(), moduleRoot)
	}
}
