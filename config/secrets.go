package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// SecretsFile is the name of the file, beside the config file, that "!secret NAME"
// values come from. It is a flat mapping of names to values and should have mode 0600.
const SecretsFile = "secrets.yaml"

// secretStore reads secrets.yaml on the first !secret and keeps its entries.
type secretStore struct {
	dir  fs.FS  // the config file's directory, nil to leave secrets.yaml unread
	path string // path of secrets.yaml, for messages

	loaded  bool
	missing bool // the file does not exist
	broken  bool // the file has errors, which are already reported
	values  map[string]string
}

// lookupSecret returns the secrets.yaml entry that the !secret node n names. It
// reports a missing file or entry at n, and problems inside secrets.yaml at their
// own position.
func (d *decoder) lookupSecret(n *yaml.Node, path string) (string, bool) {
	s := d.secrets
	if s.skipped() {
		return "", true
	}
	if !s.loaded {
		s.loaded = true
		d.loadSecrets()
	}
	switch {
	case s.broken:
		return "", false
	case s.missing:
		d.errorf(n, "%s: !secret %s: %s not found: create it beside the config "+
			"with an entry %s: VALUE and mode 0600", path, n.Value, s.path, n.Value)
		return "", false
	}
	value, ok := s.values[n.Value]
	if !ok {
		hint := "add it"
		if len(s.values) > 0 {
			hint += ", or use one of " + strings.Join(s.names(), ", ")
		}
		d.errorf(n, "%s: !secret %s: %s has no entry %s: %s",
			path, n.Value, s.path, quote(n.Value), hint)
	}
	return value, ok
}

// skipped reports whether the store leaves secrets.yaml unread, for
// LoadWithoutSecrets.
func (s *secretStore) skipped() bool { return s.dir == nil }

func (d *decoder) loadSecrets() {
	s := d.secrets
	data, err := readBoundedFS(s.dir, SecretsFile, s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.missing = true
		return
	}
	if err != nil {
		s.broken = true
		d.fatal = fmt.Errorf("read %s: %w", s.path, err)
		return
	}

	root, errs := parseYAML(s.path, data)
	s.values, errs = decodeSecrets(s.path, root, errs)
	if len(errs) > 0 {
		s.broken = true
		d.errs = append(d.errs, errs...)
	}
}

// decodeSecrets reads the flat name: value mapping of secrets.yaml. Messages name
// entries but never contain a value.
func decodeSecrets(file string, root *yaml.Node, errs []*Error) (map[string]string, []*Error) {
	values := make(map[string]string)
	if root == nil {
		return values, errs
	}
	fail := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: n.Line, Column: n.Column,
			Msg: fmt.Sprintf(format, args...)})
	}
	if root.Kind != yaml.MappingNode {
		fail(root, "expected a mapping of names to values, such as wifi_password: VALUE")
		return values, errs
	}
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := resolve(root.Content[i]), resolve(root.Content[i+1])
		switch {
		case key.Kind != yaml.ScalarNode || key.ShortTag() != "!!str":
			fail(key, "invalid entry name %s: names are plain strings", describe(key))
		case seen[key.Value] != nil:
			first := seen[key.Value]
			fail(key, "duplicate entry %s: it is already set at line %d, column %d, "+
				"remove one", quote(key.Value), first.Line, first.Column)
		case value.Kind != yaml.ScalarNode || strings.HasPrefix(value.ShortTag(), "!") &&
			!strings.HasPrefix(value.ShortTag(), "!!"):
			seen[key.Value] = key
			fail(value, "entry %s: expected a single plain value", quote(key.Value))
		case isNull(value):
			seen[key.Value] = key
			values[key.Value] = ""
		default:
			seen[key.Value] = key
			values[key.Value] = value.Value
		}
	}
	return values, errs
}

func (s *secretStore) names() []string {
	names := make([]string, 0, len(s.values))
	for name := range s.values {
		names = append(names, quote(name))
	}
	slices.Sort(names)
	return names
}

// checkSecretsMode warns when secrets.yaml, which Load has read, is readable by users
// other than its owner.
func (d *decoder) checkSecretsMode() {
	s := d.secrets
	if !s.loaded || s.missing {
		return
	}
	info, err := fs.Stat(s.dir, SecretsFile)
	if err != nil || info.Mode().Perm()&0o077 == 0 {
		return
	}
	d.warnings = append(d.warnings, Warning{File: s.path, Msg: fmt.Sprintf(
		"readable by other users (mode %04o): run chmod 600 %s", info.Mode().Perm(), s.path)})
}

// ErrBadFile is wrapped by the error for a config or secrets file that is no
// regular file or is larger than MaxFileSize.
var ErrBadFile = errors.New("unusable file")

// readBoundedFS reads name from fsys: a regular file of at most MaxFileSize
// bytes, its type checked before the open, because opening a FIFO blocks.
// Messages call the file display. A file of the wrong type or size gives an
// error that wraps ErrBadFile.
func readBoundedFS(fsys fs.FS, name, display string) ([]byte, error) {
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadFile, display)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes, too large for a config file",
			ErrBadFile, display, MaxFileSize)
	}
	return data, nil
}
