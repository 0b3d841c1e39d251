package firewall

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
)

// intervalElements encodes sorted, non-overlapping prefixes of one family as
// the elements of an interval set, the way nft 1.0 sends them: each prefix is
// a start element and an end element holding the first address after it. An
// end element at address zero leads when the first prefix starts later, and a
// prefix that runs to the last address gets no end element.
func intervalElements(prefixes []netip.Prefix) []nftables.SetElement {
	var elems []nftables.SetElement
	for i, p := range prefixes {
		if i == 0 && p.Addr() != zeroAddr(p.Addr()) {
			elems = append(elems, nftables.SetElement{Key: zeroAddr(p.Addr()).AsSlice(), IntervalEnd: true})
		}
		elems = append(elems, nftables.SetElement{Key: p.Addr().AsSlice()})
		if next, ok := afterPrefix(p); ok {
			elems = append(elems, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
		}
	}
	return elems
}

// prefixesFromElements decodes the elements of an interval set written by
// intervalElements. It returns an error for a range that is not one prefix,
// which garagectl never writes.
func prefixesFromElements(elems []nftables.SetElement) ([]netip.Prefix, error) {
	starts, ends := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for _, e := range elems {
		a, ok := netip.AddrFromSlice(e.Key)
		if !ok {
			return nil, fmt.Errorf("decode set element %x: not an address", e.Key)
		}
		if e.IntervalEnd {
			ends[a] = true
		} else {
			starts[a] = true
		}
	}

	var prefixes []netip.Prefix
	for start := range starts {
		p, err := prefixFromRange(start, ends)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, p)
	}
	return normalizePrefixes("set", prefixes)
}

// prefixFromRange returns the prefix that starts at start and ends right before
// the nearest end element after it, or at the last address when none follows.
func prefixFromRange(start netip.Addr, ends map[netip.Addr]bool) (netip.Prefix, error) {
	var end netip.Addr
	for e := range ends {
		if e.Compare(start) > 0 && (!end.IsValid() || e.Compare(end) < 0) {
			end = e
		}
	}

	for bits := start.BitLen(); bits >= 0; bits-- {
		p := netip.PrefixFrom(start, bits)
		if p.Masked() != p {
			break
		}
		// Both are the invalid zero Addr when the prefix runs to the last address.
		if next, _ := afterPrefix(p); next == end {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("decode set interval starting at %v: not a prefix", start)
}

// afterPrefix returns the first address after p, and false when p runs to the
// last address of its family.
func afterPrefix(p netip.Prefix) (netip.Addr, bool) {
	last := lastAddr(p)
	next := last.Next()
	return next, next.IsValid()
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func zeroAddr(like netip.Addr) netip.Addr {
	if like.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// formatPrefix writes p as nft prints an interval element: a single address
// without its prefix length.
func formatPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// formatElements writes the "elements = { … }" line of a named set the way nft
// 1.0 breaks it: after every second IPv4 address, and after every IPv6 address.
func formatElements(prefixes []netip.Prefix) string {
	var b strings.Builder
	b.WriteString("elements = { ")
	for i, p := range prefixes {
		if i > 0 {
			b.WriteString(elementDelimiter(p.Addr().Is4(), i))
		}
		b.WriteString(formatPrefix(p))
	}
	b.WriteString(" }")
	return b.String()
}

func elementDelimiter(ipv4 bool, index int) string {
	if ipv4 && index%2 == 1 {
		return ", "
	}
	return ",\n\t\t\t     "
}
