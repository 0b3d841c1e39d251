package firewall

import (
	"net/netip"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// TableName is the name of the one table garagectl owns, in the inet family.
// Apply, Restore and Remove never touch another table.
const TableName = "garagectl"

// Names of the chains that hold the per-port rules.
const (
	brokerChain = "broker"
	gateChain   = "gate"
)

// dynamicSetSize bounds each dynamic set. The kernel adds nothing to a full
// set and the rule then does not match, so a new source would escape its
// limits. The size is far above the number of hosts in a home network.
const dynamicSetSize = 65535

// ruleset is the expected content of table inet garagectl, in the order Apply
// creates it and Show prints it.
type ruleset struct {
	table    *nftables.Table
	counters []string
	sets     []*setSpec // named sets
	chains   []*nftables.Chain
	rules    []*ruleSpec
	lastID   uint32
}

// setSpec is a set with its initial elements. prefixes holds the elements of
// an address interval set, for Show.
type setSpec struct {
	set      *nftables.Set
	elems    []nftables.SetElement
	prefixes []netip.Prefix
}

// icmpType is an ICMP or ICMPv6 message type with its nft name.
type icmpType struct {
	name  string
	value byte
}

// ICMP types accepted without a rate limit: the errors that path MTU discovery
// and failing connections depend on. Replies to the host's own traffic are
// accepted as related anyway; these also cover errors conntrack cannot match.
var icmpAccepted = []icmpType{
	{"destination-unreachable", 3}, {"time-exceeded", 11}, {"parameter-problem", 12},
}

// ICMPv6 types accepted without a rate limit: the errors above, plus neighbour
// discovery, which IPv6 address resolution and autoconfiguration need, and
// multicast listener queries, without which snooping switches stop forwarding
// neighbour solicitations to the host.
var icmpv6Accepted = []icmpType{
	{"destination-unreachable", 1}, {"packet-too-big", 2}, {"time-exceeded", 3},
	{"parameter-problem", 4}, {"mld-listener-query", 130}, {"nd-router-advert", 134},
	{"nd-neighbor-solicit", 135}, {"nd-neighbor-advert", 136},
}

// build returns the ruleset for normalized options.
func build(o Options) *ruleset {
	rs := &ruleset{table: &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}}
	rs.counters = []string{"invalid", "default_drop"}

	var sshAllow [2]*setSpec
	if len(o.SSHFrom) > 0 {
		sshAllow = rs.allowSets("ssh", o.SSHFrom)
	}
	broker := rs.portSets("broker", o.MQTTFrom, o.Broker, o.BlockTimeout, o.MaxConnections)
	gate := rs.portSets("gate", o.GateFrom, o.Gate, o.BlockTimeout, 0)

	input := rs.baseChain("input")
	rs.inputRules(input, o, sshAllow)
	rs.portRules(rs.chain(brokerChain), broker)
	rs.portRules(rs.chain(gateChain), gate)
	return rs
}

func (rs *ruleset) inputRules(c *nftables.Chain, o Options, sshAllow [2]*setSpec) {
	rs.rule(c).iifLoopback().accept()
	rs.rule(c).ctState(ctStateEstablished|ctStateRelated, "established,related").accept()
	rs.rule(c).ctState(ctStateInvalid, "invalid").counter("invalid").drop()
	rs.rule(c).icmpType(unix.IPPROTO_ICMP, icmpAccepted).accept()
	rs.rule(c).icmpType(unix.IPPROTO_ICMP, []icmpType{{"echo-request", 8}}).
		limit(o.PingRate, time.Second).accept()
	rs.rule(c).icmpType(unix.IPPROTO_ICMPV6, icmpv6Accepted).accept()
	rs.rule(c).icmpType(unix.IPPROTO_ICMPV6, []icmpType{{"echo-request", 128}}).
		limit(o.PingRate, time.Second).accept()

	// DHCPv6 replies come from the server's link-local address to the client
	// port. conntrack cannot match them to the request, which went to a
	// multicast address.
	rs.rule(c).saddrPrefix(netip.MustParsePrefix("fe80::/10")).udpPorts(547, 546).accept()

	if sshAllow[0] == nil {
		rs.rule(c).tcpDport(o.SSHPort).accept()
	} else {
		rs.rule(c).tcpDport(o.SSHPort).saddrIn(ipv4, sshAllow[0], false).accept()
		rs.rule(c).tcpDport(o.SSHPort).saddrIn(ipv6, sshAllow[1], false).accept()
	}
	// Only the first packet of a connection gets this far: the rules above
	// decided established, related and invalid ones.
	rs.rule(c).tcpDport(o.BrokerPort).jump(brokerChain)
	rs.rule(c).tcpDport(o.GatePort).jump(gateChain)
	rs.rule(c).counter("default_drop").drop()
}

// port is one filtered port: its limits and its sets, indexed by family (0
// for IPv4, 1 for IPv6). maxTotal is 0 when the port has no overall cap.
type port struct {
	name                        string
	limits                      Limits
	maxTotal                    int
	allow, blocked, meter, conn [2]*setSpec
}

