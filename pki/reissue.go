package pki

import (
	"crypto/x509"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ServerNeedsReissue reports whether the server certificate in certPEM must be
// replaced, and returns the first reason found. A certificate needs reissue
// when it does not parse, lacks serverAuth, is not yet valid or expires within
// renewBefore of now. It also needs reissue when its common name, DNS names or
// IP addresses differ from what IssueServer would write for names and ips.
// Names and addresses are compared as sets, ignoring case and order. The
// reason is empty when no reissue is needed.
//
// NOTE: the issuer and the key type are not compared. After a CA rotation or
// a change of pki.key_type, the caller has to decide on a reissue itself.
func ServerNeedsReissue(certPEM []byte, names []string, ips []netip.Addr,
	now time.Time, renewBefore time.Duration) (bool, string) {
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return true, err.Error()
	}
	wantNames, wantIPs, err := normalizeSANs(names, ips)
	if err != nil {
		return true, err.Error()
	}
	reasons := []string{
		checkServerUsage(cert),
		checkLifetime(cert, now, renewBefore),
		checkCommonName(cert, wantNames),
		checkDNSNames(cert, wantNames),
		checkIPs(cert, wantIPs),
	}
	for _, reason := range reasons {
		if reason != "" {
			return true, reason
		}
	}
	return false, ""
}

func checkServerUsage(cert *x509.Certificate) string {
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return "certificate lacks the serverAuth extended key usage"
	}
	return ""
}

func checkLifetime(cert *x509.Certificate, now time.Time, renewBefore time.Duration) string {
	switch {
	case now.Before(cert.NotBefore):
		return fmt.Sprintf("certificate is not valid before %s",
			cert.NotBefore.UTC().Format(time.RFC3339))
	case !now.Before(cert.NotAfter):
		return fmt.Sprintf("certificate expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
	case !now.Add(renewBefore).Before(cert.NotAfter):
		return fmt.Sprintf("certificate expires on %s, within the renewal window of %s",
			cert.NotAfter.UTC().Format(time.RFC3339), formatValidity(renewBefore))
	}
	return ""
}

func checkCommonName(cert *x509.Certificate, wantNames []string) string {
	if len(wantNames) > 0 && !strings.EqualFold(cert.Subject.CommonName, wantNames[0]) {
		return fmt.Sprintf("common name is %q, want %q", cert.Subject.CommonName, wantNames[0])
	}
	return ""
}

func checkDNSNames(cert *x509.Certificate, wantNames []string) string {
	have := make([]string, 0, len(cert.DNSNames))
	for _, name := range cert.DNSNames {
		have = append(have, strings.ToLower(name))
	}
	want := slices.Clone(wantNames)
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(slices.Compact(have), want) {
		return fmt.Sprintf("DNS names are [%s], want [%s]",
			strings.Join(have, " "), strings.Join(want, " "))
	}
	return ""
}

func checkIPs(cert *x509.Certificate, wantIPs []netip.Addr) string {
	have := describeCert(cert).IPAddresses
	want := slices.Clone(wantIPs)
	slices.SortFunc(have, netip.Addr.Compare)
	slices.SortFunc(want, netip.Addr.Compare)
	if !slices.Equal(slices.Compact(have), want) {
		return fmt.Sprintf("IP addresses are %v, want %v", have, want)
	}
	return ""
}
