package units

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/layout"
)

// Default programs that the units start.
const (
	DefaultMosquitto  = "/usr/sbin/mosquitto" // Debian's mosquitto package
	DefaultGateBinary = "/usr/local/bin/garage-gate"
	DefaultGaragectl  = "/usr/local/bin/garagectl"
)

// Options are the values that vary between hubs. [DefaultOptions] fills every
// field except the source lists, phones and devices, and [NewOptions] takes
// all of them from a loaded config.
type Options struct {
	// Site names the hub in the units' descriptions.
	Site string
	// ConfigFile is the host path of garage.yaml, which the gate and the
	// firewall unit read. secrets.yaml lies beside it.
	ConfigFile string

	// Mosquitto, GateBinary and Garagectl are absolute paths of the programs
	// the units start.
	Mosquitto  string
	GateBinary string
	Garagectl  string

	// BrokerPort is the TCP port of the broker's TLS listener.
	BrokerPort uint16
	// GateListen is the address and port of the gate's SOCKS5 listener.
	GateListen netip.AddrPort

	// MQTTFrom and GateFrom are the sources allowed to reach the broker and
	// the gate (network.mqtt_from and network.gate_from). The units add
	// localhost. An empty list leaves the unit without an IP address filter,
	// so the firewall alone decides who may connect.
	MQTTFrom []netip.Prefix
	GateFrom []netip.Prefix

	// Phones and Devices name the phones and relays whose credentials the
	// gate loads.
	Phones  []string
	Devices []string
}

// DefaultOptions returns the options of a hub with the default config and no
// phones, devices or source lists.
func DefaultOptions() Options {
	return Options{
		Site:       config.DefaultSite,
		ConfigFile: layout.ConfigFile,
		Mosquitto:  DefaultMosquitto,
		GateBinary: DefaultGateBinary,
		Garagectl:  DefaultGaragectl,
		BrokerPort: config.DefaultBrokerPort,
		GateListen: netip.MustParseAddrPort(config.DefaultGateListen),
	}
}

// NewOptions returns the options for cfg, with the default programs and the
// config at its host path [layout.ConfigFile].
func NewOptions(cfg *config.Config) Options {
	o := DefaultOptions()
	o.Site = cfg.Site
	o.BrokerPort = cfg.Broker.Port
	o.GateListen = cfg.Gate.Listen
	o.MQTTFrom = cfg.Network.MQTTFrom
	o.GateFrom = cfg.Network.GateFrom
	for _, p := range cfg.Gate.Phones {
		o.Phones = append(o.Phones, p.Name)
	}
	for _, d := range cfg.Devices {
		o.Devices = append(o.Devices, d.Name)
	}
	return o
}

// secretsFile returns the host path of secrets.yaml beside the config.
func (o Options) secretsFile() string {
	return path.Join(path.Dir(o.ConfigFile), config.SecretsFile)
}

// unitPath matches the paths that can go into a unit unquoted: no whitespace,
// quotes, backslashes or "%", which starts a systemd specifier.
var unitPath = regexp.MustCompile(`^/[A-Za-z0-9._+@/-]*$`)

// unitName matches phone and device names, which become credential names.
var unitName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// check rejects options that would make an invalid or ambiguous unit.
func (o Options) check() error {
	if !unitName.MatchString(o.Site) {
		return fmt.Errorf("invalid site name %q: use letters, digits, '-' and '_'", o.Site)
	}
	paths := []struct{ what, path string }{
		{"config file", o.ConfigFile},
		{"mosquitto program", o.Mosquitto},
		{"gate program", o.GateBinary},
		{"garagectl program", o.Garagectl},
	}
	for _, p := range paths {
		if !unitPath.MatchString(p.path) || path.Clean(p.path) != p.path {
			return fmt.Errorf("invalid %s path %q: use a clean absolute path of "+
				"letters, digits and . _ + @ / -", p.what, p.path)
		}
	}
	if o.BrokerPort == 0 || !o.GateListen.IsValid() || o.GateListen.Port() == 0 {
		return fmt.Errorf("invalid ports: broker %d, gate %s: set both", o.BrokerPort, o.GateListen)
	}
	if err := checkPrefixes("broker", o.MQTTFrom); err != nil {
		return err
	}
	if err := checkPrefixes("gate", o.GateFrom); err != nil {
		return err
	}
	if err := checkNames("phone", o.Phones); err != nil {
		return err
	}
	return checkNames("device", o.Devices)
}

func checkPrefixes(service string, prefixes []netip.Prefix) error {
	for _, p := range prefixes {
		if !p.IsValid() {
			return fmt.Errorf("invalid %s source prefix %s", service, p)
		}
	}
	return nil
}

// checkNames rejects names that are invalid or repeated, because each one
// becomes a credential name and systemd rejects a unit that loads one twice.
func checkNames(kind string, names []string) error {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !unitName.MatchString(n) {
			return fmt.Errorf("invalid %s name %q: use letters, digits, '-' and '_'", kind, n)
		}
		if seen[n] {
			return fmt.Errorf("duplicate %s name %q", kind, n)
		}
		seen[n] = true
	}
	return nil
}
