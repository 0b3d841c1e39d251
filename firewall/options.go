package firewall

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Defaults that Options fills in for zero fields.
const (
	DefaultSSHPort    = 22
	DefaultBrokerPort = 8883
	DefaultGatePort   = 1080

	// DefaultMaxConnections caps connections to the broker port from all sources
	// together. The firewall enforces it before a flood reaches the broker's file
	// descriptors and memory, whatever mosquitto's own max_connections lets in.
	DefaultMaxConnections = 32

	// DefaultBlockTimeout is how long a source that exceeded its rate of new
	// connections stays blocked. With the default limits, a password-guessing or
	// connection-flood script gets about 20 to 30 attempts per ten minutes.
	DefaultBlockTimeout = 10 * time.Minute

	// DefaultPingRate is the number of ICMP and ICMPv6 echo requests per second the
	// host replies to, so that ping works but a flood of requests gets few replies.
	DefaultPingRate = 5
)

// DefaultBrokerLimits are the per-source limits on the broker port. A relay
// holds one connection, and 20 new connections a minute leave room for a
// reconnect loop that waits 3 s or more between attempts. 8 concurrent
// connections leave room for a few clients behind one address.
var DefaultBrokerLimits = Limits{Rate: 20, Per: time.Minute, Concurrent: 8}

// DefaultGateLimits are the per-source limits on the gate's SOCKS5 port. Each
// HTTP connection of the phone's browser is one SOCKS5 connection, and browsers
// open up to six per host (an estimate from Chrome's and Firefox's defaults), so
// the gate allows more than the broker.
var DefaultGateLimits = Limits{Rate: 30, Per: time.Minute, Concurrent: 16}

// Options describes the ruleset of table inet garagectl. Zero fields take the
// Default… values.
type Options struct {
	// SSHPort is the TCP port of sshd.
	SSHPort uint16 `json:"ssh_port"`
	// SSHFrom lists the sources that may open SSH connections. Empty means
	// every source, so that a fresh host never locks its owner out.
	SSHFrom []netip.Prefix `json:"ssh_from"`

	// BrokerPort is the TCP port of mosquitto's TLS listener.
	BrokerPort uint16 `json:"broker_port"`
	// MQTTFrom lists the sources that may reach BrokerPort. Empty means no
	// source, because a port that no source was allowed to reach must stay shut.
	MQTTFrom []netip.Prefix `json:"mqtt_from"`
	// MaxConnections caps concurrent broker connections from all sources.
	MaxConnections int `json:"max_connections"`
	// Broker limits new and concurrent connections per source to BrokerPort.
	Broker Limits `json:"broker"`

	// GatePort is the TCP port of the gate's SOCKS5 listener.
	GatePort uint16 `json:"gate_port"`
	// GateFrom lists the sources that may reach GatePort. Empty means no source.
	GateFrom []netip.Prefix `json:"gate_from"`
	// Gate limits new and concurrent connections per source to GatePort.
	Gate Limits `json:"gate"`

	// BlockTimeout is how long a source that exceeded Broker.Rate or Gate.Rate
	// stays blocked from that port. It must be a whole number of seconds.
	BlockTimeout time.Duration `json:"block_timeout"`
	// PingRate is the number of echo requests per second the host replies to,
	// for ICMP and ICMPv6 each and from all sources together.
	PingRate int `json:"ping_rate"`
}

// Limits are the per-source limits on one port. A source address may open Rate
// new connections at once and then Rate per Per. The next new connection puts
// the address in the port's blocked set for Options.BlockTimeout. An address may
// keep at most Concurrent connections open at a time. Zero fields take the
// port's defaults.
type Limits struct {
	Rate int `json:"rate"`
	// Per is time.Second, time.Minute, time.Hour or 24*time.Hour, the units of
	// an nftables limit statement.
	Per        time.Duration `json:"per"`
	Concurrent int           `json:"concurrent"`
}

// ErrInvalidOptions reports Options that Show, Apply and Restore reject. The
// wrapping error names the field and the value to write instead.
var ErrInvalidOptions = errors.New("invalid firewall options")

