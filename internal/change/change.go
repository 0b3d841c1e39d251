package change

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/garagectl/garagectl/internal/hostfs"
)

// Kind is the sort of host object a Change acts on.
type Kind string

// Kinds of change.
const (
	File    Kind = "file"
	Dir     Kind = "dir"
	Account Kind = "account"
	// Ruleset is the running kernel's firewall table.
	Ruleset Kind = "ruleset"
)

// Action is the operation Apply performs for a Change.
type Action string

// Actions, as printed by plan.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
)

// Change is the desired state of one file, directory or account on the host.
type Change struct {
	Kind Kind
	// Path is the host path of a file or directory (mapped under --root on
	// apply), or the name of an account.
	Path    string
	Content []byte
	Owner   string
	Group   string
	Mode    fs.FileMode
	// Secret marks content that must never be printed.
	Secret bool

	// Check and Do implement the changes that are not files or directories:
	// accounts, links and the firewall table. File and directory changes
	// leave them nil.
	Check func(ctx context.Context, root hostfs.Root) (Action, []string, error)
	Do    func(ctx context.Context, root hostfs.Root) error
}

// Planned is a Change with the action that Apply would take and why.
type Planned struct {
	Change
	Action Action
	// Reasons lists what differs for an Update, such as "content" or
	// "mode 0644, want 0640".
	Reasons []string
}

// String formats p as one plan line; it never contains secret content.
func (p Planned) String() string {
	s := fmt.Sprintf("%-9s %-7s %s", p.Action, p.Kind, p.Path)
	switch {
	case p.Kind == Symlink && len(p.Content) > 0:
		s += " -> " + string(p.Content)
	case p.Kind == File || p.Kind == Dir:
		s += fmt.Sprintf(" %s:%s %04o", p.Owner, p.Group, p.Mode.Perm())
	}
	for i, r := range p.Reasons {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		s += sep + r
	}
	if len(p.Reasons) > 0 {
		s += ")"
	}
	return s
}

// Changed reports whether any planned change would alter the host.
func Changed(plan []Planned) bool {
	for _, p := range plan {
		if p.Action != Unchanged {
			return true
		}
	}
	return false
}