func (rs *ruleset) portSets(name string, from []netip.Prefix, l Limits, block time.Duration,
	maxTotal int) port {
	p := port{name: name, limits: l, maxTotal: maxTotal}
	p.allow = rs.allowSets(name, from)
	for i, f := range []family{ipv4, ipv6} {
		p.blocked[i] = rs.dynamicSet(name+"_blocked"+f.suffix, f, block)
	}
	for i, f := range []family{ipv4, ipv6} {
		p.meter[i] = rs.dynamicSet(name+"_meter"+f.suffix, f, l.Per)
	}
	for i, f := range []family{ipv4, ipv6} {
		p.conn[i] = rs.dynamicSet(name+"_conns"+f.suffix, f, 0)
	}

	for _, c := range []string{"denied", "blocked", "flood", "concurrent"} {
		rs.counters = append(rs.counters, name+"_"+c)
	}
	if maxTotal > 0 {
		rs.counters = append(rs.counters, name+"_max")
	}
	return p
}

// portRules fills the chain that input jumps to for new connections to one
// port. Each step drops packets with its own counter. The steps drop sources
// not allowed and sources blocked for a flood. They drop the packet that starts
// a flood, which also blocks its source, and a source over its concurrent
// connections. Last, when the port has maxTotal, they drop connections beyond it.
func (rs *ruleset) portRules(c *nftables.Chain, ps port) {
	l := ps.limits
	families := []family{ipv4, ipv6}
	for i, f := range families {
		rs.rule(c).saddrIn(f, ps.allow[i], true).counter(ps.name + "_denied").drop()
	}
	for i, f := range families {
		rs.rule(c).saddrIn(f, ps.blocked[i], false).counter(ps.name + "_blocked").drop()
	}
	for i, f := range families {
		lim, words := limitPackets(l.Rate, l.Per, true)
		rs.rule(c).dynsetSaddr(f, ps.meter[i], unix.NFT_DYNSET_OP_UPDATE, lim, words).
			dynsetSaddr(f, ps.blocked[i], unix.NFT_DYNSET_OP_ADD, nil, "").
			counter(ps.name + "_flood").drop()
	}
	for i, f := range families {
		cl, words := connlimitOver(l.Concurrent)
		rs.rule(c).dynsetSaddr(f, ps.conn[i], unix.NFT_DYNSET_OP_ADD, cl, words).
			counter(ps.name + "_concurrent").drop()
	}
	if ps.maxTotal > 0 {
		rs.rule(c).ctCountOver(ps.maxTotal).counter(ps.name + "_max").drop()
	}
	rs.rule(c).accept()
}

// allowSets returns the IPv4 and IPv6 interval sets NAME_allow_v4 and
// NAME_allow_v6 holding the prefixes of each family.
func (rs *ruleset) allowSets(name string, from []netip.Prefix) [2]*setSpec {
	var sets [2]*setSpec
	for i, f := range []family{ipv4, ipv6} {
		var prefixes []netip.Prefix
		for _, p := range from {
			if p.Addr().Is4() == (f.nfproto == unix.NFPROTO_IPV4) {
				prefixes = append(prefixes, p)
			}
		}
		s := rs.namedSet(&nftables.Set{Name: name + "_allow" + f.suffix, KeyType: f.keyType,
			Interval: true})
		s.prefixes = prefixes
		s.elems = intervalElements(prefixes)
		sets[i] = s
	}
	return sets
}

// dynamicSet returns a set that rules fill with source addresses. A zero
// timeout makes a set without timeouts, whose connlimit elements the kernel
// removes once their connections are gone.
func (rs *ruleset) dynamicSet(name string, f family, timeout time.Duration) *setSpec {
	return rs.namedSet(&nftables.Set{Name: name, KeyType: f.keyType, Dynamic: true,
		HasTimeout: timeout > 0, Timeout: timeout, Size: dynamicSetSize})
}

func (rs *ruleset) namedSet(s *nftables.Set) *setSpec {
	s.Table = rs.table
	s.ID = rs.nextID()
	spec := &setSpec{set: s}
	rs.sets = append(rs.sets, spec)
	return spec
}

// anonSet returns a constant anonymous set. The kernel names it when the batch
// is committed, from the pattern "__set%d".
func (rs *ruleset) anonSet(keyType nftables.SetDatatype, elems []nftables.SetElement) *setSpec {
	return &setSpec{set: &nftables.Set{Table: rs.table, ID: rs.nextID(), Name: "__set%d",
		Anonymous: true, Constant: true, KeyType: keyType}, elems: elems}
}

func (rs *ruleset) nextID() uint32 {
	rs.lastID++
	return rs.lastID
}

// baseChain returns the input chain: type filter, hook input, priority filter
// (0), policy drop.
func (rs *ruleset) baseChain(name string) *nftables.Chain {
	policy := nftables.ChainPolicyDrop
	c := &nftables.Chain{Name: name, Table: rs.table, Type: nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookRef(unix.NF_INET_LOCAL_IN),
		Priority: nftables.ChainPriorityRef(0), Policy: &policy}
	rs.chains = append(rs.chains, c)
	return c
}

func (rs *ruleset) chain(name string) *nftables.Chain {
	c := &nftables.Chain{Name: name, Table: rs.table}
	rs.chains = append(rs.chains, c)
	return c
}

func (rs *ruleset) rule(c *nftables.Chain) *ruleSpec {
	r := &ruleSpec{chain: c, rs: rs}
	rs.rules = append(rs.rules, r)
	return r
}
