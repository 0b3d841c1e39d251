package pki

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"go.step.sm/crypto/pemutil"
	"go.step.sm/crypto/x509util"
)

// MaxServerValidity is the longest server certificate lifetime garagectl
// issues. 397 days is the maximum Apple recommends for TLS server certificates
// issued since September 2020, and browsers reject publicly trusted ones over
// 398 days. This private CA is not bound by that rule, but the cap replaces
// the broker key about once a year, which limits how long a leaked key is useful.
const MaxServerValidity = 397 * 24 * time.Hour

// ServerOptions sets what IssueServer puts into a broker certificate.
type ServerOptions struct {
	// DNSNames are the broker's host names, and the first one is also the
	// subject common name. At least one is required, because the relay
	// firmware connects by name (BearSSL checks no name for a bare IP).
	DNSNames []string
	// IPAddresses are added as IP SANs.
	IPAddresses []netip.Addr
	// KeyType is the server key algorithm. Empty means DefaultKeyType.
	KeyType KeyType
	// Validity is the certificate lifetime, at most MaxServerValidity. Zero
	// means MaxServerValidity.
	Validity time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// ClientOptions sets what IssueClient puts into a device or client certificate.
type ClientOptions struct {
	// Name is the account name, used as the subject common name.
	Name string
	// DNSNames and IPAddresses are optional SANs, subject to the CA's name
	// constraints.
	DNSNames    []string
	IPAddresses []netip.Addr
	// KeyType is the client key algorithm. Empty means DefaultKeyType.
	KeyType KeyType
	// Validity is the certificate lifetime, and zero means MaxServerValidity.
	// It may be longer, but the certificate must not outlive the CA.
	Validity time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Issued is a certificate signed by the CA together with its new private key.
type Issued struct {
	CertPEM []byte // the certificate, PEM "CERTIFICATE"
	KeyPEM  []byte // the private key, unencrypted PKCS #8, PEM "PRIVATE KEY"
	Serial  string // serial number in upper-case hex, as `openssl x509 -serial` prints it
	Cert    *x509.Certificate
}

// leafRequest is the part of a request that IssueServer and IssueClient share.
type leafRequest struct {
	commonName string
	names      []string
	ips        []netip.Addr
	keyType    KeyType
	validity   time.Duration
	now        time.Time
	usage      x509.ExtKeyUsage
}

// IssueServer generates a key and a serverAuth certificate for the broker,
// with every DNS name and IP address as a SAN. It returns a *ConstraintError,
// before anything is signed, if a name or address lies outside the CA's name
// constraints, and an error if opts.Validity exceeds MaxServerValidity.
func (ca *CA) IssueServer(opts ServerOptions) (*Issued, error) {
	if len(opts.DNSNames) == 0 {
		return nil, errors.New("issue server certificate: missing DNS names")
	}
	if opts.Validity > MaxServerValidity {
		return nil, fmt.Errorf("issue server certificate: validity %s exceeds the maximum of %s",
			formatValidity(opts.Validity), formatValidity(MaxServerValidity))
	}
	names, ips, err := normalizeSANs(opts.DNSNames, opts.IPAddresses)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	issued, err := ca.issue(leafRequest{
		commonName: names[0],
		names:      names,
		ips:        ips,
		keyType:    opts.KeyType,
		validity:   leafValidity(opts.Validity),
		now:        now(opts.Now),
		usage:      x509.ExtKeyUsageServerAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	return issued, nil
}

// accountNamePattern limits client common names to characters that need no
// escaping in a subject or a mosquitto ACL. It leaves out the dot, because
// OpenSSL checks a dotted common name of a certificate without DNS SANs
// against the CA's DNS name constraints.
var accountNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// IssueClient generates a key and a clientAuth certificate whose common name
// is opts.Name. Optional SANs follow the same name constraint rules as
// IssueServer.
func (ca *CA) IssueClient(opts ClientOptions) (*Issued, error) {
	if !accountNamePattern.MatchString(opts.Name) {
		return nil, fmt.Errorf("issue client certificate: invalid account name %q: "+
			"use 1 to 64 of A-Z, a-z, 0-9, '_' and '-'", opts.Name)
	}
	names, ips, err := normalizeSANs(opts.DNSNames, opts.IPAddresses)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate %s: %w", opts.Name, err)
	}
	issued, err := ca.issue(leafRequest{
		commonName: opts.Name,
		names:      names,
		ips:        ips,
		keyType:    opts.KeyType,
		validity:   leafValidity(opts.Validity),
		now:        now(opts.Now),
		usage:      x509.ExtKeyUsageClientAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("issue client certificate %s: %w", opts.Name, err)
	}
	return issued, nil
}

func normalizeSANs(names []string, ips []netip.Addr) ([]string, []netip.Addr, error) {
	normNames, err := normalizeDNSNames(names)
	if err != nil {
		return nil, nil, err
	}
	normIPs, err := normalizeIPs(ips)
	if err != nil {
		return nil, nil, err
	}
	return normNames, normIPs, nil
}

func leafValidity(d time.Duration) time.Duration {
	if d == 0 {
		return MaxServerValidity
	}
	return d
}

// issue checks req against the CA, generates the key, signs the certificate
// and checks the result with crypto/x509's chain verification.
func (ca *CA) issue(req leafRequest) (*Issued, error) {
	if err := checkConstraints(ca.Cert, req.names, req.ips); err != nil {
		return nil, err
	}
	notBefore := req.now.Add(-backdate).UTC()
	notAfter := notBefore.Add(req.validity)
	if err := ca.checkValidity(req.validity, req.now, notAfter); err != nil {
		return nil, err
	}

	signer, err := generateKey(req.keyType)
	if err != nil {
		return nil, err
	}

	template := leafTemplate(req, signer.Public(), notBefore, notAfter)
	template.SignatureAlgorithm = signatureAlgorithm(ca.signer)
	// The serial number is left empty, so x509util draws a 128-bit random one.
	// crypto/x509 copies the authority key ID from the CA's subject key ID.
	cert, err := x509util.CreateCertificate(template, ca.Cert, signer.Public(), ca.signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	if err := ca.verifyLeaf(cert, req); err != nil {
		return nil, err
	}
	return encodeIssued(cert, signer)
}

func (ca *CA) checkValidity(validity time.Duration, now, notAfter time.Time) error {
	if validity < 0 {
		return fmt.Errorf("invalid validity %s: must be positive", formatValidity(validity))
	}
	if now.After(ca.Cert.NotAfter) {
		return fmt.Errorf("check CA: CA certificate expired on %s",
			ca.Cert.NotAfter.Format(time.DateOnly))
	}
	if notAfter.After(ca.Cert.NotAfter) {
		return fmt.Errorf("invalid validity %s: the certificate would outlive the CA, "+
			"which expires on %s", formatValidity(validity), ca.Cert.NotAfter.Format(time.DateOnly))
	}
	return nil
}

func leafTemplate(req leafRequest, pub crypto.PublicKey,
	notBefore, notAfter time.Time) *x509.Certificate {
	usage := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		// RSA key exchange encrypts the premaster secret to the certificate key.
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := x509util.Certificate{
		Subject:          x509util.Subject{CommonName: req.commonName},
		DNSNames:         req.names,
		NotBefore:        notBefore,
		NotAfter:         notAfter,
		KeyUsage:         x509util.KeyUsage(usage),
		ExtKeyUsage:      x509util.ExtKeyUsage{req.usage},
		BasicConstraints: &x509util.BasicConstraints{IsCA: false},
		PublicKey:        pub,
	}
	for _, ip := range req.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, netIP(ip))
	}
	return tmpl.GetCertificate()
}

// verifyLeaf runs crypto/x509's chain verification, which applies the name
// constraints a second time, independently of checkConstraints.
func (ca *CA) verifyLeaf(cert *x509.Certificate, req leafRequest) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: req.now,
		KeyUsages:   []x509.ExtKeyUsage{req.usage},
	})
	if err != nil {
		return fmt.Errorf("verify issued certificate: %w", err)
	}
	return nil
}

func encodeIssued(cert *x509.Certificate, key crypto.Signer) (*Issued, error) {
	block, err := pemutil.Serialize(key, pemutil.WithPKCS8(true))
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return &Issued{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		KeyPEM:  pem.EncodeToMemory(block),
		Serial:  serialHex(cert.SerialNumber),
		Cert:    cert,
	}, nil
}

// formatValidity writes whole days as the config file does ("397d") and
// anything else as a Go duration.
func formatValidity(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// serialHex formats a serial number as upper-case hex with an even number of
// digits, the way `openssl x509 -noout -serial` prints it.
func serialHex(serial *big.Int) string {
	return strings.ToUpper(fmt.Sprintf("%x", serial.Bytes()))
}
