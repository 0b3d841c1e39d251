package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// ConstraintError reports a DNS name or IP address that lies outside the name
// constraints of the CA, so OpenSSL and crypto/x509 clients would reject a
// certificate carrying it. IssueServer and IssueClient return it before signing.
type ConstraintError struct {
	Kind      string   // "DNS name" or "IP address"
	Value     string   // the rejected name or address
	Permitted []string // the CA's permitted subtrees of that kind
}

func (e *ConstraintError) Error() string {
	permitted := "none"
	if len(e.Permitted) > 0 {
		permitted = strings.Join(e.Permitted, ", ")
	}
	return fmt.Sprintf("%s %s is outside the CA's name constraints (permitted: %s), "+
		"so adding it requires a new CA", e.Kind, e.Value, permitted)
}

const (
	kindDNS = "DNS name"
	kindIP  = "IP address"
)

// normalizeDNSNames lowercases names, drops repeats (keeping the first
// position) and rejects anything that is not a plain host name. Wildcards are
// rejected because the broker has a fixed set of names.
func normalizeDNSNames(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, name := range names {
		name = strings.ToLower(name)
		if err := validateHostname(name); err != nil {
			return nil, err
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// validateHostname accepts LDH host names (RFC 1123): labels of 1 to 63
// letters, digits and hyphens, no hyphen at either end, 253 characters in all.
func validateHostname(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("validate DNS name: invalid DNS name %q: length must be 1 to 253", name)
	}
	for label := range strings.SplitSeq(name, ".") {
		if !validLabel(label) {
			return fmt.Errorf("validate DNS name: invalid DNS name %q: "+
				"each label needs 1 to 63 of a-z, 0-9 and '-', with no '-' at either end", name)
		}
	}
	return nil
}

func validLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, c := range []byte(label) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeIPs unmaps IPv4-mapped IPv6 addresses, drops repeats and rejects
// invalid addresses and addresses with a zone, which a certificate cannot carry.
func normalizeIPs(ips []netip.Addr) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if !ip.IsValid() {
			return nil, fmt.Errorf("validate IP address: invalid (zero) IP address")
		}
		if ip.Zone() != "" {
			return nil, fmt.Errorf("validate IP address: %s has a zone, "+
				"which a certificate cannot carry", ip)
		}
		ip = ip.Unmap()
		if !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out, nil
}

// netIP converts ip to the 4- or 16-byte form that crypto/x509 writes.
func netIP(ip netip.Addr) net.IP {
	return net.IP(ip.AsSlice())
}

// singleAddressRange returns ip as a range of one address: /32 or /128.
func singleAddressRange(ip netip.Addr) *net.IPNet {
	return &net.IPNet{IP: netIP(ip), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}
}

// checkConstraints returns a *ConstraintError for the first name or address
// that ca's name constraints do not allow, following the RFC 5280 rules that
// OpenSSL and crypto/x509 apply when they verify a chain.
func checkConstraints(ca *x509.Certificate, names []string, ips []netip.Addr) error {
	for _, name := range names {
		if err := checkDNSName(ca, name); err != nil {
			return err
		}
	}
	for _, ip := range ips {
		if err := checkIP(ca, ip); err != nil {
			return err
		}
	}
	return nil
}

func checkDNSName(ca *x509.Certificate, name string) error {
	denied := &ConstraintError{Kind: kindDNS, Value: name, Permitted: ca.PermittedDNSDomains}
	for _, excluded := range ca.ExcludedDNSDomains {
		if dnsNameWithin(name, excluded) {
			return denied
		}
	}
	if len(ca.PermittedDNSDomains) == 0 {
		return nil
	}
	for _, permitted := range ca.PermittedDNSDomains {
		if dnsNameWithin(name, permitted) {
			return nil
		}
	}
	return denied
}

// dnsNameWithin reports whether name lies in the subtree of a dNSName
// constraint: "example.com" covers itself and its subdomains, ".example.com"
// only its subdomains, and "" every name (RFC 5280, section 4.2.1.10).
func dnsNameWithin(name, constraint string) bool {
	name = strings.ToLower(name)
	constraint = strings.ToLower(constraint)
	switch {
	case constraint == "":
		return true
	case strings.HasPrefix(constraint, "."):
		return strings.HasSuffix(name, constraint)
	default:
		return name == constraint || strings.HasSuffix(name, "."+constraint)
	}
}

func checkIP(ca *x509.Certificate, ip netip.Addr) error {
	denied := &ConstraintError{
		Kind:      kindIP,
		Value:     ip.String(),
		Permitted: rangeStrings(ca.PermittedIPRanges),
	}
	for _, excluded := range ca.ExcludedIPRanges {
		if ipWithin(ip, excluded) {
			return denied
		}
	}
	if len(ca.PermittedIPRanges) == 0 {
		return nil
	}
	for _, permitted := range ca.PermittedIPRanges {
		if ipWithin(ip, permitted) {
			return nil
		}
	}
	return denied
}

// ipWithin reports whether ip lies in r. An IPv4 address never matches an
// IPv6 range or the reverse, as in OpenSSL's and crypto/x509's checks.
func ipWithin(ip netip.Addr, r *net.IPNet) bool {
	prefixIP, ok := netip.AddrFromSlice(r.IP)
	if !ok {
		return false
	}
	ones, bits := r.Mask.Size()
	if bits != prefixIP.BitLen() || bits != ip.BitLen() {
		return false
	}
	return netip.PrefixFrom(prefixIP, ones).Contains(ip)
}

func rangeStrings(ranges []*net.IPNet) []string {
	out := make([]string, 0, len(ranges))
	for _, r := range ranges {
		out = append(out, r.String())
	}
	return out
}
