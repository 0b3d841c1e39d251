package config

import (
	"net/netip"
	"time"
)

// Config is the declarative description of one hub, as loaded from garage.yaml.
// Every field has its default filled in by [Load].
type Config struct {
	Site    string   `yaml:"site"`
	Broker  Broker   `yaml:"broker"`
	Network Network  `yaml:"network"`
	PKI     PKI      `yaml:"pki"`
	Gate    Gate     `yaml:"gate"`
	Devices []Device `yaml:"devices"`

	// File is the path the config was loaded from, used in messages.
	File string `yaml:"-"`

	// Warnings lists settings that Load accepted but that are likely mistakes, in the
	// order that Load found them.
	Warnings []Warning `yaml:"-"`
}

// Broker configures the mosquitto listener.
type Broker struct {
	Names          []string     `yaml:"names"`
	Addresses      []netip.Addr `yaml:"addresses"`
	Port           uint16       `yaml:"port"`
	TLSMinVersion  string       `yaml:"tls_min_version"`
	MaxConnections int          `yaml:"max_connections"`
}

// Network lists the sources allowed to reach each service. An empty SSHFrom allows
// SSH from anywhere.
type Network struct {
	SSHPort  uint16         `yaml:"ssh_port"`
	SSHFrom  []netip.Prefix `yaml:"ssh_from"`
	MQTTFrom []netip.Prefix `yaml:"mqtt_from"`
	GateFrom []netip.Prefix `yaml:"gate_from"`
}

// PKI configures the offline CA and the certificates it signs.
type PKI struct {
	OfflineDir     string   `yaml:"offline_dir"`
	KeyType        KeyType  `yaml:"key_type"`
	CAValidity     Duration `yaml:"ca_validity"`
	ServerValidity Duration `yaml:"server_validity"`
}

// KeyType names a key algorithm and size: rsa-2048, rsa-3072 or ecdsa-p256.
type KeyType string

// Key types accepted in pki.key_type.
const (
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	ECDSAP256 KeyType = "ecdsa-p256"
)

// Gate configures the garage-gate service.
type Gate struct {
	Listen   netip.AddrPort `yaml:"listen"`
	Hostname string         `yaml:"hostname"`
	Cooldown Duration       `yaml:"cooldown"`
	Phones   []Phone        `yaml:"phones"`

	// AllowNoAuth lets SOCKS5 clients in without a username and password, for
	// browsers such as Chromium that cannot send them. Such a client reaches only
	// the gate's page and must sign in with a phone's token before it can trigger.
	AllowNoAuth bool `yaml:"allow_no_auth"`

	// MaxConnections caps the SOCKS5 connections open at once, and
	// MaxConnectionsPerSource those from one IPv4 address or IPv6 /64.
	MaxConnections          int `yaml:"max_connections"`
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`

	// LockoutFailures failed SOCKS5 logins lock a source out for LockoutBase. Each
	// further lockout of the same source doubles, up to LockoutMax.
	LockoutFailures int      `yaml:"lockout_failures"`
	LockoutBase     Duration `yaml:"lockout_base"`
	LockoutMax      Duration `yaml:"lockout_max"`
}

// Phone is one phone allowed through the gate.
type Phone struct {
	Name string `yaml:"name"`
}

// Device is one relay board.
type Device struct {
	Name         string   `yaml:"name"`
	RelayPin     int      `yaml:"relay_pin"`
	Pulse        Duration `yaml:"pulse"`
	WiFiSSID     Secret   `yaml:"wifi_ssid"`
	WiFiPassword Secret   `yaml:"wifi_password"`
}

// Duration is a time.Duration that also accepts a day suffix ("3650d").
type Duration time.Duration

// Secret is a value that may come from secrets.yaml through the !secret tag.
// Its String method hides the value so that it never reaches a log or an error.
type Secret struct {
	Value string
	// Ref is the secrets.yaml key it came from, empty for an inline value.
	Ref string
}

// String returns a placeholder, never the value.
func (s Secret) String() string { return "<secret>" }

// GoString returns the same placeholder as String, so that %#v hides the value too.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON encodes the placeholder of String, so that JSON output never contains
// the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"<secret>"`), nil }
