package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
)

// namePattern is the form of site, device and phone names. The names become MQTT
// topics, broker account names and file names, so they stay short, lowercase and free
// of "/", "+", "#" and ".".
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

const nameRule = "use 1 to 31 lowercase letters, digits and hyphens, starting with a letter, " +
	"because the name becomes an MQTT topic, an account name and a file name"

// validate checks the values of a decoded config against each other and against the
// limits of the broker, the certificates and the ESP8266. It lowercases host names.
func (d *decoder) validate(c *Config) {
	if !namePattern.MatchString(c.Site) {
		d.errorf(d.node(&c.Site), "site: invalid name %s: %s", quote(c.Site), nameRule)
	}
	d.validateBroker(c)
	d.validateNetwork(c)
	d.validatePKI(c)
	d.validateGate(c)
	d.validateDevices(c)
}

func (d *decoder) validateBroker(c *Config) {
	b := &c.Broker
	if len(b.Names) == 0 {
		d.errorf(d.node(&b.Names, b), "broker.names is empty: list the DNS names that "+
			"clients use to reach the broker, such as [hub.home.arpa], because the relays "+
			"connect by name")
	}
	for i := range b.Names {
		b.Names[i] = strings.ToLower(b.Names[i])
		d.checkHostname(b.Names[i], "broker.names", &b.Names[i],
			"list it under broker.addresses instead")
	}
	d.checkUnique("broker.names", "name", b.Names, func(i int) any { return &b.Names[i] })

	addrs := make([]string, len(b.Addresses))
	for i, a := range b.Addresses {
		addrs[i] = a.String()
		if a.IsUnspecified() || a.IsMulticast() {
			d.errorf(d.node(&b.Addresses[i]), "broker.addresses: %s is not an address "+
				"that clients can connect to: use the host's LAN address", a)
		}
	}
	d.checkUnique("broker.addresses", "address", addrs,
		func(i int) any { return &b.Addresses[i] })

	if b.TLSMinVersion != "1.2" && b.TLSMinVersion != "1.3" {
		d.errorf(d.node(&b.TLSMinVersion), "broker.tls_min_version: invalid version %s: "+
			"use \"1.2\" or \"1.3\"", quote(b.TLSMinVersion))
	}
	if b.MaxConnections < 1 {
		d.errorf(d.node(&b.MaxConnections), "broker.max_connections: %d is too low: "+
			"use at least 1, such as %d", b.MaxConnections, DefaultMaxConnections)
	}
}

// checkHostname checks one DNS host name. ipHint is the advice for an IP address.
func (d *decoder) checkHostname(name, key string, ptr any, ipHint string) {
	if _, err := netip.ParseAddr(name); err == nil {
		d.errorf(d.node(ptr), "%s: %s is an IP address, not a host name: %s", key, name, ipHint)
		return
	}
	if !isHostname(name) {
		d.errorf(d.node(ptr), "%s: invalid host name %s: use labels of letters, digits and "+
			"hyphens separated by dots, such as hub.home.arpa", key, quote(name))
	}
}

// isHostname reports whether s is a lowercase DNS host name (RFC 1123) without a
// trailing dot or wildcard.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// checkUnique reports each value of a list that repeats an earlier one, at the repeat.
func (d *decoder) checkUnique(key, kind string, values []string, ptr func(int) any) {
	seen := make(map[string]int)
	for i, v := range values {
		j, dup := seen[v]
		if !dup {
			seen[v] = i
			continue
		}
		first := d.node(ptr(j))
		d.errorf(d.node(ptr(i)), "%s: duplicate %s %s: it is already listed at line %d, "+
			"column %d, remove one", key, kind, quote(v), first.Line, first.Column)
	}
}

func (d *decoder) validateNetwork(c *Config) {
	ports := []struct {
		key  string
		port uint16
		ptr  any
	}{
		{"network.ssh_port", c.Network.SSHPort, &c.Network.SSHPort},
		{"broker.port", c.Broker.Port, &c.Broker.Port},
		{"gate.listen", c.Gate.Listen.Port(), &c.Gate.Listen},
	}
	for i := range ports {
		for j := range i {
			if ports[i].port != ports[j].port {
				continue
			}
			d.errorf(d.node(ports[i].ptr, ports[j].ptr), "%s and %s both use port %d: "+
				"give each service its own port", ports[j].key, ports[i].key, ports[i].port)
		}
	}

	d.warnOpenSources("network.mqtt_from", c.Network.MQTTFrom)
	d.warnOpenSources("network.gate_from", c.Network.GateFrom)
}

// warnOpenSources warns about a source list that admits the whole internet.
func (d *decoder) warnOpenSources(key string, list []netip.Prefix) {
	for i, p := range list {
		if p.Bits() == 0 {
			d.warnf(d.node(&list[i]), "%s: %s admits every source, including internet "+
				"scanners: list your own networks, such as 192.168.1.0/24", key, p)
		}
	}
}

func (d *decoder) validatePKI(c *Config) {
	p := &c.PKI
	switch p.KeyType {
	case RSA2048, RSA3072:
	case ECDSAP256:
		if len(c.Devices) > 0 {
			d.warnf(d.node(&p.KeyType), "pki.key_type: ecdsa-p256 makes each TLS handshake "+
				"of the ESP8266 take seconds: rsa-2048 verifies far faster with BearSSL")
		}
	default:
		d.errorf(d.node(&p.KeyType), "pki.key_type: invalid key type %s: use rsa-2048, "+
			"rsa-3072 or ecdsa-p256", quote(string(p.KeyType)))
	}

	server := p.ServerValidity.Std()
	if server <= 0 || server > MaxServerValidity {
		d.errorf(d.node(&p.ServerValidity), "pki.server_validity: %s is out of range: "+
			"use more than 0 and at most 397d, which stays under the 398-day limit of "+
			"browsers and testssl.sh", p.ServerValidity)
	}
	if p.CAValidity.Std() <= server {
		d.errorf(d.node(&p.CAValidity, &p.ServerValidity), "pki.ca_validity: %s is not "+
			"longer than pki.server_validity %s: the CA must outlive the certificates it "+
			"signs, so use more, such as 3650d", p.CAValidity, p.ServerValidity)
	}
	d.checkOfflineDir(p)
}

