package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/pki"
	"github.com/garagectl/garagectl/users"
)

// renewBefore is how long before expiry apply replaces the server
// certificate, so that a host applied monthly never serves an expired one.
const renewBefore = 30 * 24 * time.Hour

func pkiChanges(o Options, res *Result) ([]change.Change, bool, error) {
	if o.NewCA {
		out, err := newCAChanges(o)
		return out, err == nil, err
	}

	caPEM, err := hostCACert(o)
	if err != nil {
		return nil, false, err
	}
	out := append(offlineChanges(o), publicFile(layout.CACert, caPEM, "root"))

	server, issued, err := currentOrNewServer(o, res, caPEM)
	if err != nil {
		return nil, false, err
	}
	out = append(out, server...)

	headers, err := caHeaders(o.Config, caPEM)
	if err != nil {
		return nil, false, err
	}
	return append(out, headers...), issued, nil
}

// hostCACert returns the CA certificate the host must trust. While the CA
// media is mounted, its copy is the authority, so apply puts back a host copy
// that was replaced or deleted. While the media is away, the host's own copy
// is used.
func hostCACert(o Options) ([]byte, error) {
	offline := path.Join(o.Config.PKI.OfflineDir, layout.OfflineCACert)
	caPEM, err := hostfs.ReadFile(o.Root.Path(offline))
	if err == nil {
		return caPEM, nil
	}
	caPEM, err = hostfs.ReadFile(o.Root.Path(layout.CACert))
	if err == nil {
		return caPEM, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	return nil, fmt.Errorf("no CA certificate at %s or %s: run garagectl init on a new host, "+
		"or mount the CA media at %s", layout.CACert, offline, o.Config.PKI.OfflineDir)
}

// offlineChanges keeps the offline directory's mode and files as init wrote
// them while the media is mounted, so that a CA key made readable by others
// is caught by audit and closed again by apply. It returns nothing while the
// media is away.
func offlineChanges(o Options) []change.Change {
	off := o.Config.PKI.OfflineDir
	if fi, err := os.Lstat(o.Root.Path(off)); err != nil || !fi.IsDir() {
		return nil
	}
	out := []change.Change{dir(off, "root", "root", layout.ModePrivDir)}
	if key, err := hostfs.ReadFile(o.Root.Path(path.Join(off, layout.OfflineCAKey))); err == nil {
		out = append(out, secretFile(path.Join(off, layout.OfflineCAKey), key))
	}
	if cert, err := hostfs.ReadFile(o.Root.Path(path.Join(off, layout.OfflineCACert))); err == nil {
		out = append(out, publicFile(path.Join(off, layout.OfflineCACert), cert, "root"))
	}
	return out
}

// newCAChanges makes the offline CA and the first server certificate.
func newCAChanges(o Options) ([]change.Change, error) {
	if err := checkNoCA(o); err != nil {
		return nil, err
	}
	passphrase, err := o.Passphrase()
	if err != nil {
		return nil, err
	}
	ca, err := pki.NewCA(caOptions(o))
	if err != nil {
		return nil, err
	}
	encrypted, err := pki.EncryptCAKey(ca, passphrase)
	if err != nil {
		return nil, err
	}
	issued, err := issueServer(o, ca)
	if err != nil {
		return nil, err
	}

	caPEM := ca.CertPEM()
	off := o.Config.PKI.OfflineDir
	out := []change.Change{
		// The offline directory is normally a mount point of removable media.
		dir(off, "root", "root", layout.ModePrivDir),
		secretFile(path.Join(off, layout.OfflineCAKey), encrypted),
		publicFile(path.Join(off, layout.OfflineCACert), caPEM, "root"),
		publicFile(layout.CACert, caPEM, "root"),
	}
	out = append(out, serverFiles(issued.CertPEM, issued.KeyPEM)...)
	headers, err := caHeaders(o.Config, caPEM)
	if err != nil {
		return nil, err
	}
	return append(out, headers...), nil
}

// checkNoCA fails when the host or the offline directory already has a CA:
// replacing it would lock out every device that trusts the old one.
func checkNoCA(o Options) error {
	// A server certificate means the host was provisioned, even when its
	// CA certificate was deleted and the CA media is not mounted.
	for _, p := range []string{
		layout.CACert,
		path.Join(o.Config.PKI.OfflineDir, layout.OfflineCAKey),
		layout.ServerCert,
	} {
		if _, err := os.Lstat(o.Root.Path(p)); err == nil {
			return fmt.Errorf("%w (%s is there): init never replaces a CA, so run garagectl apply to converge, or garagectl cert rotate", ErrCAExists, p)
		}
	}
	if o.Root.Live() {
		if _, err := os.Stat(o.Config.PKI.OfflineDir); err != nil {
			return fmt.Errorf("offline CA directory %s: %w: mount the removable media there first", o.Config.PKI.OfflineDir, err)
		}
	}
	return nil
}

func caOptions(o Options) pki.CAOptions {
	cfg := o.Config
	return pki.CAOptions{
		Site:        cfg.Site,
		DNSNames:    append(append([]string{}, cfg.Broker.Names...), cfg.Gate.Hostname),
		IPAddresses: cfg.Broker.Addresses,
		KeyType:     pki.KeyType(cfg.PKI.KeyType),
		Validity:    cfg.PKI.CAValidity.Std(),
		Now:         o.Now,
	}
}

func issueServer(o Options, ca *pki.CA) (*pki.Issued, error) {
	cfg := o.Config
	return ca.IssueServer(pki.ServerOptions{
		DNSNames:    cfg.Broker.Names,
		IPAddresses: cfg.Broker.Addresses,
		KeyType:     pki.KeyType(cfg.PKI.KeyType),
		Validity:    cfg.PKI.ServerValidity.Std(),
		Now:         o.Now,
	})
}

// serverFiles are the broker's certificate and key. The key is readable by the
// broker's group only: with it, anyone could pose as the broker to the relay.
func serverFiles(certPEM, keyPEM []byte) []change.Change {
	return []change.Change{
		publicFile(layout.ServerCert, certPEM, users.Broker),
		groupFile(layout.ServerKey, keyPEM, true),
	}
}

// currentOrNewServer keeps the server certificate and key when they still
// match the config and are far from expiry. Otherwise it loads the offline CA
// and issues new ones, unless NoCAKey is set: then it keeps them and records
// a finding.
func currentOrNewServer(o Options, res *Result, caPEM []byte) ([]change.Change, bool, error) {
	certPEM, certErr := hostfs.ReadFile(o.Root.Path(layout.ServerCert))
	keyPEM, keyErr := hostfs.ReadFile(o.Root.Path(layout.ServerKey))
	if certErr == nil && keyErr == nil {
		reason := serverReissueReason(o, caPEM, certPEM, keyPEM)
		if reason == "" {
			return serverFiles(certPEM, keyPEM), false, nil
		}
		if o.NoCAKey {
			res.Findings = append(res.Findings, Finding{layout.ServerCert,
				reason + ": apply or cert rotate issues a new one"})
			return serverFiles(certPEM, keyPEM), false, nil
		}
	}
	if o.NoCAKey {
		res.Findings = append(res.Findings, Finding{layout.ServerCert,
			"it or " + layout.ServerKey + " is missing: apply or cert rotate issues a new one"})
		return nil, false, nil
	}
	issued, err := RotateServer(o)
	if err != nil {
		return nil, false, err
	}
	return serverFiles(issued.CertPEM, issued.KeyPEM), true, nil
}

// serverReissueReason returns why the server certificate must be issued
// again: it no longer matches the config (names, addresses, key type), is
// close to expiry, does not belong to the key beside it, or is not signed by
// the host's CA. It returns "" for
// a certificate to keep.
func serverReissueReason(o Options, caPEM, certPEM, keyPEM []byte) string {
	cfg := o.Config
	reissue, reason := pki.ServerNeedsReissue(certPEM, cfg.Broker.Names, cfg.Broker.Addresses,
		o.Now(), renewBefore)
	if reissue {
		return reason
	}
	infos, err := pki.Describe(certPEM)
	if err != nil {
		return err.Error()
	}
	if infos[0].KeyType != pki.KeyType(cfg.PKI.KeyType) {
		return fmt.Sprintf("key type %s, config wants %s", infos[0].KeyType, cfg.PKI.KeyType)
	}
	key, err := pki.ParsePrivateKey(keyPEM)
	if err != nil {
		return err.Error()
	}
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil || !pki.KeyMatches(cert, key) {
		return "the certificate does not belong to the key"
	}
	ca, err := pki.ParseCertificate(caPEM)
	if err != nil || cert.CheckSignatureFrom(ca) != nil {
		return "the certificate is not signed by the CA in " + layout.CACert
	}
	return ""
}

// LoadCA reads the offline CA certificate and key and decrypts the key.
func LoadCA(o Options) (*pki.CA, error) {
	off := o.Config.PKI.OfflineDir
	certPEM, err := hostfs.ReadFile(o.Root.Path(path.Join(off, layout.OfflineCACert)))
	if err != nil {
		return nil, fmt.Errorf("read offline CA certificate: %w: mount the CA media at %s", err, off)
	}
	keyPEM, err := hostfs.ReadFile(o.Root.Path(path.Join(off, layout.OfflineCAKey)))
	if err != nil {
		return nil, fmt.Errorf("read offline CA key: %w: mount the CA media at %s", err, off)
	}
	passphrase, err := o.Passphrase()
	if err != nil {
		return nil, err
	}
	return pki.LoadCA(certPEM, keyPEM, passphrase)
}

// RotateServer issues a new server key and certificate with the offline CA.
func RotateServer(o Options) (*pki.Issued, error) {
	o.setDefaults()
	ca, err := LoadCA(o)
	if err != nil {
		return nil, err
	}
	return issueServer(o, ca)
}

// RotateServerChanges returns the two file changes that swap in issued.
func RotateServerChanges(issued *pki.Issued) []change.Change {
	return serverFiles(issued.CertPEM, issued.KeyPEM)
}

// caHeaders renders the CA header of each device's firmware.
func caHeaders(cfg *config.Config, caPEM []byte) ([]change.Change, error) {
	var out []change.Change
	for _, d := range cfg.Devices {
		h, err := pki.ESP8266Header(caPEM, pki.HeaderOptions{})
		if err != nil {
			return nil, fmt.Errorf("render CA header of %s: %w", d.Name, err)
		}
		out = append(out, publicFile(layout.DeviceCAHeader(d.Name), h, "root"))
	}
	return out, nil
}
