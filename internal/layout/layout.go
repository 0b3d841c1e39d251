// Package layout names every path garagectl writes on a host, with the owner
// and mode each one gets. Paths are host paths; map them under --root with
// hostfs.Root.Path.
package layout

import (
	"io/fs"
	"path"
)

// Directories.
const (
	ConfigDir    = "/etc/garagectl"
	PKIDir       = "/etc/garagectl/pki"
	MosquittoDir = "/etc/garagectl/mosquitto"
	FirmwareDir  = "/etc/garagectl/firmware"
	StateDir     = "/var/lib/garagectl"
	MQTTCredDir  = "/var/lib/garagectl/mqtt"
	PhoneCredDir = "/var/lib/garagectl/phones"
	DeviceKeyDir = "/var/lib/garagectl/devices"
	// BrokerStateDir is mosquitto's persistence directory.
	BrokerStateDir = "/var/lib/mosquitto"
)

// Files.
const (
	ConfigFile    = "/etc/garagectl/garage.yaml"
	SecretsFile   = "/etc/garagectl/secrets.yaml"
	CACert        = "/etc/garagectl/pki/ca.crt"
	ServerCert    = "/etc/garagectl/pki/server.crt"
	ServerKey     = "/etc/garagectl/pki/server.key"
	MosquittoConf = "/etc/garagectl/mosquitto/mosquitto.conf"
	PasswordFile  = "/etc/garagectl/mosquitto/passwd"
	ACLFile       = "/etc/garagectl/mosquitto/acl"
)

// Files in the offline CA directory, relative to pki.offline_dir.
const (
	OfflineCAKey  = "ca.key"
	OfflineCACert = "ca.crt"
)

// Modes. Each sets who may read a file, because a leaked key or password file
// is how an attacker on the host would open the door.
const (
	ModePublic    fs.FileMode = 0o644 // certificates, config
	ModeSecret    fs.FileMode = 0o600 // generated credentials, secrets.yaml, CA key
	ModeGroupRead fs.FileMode = 0o640 // read by the broker's group only
	ModePublicDir fs.FileMode = 0o755
	ModeGroupDir  fs.FileMode = 0o750
	ModePrivDir   fs.FileMode = 0o700
)

// GateAccount is the MQTT account of the garage-gate service.
const GateAccount = "gate"

// MQTTPassword returns the file holding the MQTT password of account.
func MQTTPassword(account string) string {
	return path.Join(MQTTCredDir, account+".password")
}

// PhonePassword returns the file holding a phone's SOCKS5 password.
func PhonePassword(phone string) string {
	return path.Join(PhoneCredDir, phone+".password")
}

// PhoneToken returns the file holding a phone's bearer token.
func PhoneToken(phone string) string {
	return path.Join(PhoneCredDir, phone+".token")
}

// DeviceKey returns the file holding a device's command key, in hex.
func DeviceKey(device string) string {
	return path.Join(DeviceKeyDir, device+".key")
}

// DeviceCAHeader returns the C header with the CA for a device's firmware.
func DeviceCAHeader(device string) string {
	return path.Join(FirmwareDir, device, "garage_ca.h")
}
