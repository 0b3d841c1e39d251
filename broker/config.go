package broker

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"text/template"
	"unicode"

	"github.com/garagectl/garagectl/templates"
)

// Host paths of the broker's files and the defaults of [ConfigOptions].
const (
	DefaultConfigFile          = "/etc/garagectl/mosquitto/mosquitto.conf"
	DefaultPasswordFile        = "/etc/garagectl/mosquitto/passwd"
	DefaultACLFile             = "/etc/garagectl/mosquitto/acl"
	DefaultCertFile            = "/etc/garagectl/pki/server.crt"
	DefaultKeyFile             = "/etc/garagectl/pki/server.key"
	DefaultPersistenceLocation = "/var/lib/mosquitto/"
)

// Defaults of the non-path fields of [ConfigOptions].
const (
	DefaultPort          = 8883
	DefaultTLSMinVersion = "1.2"
	// DefaultMaxConnections leaves room for the gate and up to 31 relays, and
	// bounds the memory and file descriptors that a connection flood can take.
	DefaultMaxConnections = 32
)

// ConfigOptions are the settings of mosquitto.conf. A zero field takes the
// default named after it.
type ConfigOptions struct {
	// BindAddress is the IP address the listener binds to. Empty binds to
	// all addresses.
	BindAddress string
	// Port is the TCP port of the TLS listener (default [DefaultPort]).
	Port uint16
	// TLSMinVersion is the minimum TLS version, "1.2" or "1.3" (default
	// [DefaultTLSMinVersion]). "1.3" locks out the ESP8266 relays.
	TLSMinVersion string
	// MaxConnections is the maximum number of clients connected at once
	// (default [DefaultMaxConnections]). Negative values, which mean
	// "unlimited" to mosquitto, are invalid.
	MaxConnections int

	// Absolute paths without whitespace, defaults [DefaultCertFile],
	// [DefaultKeyFile], [DefaultPasswordFile],
	// [DefaultACLFile] and [DefaultPersistenceLocation].
	CertFile            string
	KeyFile             string
	PasswordFile        string
	ACLFile             string
	PersistenceLocation string
}

// configData is the data of templates.Mosquitto: validated options with
// defaults filled in, and the TLS version in mosquitto's spelling.
type configData struct {
	BindAddress         string
	Port                uint16
	TLSVersion          string
	MaxConnections      int
	CertFile            string
	KeyFile             string
	PasswordFile        string
	ACLFile             string
	PersistenceLocation string
}

// tlsVersions maps TLSMinVersion values to mosquitto's tls_version values.
var tlsVersions = map[string]string{"1.2": "tlsv1.2", "1.3": "tlsv1.3"}

// RenderConfig returns mosquitto.conf for opts. It returns an error for an
// invalid option, and one wrapping [ErrInsecureConfig] if the rendered file
// lacks a security-critical setting. The same opts always give the same bytes.
func RenderConfig(opts ConfigOptions) ([]byte, error) {
	data, err := newConfigData(opts)
	if err != nil {
		return nil, err
	}

	// No FuncMap: the template gets no function that reads the environment
	// or files. missingkey=error fails on a name the data does not have.
	tmpl, err := template.New("mosquitto.conf").Option("missingkey=error").Parse(templates.Mosquitto)
	if err != nil {
		return nil, fmt.Errorf("parse mosquitto.conf template: %w", err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, data); err != nil {
		return nil, fmt.Errorf("execute mosquitto.conf template: %w", err)
	}

	if err := CheckConfig(out.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// newConfigData checks opts and fills in the defaults.
func newConfigData(opts ConfigOptions) (configData, error) {
	d := configData{
		BindAddress:    opts.BindAddress,
		Port:           cmp.Or(opts.Port, DefaultPort),
		MaxConnections: cmp.Or(opts.MaxConnections, DefaultMaxConnections),
	}

	if d.BindAddress != "" {
		if _, err := netip.ParseAddr(d.BindAddress); err != nil {
			return configData{}, fmt.Errorf("parse bind address: %w", err)
		}
	}
	if d.MaxConnections < 0 {
		return configData{}, fmt.Errorf("invalid max connections %d: use 0 for the default %d or a positive number",
			d.MaxConnections, DefaultMaxConnections)
	}
	minVersion := cmp.Or(opts.TLSMinVersion, DefaultTLSMinVersion)
	d.TLSVersion = tlsVersions[minVersion]
	if d.TLSVersion == "" {
		return configData{}, fmt.Errorf(`invalid TLS minimum version %q: use "1.2" or "1.3"`, minVersion)
	}

	if err := d.setPaths(opts); err != nil {
		return configData{}, err
	}
	return d, nil
}

// setPaths copies the paths of opts, or their defaults, into d and checks them.
func (d *configData) setPaths(opts ConfigOptions) error {
	paths := []struct {
		directive string
		dst       *string
		value     string
		fallback  string
	}{
		{"certfile", &d.CertFile, opts.CertFile, DefaultCertFile},
		{"keyfile", &d.KeyFile, opts.KeyFile, DefaultKeyFile},
		{"password_file", &d.PasswordFile, opts.PasswordFile, DefaultPasswordFile},
		{"acl_file", &d.ACLFile, opts.ACLFile, DefaultACLFile},
		{"persistence_location", &d.PersistenceLocation, opts.PersistenceLocation, DefaultPersistenceLocation},
	}
	for _, p := range paths {
		*p.dst = cmp.Or(p.value, p.fallback)
		if err := checkPath(*p.dst); err != nil {
			return fmt.Errorf("invalid %s path: %w", p.directive, err)
		}
	}
	return nil
}

// checkPath rejects a path that is relative or contains whitespace or a
// control character, which could end the mosquitto.conf line early or start
// a new directive.
func checkPath(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%q is not absolute", path)
	}
	if strings.ContainsFunc(path, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("%q contains whitespace or a control character", path)
	}
	return nil
}
