package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"go.step.sm/crypto/x509util"
)

// backdate moves NotBefore into the past so that a device whose clock runs a
// little behind the host still accepts a certificate issued a moment ago.
const backdate = 5 * time.Minute

// CAOptions sets what NewCA puts into the CA certificate.
type CAOptions struct {
	// Site names the installation: the subject is CN="<Site> garage CA", O=<Site>.
	Site string
	// DNSNames and IPAddresses are the only names the CA may certify. They
	// go into a critical name constraints extension, which OpenSSL and
	// crypto/x509 clients enforce. BearSSL's minimal X.509 engine on the relay
	// does not support name constraints. At least one DNS name is required.
	// With no IP addresses, all IPv4 and IPv6 addresses are excluded.
	DNSNames    []string
	IPAddresses []netip.Addr
	// KeyType is the CA key algorithm. Empty means DefaultKeyType.
	KeyType KeyType
	// Validity is the lifetime of the CA certificate and must be positive.
	Validity time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// CA is a certificate authority: its certificate and the private key that
// signs with it. The key leaves the CA only through EncryptCAKey.
type CA struct {
	Cert   *x509.Certificate
	signer crypto.Signer
}

// NewCA generates a CA key of opts.KeyType and a self-signed CA certificate
// that may sign end-entity certificates only (path length 0) and only for the
// names and addresses in opts.
func NewCA(opts CAOptions) (*CA, error) {
	names, ips, err := validateCAOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}

	signer, err := generateKey(opts.KeyType)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}

	notBefore := now(opts.Now).Add(-backdate).UTC()
	tmpl := x509util.Certificate{
		Subject: x509util.Subject{
			CommonName:   opts.Site + " garage CA",
			Organization: []string{opts.Site},
		},
		NotBefore:        notBefore,
		NotAfter:         notBefore.Add(opts.Validity),
		KeyUsage:         x509util.KeyUsage(x509.KeyUsageCertSign | x509.KeyUsageCRLSign),
		BasicConstraints: &x509util.BasicConstraints{IsCA: true, MaxPathLen: 0},
		NameConstraints:  caNameConstraints(names, ips),
		PublicKey:        signer.Public(),
	}
	template := tmpl.GetCertificate()
	template.SignatureAlgorithm = signatureAlgorithm(signer)

	// The serial number is left empty, so x509util draws a 128-bit random one.
	cert, err := x509util.CreateCertificate(template, template, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return &CA{Cert: cert, signer: signer}, nil
}

func validateCAOptions(opts CAOptions) ([]string, []netip.Addr, error) {
	if opts.Site == "" {
		return nil, nil, errors.New("missing site name")
	}
	if opts.Validity <= 0 {
		return nil, nil, fmt.Errorf("invalid CA validity %s: must be positive",
			formatValidity(opts.Validity))
	}
	if len(opts.DNSNames) == 0 {
		return nil, nil, errors.New("missing DNS names: the CA needs at least one broker name")
	}
	names, err := normalizeDNSNames(opts.DNSNames)
	if err != nil {
		return nil, nil, err
	}
	ips, err := normalizeIPs(opts.IPAddresses)
	if err != nil {
		return nil, nil, err
	}
	return names, ips, nil
}

// caNameConstraints permits exactly names (with their subdomains, as RFC 5280
// defines a dNSName subtree) and each address in ips as a single-address
// range. Without ips, every IPv4 and IPv6 address is excluded, because an
// extension without IP subtrees would leave addresses unconstrained.
func caNameConstraints(names []string, ips []netip.Addr) *x509util.NameConstraints {
	nc := &x509util.NameConstraints{Critical: true, PermittedDNSDomains: names}
	for _, ip := range ips {
		nc.PermittedIPRanges = append(nc.PermittedIPRanges, singleAddressRange(ip))
	}
	if len(ips) == 0 {
		nc.ExcludedIPRanges = x509util.MultiIPNet{
			{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		}
	}
	return nc
}

// signatureAlgorithm picks SHA-256 signatures: PKCS #1 v1.5 for RSA keys,
// which BearSSL verifies, and ECDSA for EC keys.
func signatureAlgorithm(signer crypto.Signer) x509.SignatureAlgorithm {
	switch signer.Public().(type) {
	case *rsa.PublicKey:
		return x509.SHA256WithRSA
	case *ecdsa.PublicKey:
		return x509.ECDSAWithSHA256
	default:
		return x509.UnknownSignatureAlgorithm // crypto/x509 picks one
	}
}

// CertPEM returns the CA certificate PEM-encoded, as written to ca.crt.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyType returns the type of the CA key.
func (ca *CA) KeyType() KeyType {
	return keyTypeOf(ca.signer.Public())
}

func now(fn func() time.Time) time.Time {
	if fn == nil {
		return time.Now()
	}
	return fn()
}
