package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the config file at path, and secrets.yaml beside it when a value is
// tagged !secret, fills in the defaults and checks every value.
//
// When the file is missing or unreadable, the error wraps the fs error, so
// errors.Is(err, fs.ErrNotExist) works. When the config or secrets.yaml is invalid, the
// error is one *[Error] or several joined with [errors.Join], sorted by position, and
// errors.As(err, new(*Error)) is true. Settings that are valid but likely a mistake go
// to [Config.Warnings].
func Load(path string) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, os.DirFS(filepath.Dir(path)))
}

// LoadWithoutSecrets is Load for a program that needs no secret, such as
// garage-gate, whose sandbox hides secrets.yaml. It never reads secrets.yaml: a
// value tagged !secret gets its Ref and an empty Value, and the checks of such
// values are skipped. Inline secret values are checked as Load checks them.
func LoadWithoutSecrets(path string) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, nil)
}

// MaxFileSize bounds the config file and secrets.yaml. Real ones are a few
// kilobytes; the bound keeps a wrong path such as /dev/zero from filling memory.
const MaxFileSize = 1 << 20

func readConfig(path string) ([]byte, error) {
	data, err := readBounded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read config: %w: write a commented example with "+
			"\"garagectl config example > %s\"", err, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return data, nil
}

// parse decodes and checks the config file contents. dir is the file's directory, where
// secrets.yaml is looked up, or nil to leave secrets.yaml unread.
func parse(file string, data []byte, dir fs.FS) (*Config, error) {
	c := Default()
	c.File = file
	d := newDecoder(file, dir, c.SecretsPath())

	root, errs := parseYAML(file, data)
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	if root != nil {
		d.root = root
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	if d.fatal != nil {
		return nil, d.fatal
	}
	// Checks of whole values would repeat or misplace the errors of values that failed
	// to decode, so they run only on a config that decoded cleanly.
	if len(d.errs) > 0 {
		return nil, joinErrors(d.errs)
	}

	d.validate(c)
	if len(d.errs) > 0 {
		return nil, joinErrors(d.errs)
	}
	d.checkSecretsMode()
	c.Warnings = d.warnings
	return c, nil
}

// parseYAML parses data, which must hold at most one YAML document, into a node tree.
// It returns a nil node for an empty document.
func parseYAML(file string, data []byte) (*yaml.Node, []*Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, []*Error{syntaxError(file, err)}
	}

	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, []*Error{syntaxError(file, err)}
	default:
		return nil, []*Error{{File: file, Line: next.Line, Column: next.Column,
			Msg: "a second YAML document starts here: keep one document per file"}}
	}

	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into an *Error.
//
// NOTE: yaml.v3 reports only a line for syntax errors, so Column stays 0, and for some
// errors the line is where the enclosing block starts rather than the bad token.
func syntaxError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// SecretsPath returns the path of secrets.yaml, which is beside the config file.
func (c *Config) SecretsPath() string {
	return filepath.Join(filepath.Dir(c.File), SecretsFile)
}

// Device returns the device with the given name.
func (c *Config) Device(name string) (*Device, bool) {
	i := slices.IndexFunc(c.Devices, func(d Device) bool { return d.Name == name })
	if i < 0 {
		return nil, false
	}
	return &c.Devices[i], true
}

// readBounded reads a regular file of at most MaxFileSize bytes.
func readBounded(path string) ([]byte, error) {
	data, err := readBoundedFS(os.DirFS(filepath.Dir(path)), filepath.Base(path), path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = path // name the file as the user gave it
	}
	return data, err
}
