package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ruleSpec is one rule under construction. Each statement method appends the
// netlink expressions that nft 1.0 generates for the statement together with
// the words that `nft list` prints for them, so that Apply and Show cannot
// drift apart. Like nft, a rule matches meta nfproto or meta l4proto once, before
// the first statement that depends on it.
type ruleSpec struct {
	chain *nftables.Chain
	exprs []expr.Any
	words []string
	// anon lists the anonymous sets the rule looks up. They are added to the
	// batch right before the rule.
	anon []*setSpec

	rs      *ruleset
	nfproto byte
	l4proto byte
}

// family describes IPv4 or IPv6 for the statements that match source addresses.
type family struct {
	nfproto byte
	keyword string // "ip" or "ip6"
	suffix  string // set name suffix
	saddr   uint32 // offset of the source address in the network header
	addrLen uint32
	keyType nftables.SetDatatype
}

var (
	ipv4 = family{unix.NFPROTO_IPV4, "ip", "_v4", 12, 4, nftables.TypeIPAddr}
	ipv6 = family{unix.NFPROTO_IPV6, "ip6", "_v6", 8, 16, nftables.TypeIP6Addr}
)

// reg1 is NFT_REG_1, the first 16-byte data register, which nft loads into.
const reg1 = 1

// Conntrack state bits, as the kernel stores them for ct state.
const (
	ctStateInvalid     = 1
	ctStateEstablished = 2
	ctStateRelated     = 4
)

func (r *ruleSpec) add(words string, exprs ...expr.Any) *ruleSpec {
	r.words = append(r.words, words)
	r.exprs = append(r.exprs, exprs...)
	return r
}

func (r *ruleSpec) needNfproto(p byte) {
	if r.nfproto == p {
		return
	}
	r.nfproto = p
	r.exprs = append(r.exprs,
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{p}})
}

func (r *ruleSpec) needL4proto(p byte) {
	if r.l4proto == p {
		return
	}
	r.l4proto = p
	r.exprs = append(r.exprs,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{p}})
}

// iifLoopback matches packets that arrived on lo, which has interface index 1
// in every network namespace.
func (r *ruleSpec) iifLoopback() *ruleSpec {
	return r.add(`iif "lo"`,
		&expr.Meta{Key: expr.MetaKeyIIF, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(1)})
}

// ctState matches packets whose conntrack state has any of the given bits.
func (r *ruleSpec) ctState(bits uint32, words string) *ruleSpec {
	return r.add("ct state "+words,
		&expr.Ct{Key: expr.CtKeySTATE, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)})
}

// icmpType matches ICMP (l4proto 1) or ICMPv6 (l4proto 58) messages of the
// given types, through an anonymous set when there is more than one.
func (r *ruleSpec) icmpType(l4proto byte, types []icmpType) *ruleSpec {
	f, keyword, keyType := ipv4, "icmp", nftables.TypeICMPType
	if l4proto == unix.IPPROTO_ICMPV6 {
		f, keyword, keyType = ipv6, "icmpv6", nftables.TypeICMP6Type
	}
	r.needNfproto(f.nfproto)
	r.needL4proto(l4proto)
	load := &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Len: 1}

	if len(types) == 1 {
		return r.add(keyword+" type "+types[0].name, load,
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{types[0].value}})
	}

	names := make([]string, len(types))
	elems := make([]nftables.SetElement, len(types))
	for i, t := range types {
		names[i] = t.name
		elems[i] = nftables.SetElement{Key: []byte{t.value}}
	}
	set := r.rs.anonSet(keyType, elems)
	r.anon = append(r.anon, set)
	return r.add(keyword+" type { "+strings.Join(names, ", ")+" }", load,
		&expr.Lookup{SourceRegister: reg1, SetName: set.set.Name, SetID: set.set.ID})
}

// saddrPrefix matches IPv6 source addresses in one prefix.
func (r *ruleSpec) saddrPrefix(p netip.Prefix) *ruleSpec {
	r.needNfproto(ipv6.nfproto)
	return r.add("ip6 saddr "+p.String(),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader,
			Offset: ipv6.saddr, Len: ipv6.addrLen},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: ipv6.addrLen,
			Mask: prefixMask(p), Xor: make([]byte, ipv6.addrLen)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: p.Addr().AsSlice()})
}

// udpPorts matches UDP source and destination port with one 4-byte load, as
// nft merges the two.
func (r *ruleSpec) udpPorts(sport, dport uint16) *ruleSpec {
	r.needL4proto(unix.IPPROTO_UDP)
	ports := binary.BigEndian.AppendUint16(binaryutil.BigEndian.PutUint16(sport), dport)
	return r.add(fmt.Sprintf("udp sport %d udp dport %d", sport, dport),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ports})
}