// checkOfflineDir keeps the CA key directory off the host's system disk.
func (d *decoder) checkOfflineDir(p *PKI) {
	n := d.node(&p.OfflineDir)
	if !filepath.IsAbs(p.OfflineDir) {
		d.errorf(n, "pki.offline_dir: %s is not an absolute path: use the mount point "+
			"of removable storage, such as %s", quote(p.OfflineDir), DefaultOfflineDir)
		return
	}
	p.OfflineDir = filepath.Clean(p.OfflineDir)
	for _, system := range []string{"/etc", "/var/lib"} {
		if p.OfflineDir == "/" || isUnder(p.OfflineDir, system) {
			d.errorf(n, "pki.offline_dir: %s is on the host's system disk: use removable "+
				"storage, such as %s, because a CA key under /etc or /var/lib lands in "+
				"backups and images, and anyone who gains root on the hub could sign "+
				"certificates with it", p.OfflineDir, DefaultOfflineDir)
			return
		}
	}
	for _, removable := range []string{"/media", "/mnt", "/run/media"} {
		if isUnder(p.OfflineDir, removable) {
			return
		}
	}
	d.warnf(n, "pki.offline_dir: %s is not under /media, /mnt or /run/media: make sure "+
		"it is removable storage that you unplug after init and cert rotate", p.OfflineDir)
}

// isUnder reports whether the clean absolute path is dir or inside it.
func isUnder(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

func (d *decoder) validateGate(c *Config) {
	g := &c.Gate
	g.Hostname = strings.ToLower(g.Hostname)
	d.checkHostname(g.Hostname, "gate.hostname", &g.Hostname,
		"the phone opens the gate by a virtual host name, such as "+DefaultGateHostname)

	if g.Cooldown.Std() < MinCooldown {
		d.errorf(d.node(&g.Cooldown), "gate.cooldown: %s is too short: use at least %s, "+
			"so that one set of phone credentials cannot toggle the door repeatedly",
			g.Cooldown, Duration(MinCooldown))
	}

	d.validateGateLimits(g)
	if g.AllowNoAuth {
		d.warnf(d.node(&g.AllowNoAuth), "gate.allow_no_auth: the SOCKS5 port accepts clients "+
			"without a password: they reach only the gate's page and must sign in with a "+
			"phone's token to trigger, but network.gate_from is then the only filter on "+
			"who may try")
	}

	names := make([]string, len(g.Phones))
	for i, p := range g.Phones {
		names[i] = p.Name
		d.checkName(fmt.Sprintf("gate.phones[%d]", i), "phone", p.Name,
			&g.Phones[i].Name, &g.Phones[i])
	}
	d.checkUnique("gate.phones", "phone name", names,
		func(i int) any { return &g.Phones[i].Name })
	if len(g.Phones) == 0 {
		d.warnf(d.node(&g.Phones, g), "gate.phones is empty: the gate rejects every "+
			"request until you add a phone")
	}
}

// validateGateLimits checks the connection caps and the lockout of the SOCKS5 port.
func (d *decoder) validateGateLimits(g *Gate) {
	if g.MaxConnections < 1 {
		d.errorf(d.node(&g.MaxConnections), "gate.max_connections: %d is too low: use at "+
			"least 1, such as %d", g.MaxConnections, DefaultGateMaxConnections)
	}
	perSource := g.MaxConnectionsPerSource
	if perSource < 1 || g.MaxConnections >= 1 && perSource > g.MaxConnections {
		n := d.node(&g.MaxConnectionsPerSource, &g.MaxConnections)
		d.errorf(n, "gate.max_connections_per_source: "+
			"%d is out of range: use 1 to gate.max_connections (%d), such as %d",
			g.MaxConnectionsPerSource, g.MaxConnections, DefaultGateMaxConnectionsPerSource)
	}
	if g.LockoutFailures < 1 {
		d.errorf(d.node(&g.LockoutFailures), "gate.lockout_failures: %d is too low: use at "+
			"least 1, such as %d", g.LockoutFailures, DefaultLockoutFailures)
	}
	if g.LockoutBase.Std() <= 0 {
		d.errorf(d.node(&g.LockoutBase), "gate.lockout_base: %s is too short: use more "+
			"than 0, such as %s", g.LockoutBase, DefaultLockoutBase)
	}
	if g.LockoutMax.Std() < g.LockoutBase.Std() {
		d.errorf(d.node(&g.LockoutMax, &g.LockoutBase), "gate.lockout_max: %s is shorter "+
			"than gate.lockout_base %s: use at least as much, such as %s",
			g.LockoutMax, g.LockoutBase, DefaultLockoutMax)
	}
}

// checkName checks the name of a phone or device. parent locates a missing name.
func (d *decoder) checkName(key, kind, name string, ptr, parent any) {
	if !d.isSet(ptr) {
		d.errorf(d.node(parent), "%s: the %s has no name: add one, such as name: %s1",
			key, kind, kind)
		return
	}
	if !namePattern.MatchString(name) {
		d.errorf(d.node(ptr), "%s.name: invalid %s name %s: %s",
			key, kind, quote(name), nameRule)
	}
}
