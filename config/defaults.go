package config

import (
	"net/netip"
	"time"
)

// Defaults of the keys that the config file may leave out.
const (
	DefaultSite = "garage"

	// DefaultBrokerPort is the IANA port for MQTT over TLS. The broker has no plain listener.
	DefaultBrokerPort = 8883

	// DefaultTLSMinVersion is the highest version that the ESP8266's BearSSL speaks.
	// "1.3" would lock every relay out.
	DefaultTLSMinVersion = "1.2"

	// DefaultMaxConnections caps broker connections, so that a flood of connections
	// from a scanner cannot exhaust the host's file descriptors and memory.
	DefaultMaxConnections = 32

	DefaultSSHPort = 22

	// DefaultKeyType is RSA-2048 because BearSSL on the ESP8266 verifies an RSA
	// signature far faster than an ECDSA one, which takes seconds on the chip.
	DefaultKeyType = RSA2048

	// DefaultCAValidity is ten years, because the CA key stays offline and replacing the
	// CA means reflashing every relay.
	DefaultCAValidity = Duration(3650 * Day)

	// DefaultServerValidity is MaxServerValidity. A leaked server key still stops
	// working within 397 days.
	DefaultServerValidity = Duration(MaxServerValidity)

	DefaultGateListen   = "0.0.0.0:1080"
	DefaultGateHostname = "garage.gate"

	// DefaultCooldown is the minimum time between two commands, so that a stolen
	// phone session cannot toggle the door or wear out the motor.
	DefaultCooldown = Duration(10 * time.Second)

	// DefaultGateMaxConnections and DefaultGateMaxConnectionsPerSource bound the
	// sockets and goroutines that a connection flood on the SOCKS5 port can hold.
	// One phone needs a few connections at most.
	DefaultGateMaxConnections          = 64
	DefaultGateMaxConnectionsPerSource = 8

	// DefaultLockoutFailures, DefaultLockoutBase and DefaultLockoutMax slow down
	// password guessing on the SOCKS5 port: five failures lock a source out for a
	// minute, and each further lockout doubles up to an hour.
	DefaultLockoutFailures = 5
	DefaultLockoutBase     = Duration(time.Minute)
	DefaultLockoutMax      = Duration(time.Hour)

	// DefaultPulse is how long the relay stays closed, about one press of a wall button.
	DefaultPulse = Duration(400 * time.Millisecond)

	// DefaultOfflineDir is on removable storage, so that the CA key is off the host's
	// disk except while it is mounted for init or cert rotate.
	DefaultOfflineDir = "/media/garage-ca"
)

// Day is 24 hours, the unit of the "d" suffix in durations.
const Day = 24 * time.Hour

// Limits that [Load] enforces.
const (
	// MaxServerValidity stays a day under the 398-day limit that browsers (Mozilla,
	// Apple) and testssl.sh apply to server certificates.
	MaxServerValidity = 397 * Day

	MinPulse = 50 * time.Millisecond
	MaxPulse = 10 * time.Second

	// MinCooldown is the shortest gate.cooldown. A shorter one would let a client with a
	// phone's credentials pulse the relay several times in a row and move the door back
	// and forth.
	MinCooldown = time.Second
)

// Default returns a Config with every default filled in and no devices, phones or
// broker names, which a valid config must add.
func Default() *Config {
	return &Config{
		Site: DefaultSite,
		Broker: Broker{
			Port:           DefaultBrokerPort,
			TLSMinVersion:  DefaultTLSMinVersion,
			MaxConnections: DefaultMaxConnections,
		},
		Network: Network{SSHPort: DefaultSSHPort},
		PKI: PKI{
			OfflineDir:     DefaultOfflineDir,
			KeyType:        DefaultKeyType,
			CAValidity:     DefaultCAValidity,
			ServerValidity: DefaultServerValidity,
		},
		Gate: Gate{
			Listen:                  netip.MustParseAddrPort(DefaultGateListen),
			Hostname:                DefaultGateHostname,
			Cooldown:                DefaultCooldown,
			MaxConnections:          DefaultGateMaxConnections,
			MaxConnectionsPerSource: DefaultGateMaxConnectionsPerSource,
			LockoutFailures:         DefaultLockoutFailures,
			LockoutBase:             DefaultLockoutBase,
			LockoutMax:              DefaultLockoutMax,
		},
	}
}

// setDefaults fills the defaults of a list element before its keys are decoded.
func (d *Device) setDefaults() { d.Pulse = DefaultPulse }
