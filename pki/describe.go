package pki

import (
	"crypto/x509"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// CertInfo is the summary of one certificate that `garagectl cert status` shows.
type CertInfo struct {
	Subject     string // RFC 2253 form, for example "CN=hub.home.arpa"
	DNSNames    []string
	IPAddresses []netip.Addr
	KeyType     KeyType // for example "rsa-2048", or "rsa-4096" for a size not generated here
	Serial      string  // upper-case hex, as `openssl x509 -serial` prints it
	NotBefore   time.Time
	NotAfter    time.Time
	IsCA        bool
}

// Describe returns a CertInfo for every certificate in pemBytes, in file order.
func Describe(pemBytes []byte) ([]CertInfo, error) {
	certs, err := parseCertificates(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("describe certificates: %w", err)
	}
	infos := make([]CertInfo, 0, len(certs))
	for _, cert := range certs {
		infos = append(infos, describeCert(cert))
	}
	return infos, nil
}

func describeCert(cert *x509.Certificate) CertInfo {
	info := CertInfo{
		Subject:   cert.Subject.String(),
		DNSNames:  cert.DNSNames,
		KeyType:   keyTypeOf(cert.PublicKey),
		Serial:    serialHex(cert.SerialNumber),
		NotBefore: cert.NotBefore,
		NotAfter:  cert.NotAfter,
		IsCA:      cert.BasicConstraintsValid && cert.IsCA,
	}
	for _, ip := range cert.IPAddresses {
		if addr, ok := netip.AddrFromSlice(ip); ok {
			info.IPAddresses = append(info.IPAddresses, addr.Unmap())
		}
	}
	return info
}

// DaysLeft returns the whole days from now until NotAfter, rounded down, so
// it is 0 on the last day and negative once the certificate has expired.
func (c CertInfo) DaysLeft(now time.Time) int {
	return int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
}