// normalize returns a copy of o with the defaults filled in and every prefix
// list sorted, or an error wrapping ErrInvalidOptions that names the first
// invalid field.
func (o Options) normalize() (Options, error) {
	n, err := o.withDefaults()
	if err == nil {
		err = n.validate()
	}
	if err != nil {
		return Options{}, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return n, nil
}

// withDefaults fills in the defaults and normalizes the prefix lists.
func (o Options) withDefaults() (Options, error) {
	n := o
	n.SSHPort = orDefault(n.SSHPort, DefaultSSHPort)
	n.BrokerPort = orDefault(n.BrokerPort, DefaultBrokerPort)
	n.GatePort = orDefault(n.GatePort, DefaultGatePort)
	n.MaxConnections = orDefault(n.MaxConnections, DefaultMaxConnections)
	n.BlockTimeout = orDefault(n.BlockTimeout, DefaultBlockTimeout)
	n.PingRate = orDefault(n.PingRate, DefaultPingRate)
	n.Broker = n.Broker.withDefaults(DefaultBrokerLimits)
	n.Gate = n.Gate.withDefaults(DefaultGateLimits)

	var err error
	if n.SSHFrom, err = normalizePrefixes("SSHFrom", o.SSHFrom); err != nil {
		return Options{}, err
	}
	if n.MQTTFrom, err = normalizePrefixes("MQTTFrom", o.MQTTFrom); err != nil {
		return Options{}, err
	}
	if n.GateFrom, err = normalizePrefixes("GateFrom", o.GateFrom); err != nil {
		return Options{}, err
	}
	return n, nil
}

func (o Options) validate() error {
	if o.SSHPort == o.BrokerPort || o.SSHPort == o.GatePort || o.BrokerPort == o.GatePort {
		return fmt.Errorf("SSHPort %d, BrokerPort %d and GatePort %d must differ",
			o.SSHPort, o.BrokerPort, o.GatePort)
	}
	if err := checkCount("MaxConnections", o.MaxConnections); err != nil {
		return err
	}
	if err := checkCount("PingRate", o.PingRate); err != nil {
		return err
	}
	if o.BlockTimeout < time.Second || o.BlockTimeout%time.Second != 0 {
		return fmt.Errorf("BlockTimeout %v: use a whole number of seconds, at least 1s",
			o.BlockTimeout)
	}
	if err := o.Broker.validate("Broker"); err != nil {
		return err
	}
	return o.Gate.validate("Gate")
}

func (l Limits) withDefaults(d Limits) Limits {
	l.Rate = orDefault(l.Rate, d.Rate)
	l.Per = orDefault(l.Per, d.Per)
	l.Concurrent = orDefault(l.Concurrent, d.Concurrent)
	return l
}

func (l Limits) validate(field string) error {
	if err := checkCount(field+".Rate", l.Rate); err != nil {
		return err
	}
	if err := checkCount(field+".Concurrent", l.Concurrent); err != nil {
		return err
	}
	if _, ok := limitUnits[l.Per]; !ok {
		return fmt.Errorf("%s.Per %v: use 1s, 1m0s, 1h0m0s or 24h0m0s", field, l.Per)
	}
	return nil
}

// checkCount accepts what fits the 32-bit counts of the nftables limit and
// connlimit expressions.
func checkCount(field string, v int) error {
	if v < 1 || int64(v) > math.MaxUint32 {
		return fmt.Errorf("%s %d: use a number from 1 to %d", field, v, uint32(math.MaxUint32))
	}
	return nil
}

// normalizePrefixes sorts prefixes and drops duplicates and prefixes inside
// others, because the kernel rejects overlapping intervals in one set.
func normalizePrefixes(field string, prefixes []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if err := checkPrefix(p); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefixes)

	outer := out[:0]
	for _, p := range out {
		if len(outer) > 0 && covers(outer[len(outer)-1], p) {
			continue
		}
		outer = append(outer, p)
	}
	if len(outer) == 0 {
		return nil, nil
	}
	return outer, nil
}

// checkPrefix rejects prefixes whose meaning is unclear: host bits set (a typo
// for a single address would open the whole network) and IPv4-mapped IPv6
// addresses, which never appear as the source of an IPv6 packet.
func checkPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("prefix %v is not valid", p)
	}
	if p.Addr().Is4In6() {
		return fmt.Errorf("prefix %v is IPv4-mapped: write it as an IPv4 prefix", p)
	}
	if m := p.Masked(); m != p {
		return fmt.Errorf("prefix %v has host bits set: write %v, or %v/%d for one address",
			p, m, p.Addr(), p.Addr().BitLen())
	}
	return nil
}

// comparePrefixes orders IPv4 before IPv6, then by address, then shorter
// prefixes first, so that a prefix comes right before the prefixes it contains.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func covers(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}