func (r *ruleSpec) tcpDport(port uint16) *ruleSpec {
	r.needL4proto(unix.IPPROTO_TCP)
	return r.add(fmt.Sprintf("tcp dport %d", port),
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(port)})
}

// saddrIn matches source addresses in a named set, or not in it when invert
// is set. Either way only packets of the set's family match.
func (r *ruleSpec) saddrIn(f family, set *setSpec, invert bool) *ruleSpec {
	op := " @"
	if invert {
		op = " != @"
	}
	r.loadSaddr(f)
	return r.add(f.keyword+" saddr"+op+set.set.Name,
		&expr.Lookup{SourceRegister: reg1, SetName: set.set.Name, SetID: set.set.ID, Invert: invert})
}

func (r *ruleSpec) loadSaddr(f family) {
	r.needNfproto(f.nfproto)
	r.exprs = append(r.exprs, &expr.Payload{DestRegister: reg1,
		Base: expr.PayloadBaseNetworkHeader, Offset: f.saddr, Len: f.addrLen})
}

// dynsetSaddr appends "add|update @set { ip saddr [STATEMENT] }", which adds
// the source address to a dynamic set (update also refreshes the element's
// timeout) and evaluates the element's own copy of the limit or connlimit
// expression e, if any.
func (r *ruleSpec) dynsetSaddr(f family, set *setSpec, op uint32, e expr.Any, words string) *ruleSpec {
	verb := map[uint32]string{unix.NFT_DYNSET_OP_ADD: "add", unix.NFT_DYNSET_OP_UPDATE: "update"}[op]
	text := fmt.Sprintf("%s @%s { %s saddr }", verb, set.set.Name, f.keyword)
	var exprs []expr.Any
	if e != nil {
		text = fmt.Sprintf("%s @%s { %s saddr %s }", verb, set.set.Name, f.keyword, words)
		exprs = []expr.Any{e}
	}
	r.loadSaddr(f)
	return r.add(text, &expr.Dynset{SrcRegKey: reg1, SetName: set.set.Name, SetID: set.set.ID,
		Operation: op, Exprs: exprs})
}

// limitPackets returns the expression and the text of "limit rate [over]
// RATE/UNIT [burst BURST packets]", with a burst of rate packets. nft 1.0.6
// leaves out a burst of 5 packets, its default.
func limitPackets(rate int, per time.Duration, over bool) (*expr.Limit, string) {
	l := &expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(rate), Over: over,
		Unit: limitUnits[per].unit, Burst: uint32(rate)}
	words := "limit rate "
	if over {
		words += "over "
	}
	words += fmt.Sprintf("%d/%s", rate, limitUnits[per].name)
	if rate != 5 {
		words += fmt.Sprintf(" burst %d packets", rate)
	}
	return l, words
}

// limitUnits maps the rate windows Limits accepts to nftables limit units.
var limitUnits = map[time.Duration]struct {
	unit expr.LimitTime
	name string
}{
	time.Second:    {expr.LimitTimeSecond, "second"},
	time.Minute:    {expr.LimitTimeMinute, "minute"},
	time.Hour:      {expr.LimitTimeHour, "hour"},
	24 * time.Hour: {expr.LimitTimeDay, "day"},
}

func (r *ruleSpec) limit(rate int, per time.Duration) *ruleSpec {
	l, words := limitPackets(rate, per, false)
	return r.add(words, l)
}

// connlimitOver returns the expression and the text of "ct count over N",
// which matches when the connections tracked by this expression, the new one
// included, number more than n.
func connlimitOver(n int) (*expr.Connlimit, string) {
	return &expr.Connlimit{Count: uint32(n), Flags: expr.NFT_CONNLIMIT_F_INV},
		fmt.Sprintf("ct count over %d", n)
}

func (r *ruleSpec) ctCountOver(n int) *ruleSpec {
	c, words := connlimitOver(n)
	return r.add(words, c)
}

func (r *ruleSpec) counter(name string) *ruleSpec {
	return r.add(fmt.Sprintf("counter name %q", name),
		&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: name})
}

func (r *ruleSpec) accept() { r.add("accept", &expr.Verdict{Kind: expr.VerdictAccept}) }

func (r *ruleSpec) drop() { r.add("drop", &expr.Verdict{Kind: expr.VerdictDrop}) }

func (r *ruleSpec) jump(chain string) {
	r.add("jump "+chain, &expr.Verdict{Kind: expr.VerdictJump, Chain: chain})
}

// prefixMask returns the netmask of p as bytes.
func prefixMask(p netip.Prefix) []byte {
	mask := make([]byte, p.Addr().BitLen()/8)
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return mask
}
