package hostfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// ErrNoAccount is returned when a user or group is not in the root's database.
var ErrNoAccount = errors.New("no such account")

// User is one line of an /etc/passwd file.
type User struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string
}

// LookupUser finds name in the root's /etc/passwd. The user root is UID 0
// on every Linux system, so it is found even in a tree with no passwd file yet.
func (r Root) LookupUser(name string) (User, error) {
	var found User
	err := r.scanDB("/etc/passwd", 7, func(f []string) bool {
		if f[0] != name {
			return false
		}
		found = User{Name: f[0], Home: f[5], Shell: f[6]}
		found.UID, _ = strconv.Atoi(f[2])
		found.GID, _ = strconv.Atoi(f[3])
		return true
	})
	if errors.Is(err, ErrNoAccount) && name == "root" {
		return User{Name: "root", Home: "/root", Shell: "/bin/sh"}, nil
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user %s: %w", name, err)
	}
	return found, nil
}

// LookupGroup returns the GID of name from the root's /etc/group.
func (r Root) LookupGroup(name string) (int, error) {
	gid := -1
	err := r.scanDB("/etc/group", 4, func(f []string) bool {
		if f[0] != name {
			return false
		}
		gid, _ = strconv.Atoi(f[2])
		return true
	})
	if errors.Is(err, ErrNoAccount) && name == "root" {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up group %s: %w", name, err)
	}
	return gid, nil
}

// Owner resolves a user and group name to numeric IDs in the root.
func (r Root) Owner(user, group string) (uid, gid int, err error) {
	u, err := r.LookupUser(user)
	if err != nil {
		return 0, 0, err
	}
	gid, err = r.LookupGroup(group)
	if err != nil {
		return 0, 0, err
	}
	return u.UID, gid, nil
}

// scanDB calls match on the colon-separated fields of each line of the
// database at host path db until it returns true. It returns ErrNoAccount when
// no line matched or the database does not exist yet.
func (r Root) scanDB(db string, fields int, match func([]string) bool) error {
	data, err := ReadFile(r.Path(db))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNoAccount
	}
	if err != nil {
		return err
	}

	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < fields {
			continue
		}
		if match(parts) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return ErrNoAccount
}
