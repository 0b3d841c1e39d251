package loglimit

import "net/netip"

// MaxValueBytes is the number of bytes of a value from a request that a log
// line shows, so that a client cannot make the gate log kilobytes per line.
const MaxValueBytes = 64

// Value returns s, a value that a client sent, as a log line shows it: at most
// MaxValueBytes bytes, see Printable.
func Value(s string) string {
	return Printable(s, MaxValueBytes)
}

// Printable returns at most limit bytes of s, with every byte outside printable
// ASCII replaced by '?' and "…" appended when s was cut.
func Printable(s string, limit int) string {
	b := []byte(s[:min(len(s), limit)])
	for i, c := range b {
		if c < 0x21 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(s) > limit {
		return string(b) + "…"
	}
	return string(b)
}

// SourceKey returns the key under which the gate counts a client address: the
// IPv4 address as a /32, or the /64 prefix of an IPv6 address, because one IPv6
// host can use any address of its /64. An invalid address yields the zero
// Prefix, which all such clients share.
func SourceKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// SourceString formats a key of SourceKey: an IPv4 source as a bare address,
// an IPv6 source as its /64 prefix.
func SourceString(key netip.Prefix) string {
	if key.Addr().Is4() {
		return key.Addr().String()
	}
	return key.String()
}
