package config

import (
	"fmt"
	"io/fs"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// secretTag marks a value that comes from secrets.yaml: "wifi_ssid: !secret wifi_ssid".
const secretTag = "!secret"

// decoder walks a YAML node tree into a Config. It reports each problem with the
// position of its node and goes on, so that one run lists every problem it can find.
type decoder struct {
	file    string
	root    *yaml.Node
	secrets *secretStore

	// nodes maps the address of each decoded field (a *string, *[]Device, *Broker and so
	// on) to its value node, so that later checks can report positions.
	nodes map[any]*yaml.Node

	errs     []*Error
	warnings []Warning

	// fatal is an I/O error reading secrets.yaml. It is not a problem of the config,
	// so Load returns it alone.
	fatal error
}

func newDecoder(file string, dir fs.FS, secretsPath string) *decoder {
	return &decoder{
		file:    file,
		root:    &yaml.Node{Kind: yaml.MappingNode, Line: 1, Column: 1},
		secrets: &secretStore{dir: dir, path: secretsPath},
		nodes:   make(map[any]*yaml.Node),
	}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{
		File: d.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...),
	})
}

func (d *decoder) warnf(n *yaml.Node, format string, args ...any) {
	d.warnings = append(d.warnings, Warning{
		File: d.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...),
	})
}

// node returns the value node of the first field in ptrs that the file sets, or the
// top-level mapping when it sets none of them. Pass a field and then its parents.
func (d *decoder) node(ptrs ...any) *yaml.Node {
	for _, p := range ptrs {
		if n, ok := d.nodes[p]; ok {
			return n
		}
	}
	return d.root
}

// isSet reports whether the file gives the field a value other than null.
func (d *decoder) isSet(ptr any) bool {
	_, ok := d.nodes[ptr]
	return ok
}

// decode stores the value of n into v, which must be addressable. A null value keeps
// the default that v already holds.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	ptr := v.Addr().Interface()
	d.nodes[ptr] = n
	if !d.checkTag(n, ptr, path) {
		return
	}
	if d.scalar(n, ptr, path) {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

// checkTag rejects tags other than YAML's standard ones and !secret on a Secret field.
func (d *decoder) checkTag(n *yaml.Node, ptr any, path string) bool {
	tag := n.ShortTag()
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return true
	}
	if _, isSecret := ptr.(*Secret); isSecret && tag == secretTag {
		return true
	}
	if tag == secretTag {
		d.errorf(n, "%s: !secret is allowed only for wifi_ssid and wifi_password: "+
			"write the value itself", path)
		return false
	}
	d.errorf(n, "%s: unknown tag %s: remove it", path, tag)
	return false
}

// mapping decodes a YAML mapping into the struct v, whose fields carry yaml tags.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping of keys, got %s", orTop(path), describe(n))
		return
	}
	names, index := yamlFields(v.Type())
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := resolve(n.Content[i]), n.Content[i+1]
		if !d.checkKey(key, seen, path) {
			continue
		}
		field, ok := index[key.Value]
		if !ok {
			d.errorf(key, "unknown key %s %s: valid keys are %s",
				quote(key.Value), inPath(path), strings.Join(names, ", "))
			continue
		}
		d.decode(value, v.Field(field), joinPath(path, key.Value))
	}
}

// checkKey rejects keys that are not plain strings, merge keys and duplicate keys.
func (d *decoder) checkKey(key *yaml.Node, seen map[string]*yaml.Node, path string) bool {
	if key.ShortTag() == "!!merge" {
		d.errorf(key, "merge keys (<<) are not supported %s: write the keys out", inPath(path))
		return false
	}
	if key.Kind != yaml.ScalarNode || key.ShortTag() != "!!str" {
		d.errorf(key, "invalid key %s %s: keys are plain names", describe(key), inPath(path))
		return false
	}
	if first, dup := seen[key.Value]; dup {
		d.errorf(key, "duplicate key %s %s: it is already set at line %d, column %d, "+
			"remove one", quote(key.Value), inPath(path), first.Line, first.Column)
		return false
	}
	seen[key.Value] = key
	return true
}

// sequence decodes a YAML list into the slice v.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf(": write [%s] for a list of one", n.Value)
		}
		d.errorf(n, "%s: expected a list, got %s%s", path, describe(n), hint)
		return
	}

	// The slice gets its final length first, so the element addresses kept in d.nodes
	// stay valid.
	list := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		elem := list.Index(i)
		if e, ok := elem.Addr().Interface().(interface{ setDefaults() }); ok {
			e.setDefaults()
		}
		itemPath := fmt.Sprintf("%s[%d]", path, i)
		if isNull(resolve(item)) {
			d.errorf(item, "%s: empty list entry: remove it or give it a value", itemPath)
			continue
		}
		d.decode(item, elem, itemPath)
	}
	v.Set(list)
}

// yamlFields returns the YAML keys of a struct type in declaration order and the
// field index of each key. Fields tagged yaml:"-" are left out.
func yamlFields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := make(map[string]int)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// resolve follows an alias (*name) to the node that its anchor (&name) marks.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a YAML value for a "got ..." message. Callers never pass the node of
// a secret, because describe quotes scalars.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return "the string " + quote(n.Value)
	case "!!int", "!!float":
		return "the number " + shorten(n.Value)
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "nothing"
	default:
		return "a value tagged " + tag
	}
}

// quote quotes a value from the file for a message, cut to a readable length.
func quote(s string) string { return strconv.Quote(shorten(s)) }

func shorten(s string) string {
	const max = 64
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func inPath(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}
