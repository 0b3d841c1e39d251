package users

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
)

// Account names. Each daemon runs as its own user so that a compromise of one
// cannot read the other's secrets.
const (
	Broker = "mosq"      // mosquitto
	Gate   = "mitmproxy" // garage-gate, named after the proxy it replaces
)

// NoLogin is the shell of every account garagectl creates.
const NoLogin = "/usr/sbin/nologin"

// Spec is a system user with a group of the same name.
type Spec struct {
	Name        string
	Description string
}

// Accounts returns the accounts of the hub.
func Accounts() []Spec {
	return []Spec{
		{Name: Broker, Description: "garagectl MQTT broker"},
		{Name: Gate, Description: "garagectl gate"},
	}
}

// Changes returns one account change per spec.
func Changes(specs []Spec) []change.Change {
	out := make([]change.Change, 0, len(specs))
	for _, s := range specs {
		out = append(out, change.Change{
			Kind:  change.Account,
			Path:  s.Name,
			Check: s.check,
			Do:    s.create,
		})
	}
	return out
}

// check reports Create for a missing user, and Unchanged for an existing one.
// An existing account is left alone, but a login shell or a missing group is
// listed so that the plan shows it.
func (s Spec) check(_ context.Context, root hostfs.Root) (change.Action, []string, error) {
	u, err := root.LookupUser(s.Name)
	if errors.Is(err, hostfs.ErrNoAccount) {
		return change.Create, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return change.Unchanged, Findings(root, u), nil
}

// Findings lists what is wrong with an existing account: a login shell, or no
// group of its own.
func Findings(root hostfs.Root, u hostfs.User) []string {
	var out []string
	if HasLoginShell(u.Shell) {
		out = append(out, fmt.Sprintf("user %s has login shell %s: run usermod -s %s %s",
			u.Name, u.Shell, NoLogin, u.Name))
	}
	if _, err := root.LookupGroup(u.Name); err != nil {
		out = append(out, fmt.Sprintf("user %s has no group of the same name", u.Name))
	}
	return out
}

// HasLoginShell reports whether shell lets the user log in.
func HasLoginShell(shell string) bool {
	switch shell {
	case "/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false":
		return false
	}
	return shell != ""
}

// create runs systemd-sysusers for the spec. sysusers picks a free system UID,
// makes the group, locks the password and sets the home to /nonexistent.
func (s Spec) create(ctx context.Context, root hostfs.Root) error {
	if err := os.MkdirAll(root.Path("/etc"), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", root.Path("/etc"), err)
	}
	line := fmt.Sprintf("u %s - %q /nonexistent %s", s.Name, s.Description, NoLogin)
	cmd := exec.CommandContext(ctx, "systemd-sysusers", "--root="+root.Dir(), "--inline", line)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemd-sysusers for %s: %w: %s", s.Name, err,
			strings.TrimSpace(string(out)))
	}
	return nil
}
