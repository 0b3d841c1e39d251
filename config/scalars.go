package config

import (
	"fmt"
	"net/netip"
	"slices"

	"gopkg.in/yaml.v3"
)

// scalar decodes n into ptr when ptr is one of the scalar types of the schema, and
// reports whether it was one.
func (d *decoder) scalar(n *yaml.Node, ptr any, path string) bool {
	switch p := ptr.(type) {
	case *string:
		d.decodeString(n, p, path)
	case *KeyType:
		var s string
		d.decodeString(n, &s, path)
		*p = KeyType(s)
	case *bool:
		d.decodeBool(n, p, path)
	case *int:
		d.decodeInt(n, p, path)
	case *uint16:
		d.decodePort(n, p, path)
	case *Duration:
		d.decodeDuration(n, p, path)
	case *Secret:
		d.decodeSecret(n, p, path)
	case *netip.Addr:
		d.decodeAddr(n, p, path)
	case *netip.Prefix:
		d.decodePrefix(n, p, path)
	case *netip.AddrPort:
		d.decodeAddrPort(n, p, path)
	default:
		return false
	}
	return true
}

// text returns the value of a scalar node whose tag is one of tags. Otherwise it
// reports that the field expects want.
func (d *decoder) text(n *yaml.Node, path, want string, tags ...string) (string, bool) {
	if n.Kind == yaml.ScalarNode && slices.Contains(tags, n.ShortTag()) {
		return n.Value, true
	}
	d.errorf(n, "%s: expected %s, got %s", path, want, describe(n))
	return "", false
}

// decodeString takes a string scalar. YAML reads 1.2, 22 or true unquoted as a number
// or a boolean, so the error for those suggests quoting the value.
func (d *decoder) decodeString(n *yaml.Node, p *string, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		*p = n.Value
		return
	}
	hint := ""
	if n.Kind == yaml.ScalarNode {
		hint = fmt.Sprintf(": put it in quotes, as in \"%s\"", shorten(n.Value))
	}
	d.errorf(n, "%s: expected a string, got %s%s", path, describe(n), hint)
}

// decodeBool takes true or false. YAML 1.2 has no yes, no, on or off, so those are
// strings and rejected.
func (d *decoder) decodeBool(n *yaml.Node, p *bool, path string) {
	if _, ok := d.text(n, path, "true or false", "!!bool"); !ok {
		return
	}
	if err := n.Decode(p); err != nil {
		d.errorf(n, "%s: expected true or false, got %s", path, describe(n))
	}
}

func (d *decoder) decodeInt(n *yaml.Node, p *int, path string) {
	if _, ok := d.text(n, path, "a whole number", "!!int"); !ok {
		return
	}
	if err := n.Decode(p); err != nil {
		d.errorf(n, "%s: number %s is out of range", path, shorten(n.Value))
	}
}

func (d *decoder) decodePort(n *yaml.Node, p *uint16, path string) {
	if _, ok := d.text(n, path, "a port number", "!!int"); !ok {
		return
	}
	var port int64
	if err := n.Decode(&port); err != nil || port < 1 || port > 65535 {
		d.errorf(n, "%s: invalid port %s: use a number from 1 to 65535", path, shorten(n.Value))
		return
	}
	*p = uint16(port)
}

func (d *decoder) decodeDuration(n *yaml.Node, p *Duration, path string) {
	s, ok := d.text(n, path, "a duration such as 10s or 397d", "!!str", "!!int")
	if !ok {
		return
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.errorf(n, "%s: invalid duration %s: use a number with a unit, "+
			"such as 400ms, 10s, 2h or 397d", path, quote(s))
		return
	}
	*p = dur
}

func (d *decoder) decodeAddr(n *yaml.Node, p *netip.Addr, path string) {
	s, ok := d.text(n, path, "an IP address", "!!str")
	if !ok {
		return
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		d.errorf(n, "%s: invalid IP address %s: write it like 192.168.1.10 or fd00::10",
			path, quote(s))
		return
	}
	*p = addr.Unmap()
}

func (d *decoder) decodePrefix(n *yaml.Node, p *netip.Prefix, path string) {
	s, ok := d.text(n, path, "a CIDR such as 192.168.1.0/24", "!!str")
	if !ok {
		return
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		d.errorf(n, "%s: invalid CIDR %s: write an address and a prefix length, "+
			"such as 192.168.1.0/24, or 192.168.1.5/32 for one host", path, quote(s))
		return
	}
	if prefix != prefix.Masked() {
		d.errorf(n, "%s: CIDR %s has host bits set: write %s", path, quote(s), prefix.Masked())
		return
	}
	*p = prefix
}

func (d *decoder) decodeAddrPort(n *yaml.Node, p *netip.AddrPort, path string) {
	s, ok := d.text(n, path, "an address and port such as 0.0.0.0:1080", "!!str")
	if !ok {
		return
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		d.errorf(n, "%s: invalid listen address %s: write IP:PORT, "+
			"such as 0.0.0.0:1080 or [::]:1080", path, quote(s))
		return
	}
	if ap.Port() == 0 {
		d.errorf(n, "%s: invalid port 0 in %s: use a port from 1 to 65535", path, quote(s))
		return
	}
	*p = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// decodeSecret takes an inline value or looks up "!secret NAME" in secrets.yaml.
// Its messages never contain the value.
func (d *decoder) decodeSecret(n *yaml.Node, p *Secret, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: expected a string or !secret NAME, got %s", path, describe(n))
		return
	}
	if n.ShortTag() != secretTag {
		*p = Secret{Value: n.Value}
		return
	}
	if n.Value == "" {
		d.errorf(n, "%s: !secret needs the name of an entry in %s", path, SecretsFile)
		return
	}
	value, ok := d.lookupSecret(n, path)
	if ok {
		*p = Secret{Value: value, Ref: n.Value}
	}
}
