package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/testutil"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"garagectl": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata. Each one works in its own
// directory and passes --root, so nothing outside it changes.
func TestScripts(t *testing.T) {
	testutil.RequireTool(t, "systemd-sysusers", "systemd")
	testutil.RequireTool(t, "openssl", "openssl")
	testutil.RequireRoot(t, "init hands files to the mosq group inside the scratch root")
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"perm":     cmdPerm,
			"snapshot": cmdSnapshot,
		},
	})
}

// cmdPerm checks a file's owner, group and mode, resolving the names through
// the root's own /etc/passwd and /etc/group:
//
//	perm ROOT PATH OWNER:GROUP MODE
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: perm ROOT PATH OWNER:GROUP MODE")
	}
	root, err := hostfs.NewRoot(ts.MkAbs(args[0]))
	ts.Check(err)
	owner, group, _ := strings.Cut(args[2], ":")
	wantUID, wantGID, err := root.Owner(owner, group)
	ts.Check(err)
	wantMode, err := strconv.ParseUint(args[3], 8, 32)
	ts.Check(err)

	fi, err := os.Lstat(root.Path(args[1]))
	ts.Check(err)
	uid, gid := hostfs.OwnerOf(fi)
	ok := uid == wantUID && gid == wantGID && fi.Mode().Perm() == fs.FileMode(wantMode)
	if ok == neg {
		ts.Fatalf("%s: %d:%d %04o, want %s (%d:%d) %s", args[1], uid, gid,
			fi.Mode().Perm(), args[2], wantUID, wantGID, args[3])
	}
}

// cmdSnapshot prints every path under DIR with its mode, size, mtime and a
// hash of its content, so that a script can compare two snapshots with cmp:
//
//	snapshot DIR
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: snapshot DIR")
	}
	dir := ts.MkAbs(args[0])
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d %d", strings.TrimPrefix(p, dir), fi.Mode(), fi.Size(),
			fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:8])
		}
		lines = append(lines, line)
		return nil
	})
	if os.IsNotExist(err) {
		lines, err = []string{"(missing)"}, nil
	}
	ts.Check(err)
	sort.Strings(lines)
	fmt.Fprint(ts.Stdout(), strings.Join(lines, "\n")+"\n")
}
