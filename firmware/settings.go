package firmware

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/pki"
)

// ErrUnknownDevice is returned by [LoadSettings] for a device name that the
// config does not list.
var ErrUnknownDevice = errors.New("unknown device")

// DefaultNTPServers are the NTP servers of the firmware when the caller sets
// none: the NTP Pool's names for clients. The relay needs the time before it
// can check the broker's certificate or a command's timestamp.
var DefaultNTPServers = []string{"0.pool.ntp.org", "1.pool.ntp.org", "2.pool.ntp.org"}

// Limits that the firmware core enforces (garage_mqtt.h), checked here so
// that a bad value fails the build and not the board.
const (
	maxMQTTPassword = 64
	maxNTPServers   = 3 // configTime on the ESP8266 takes up to three
)

// KeySize is the size of a command key in bytes.
const KeySize = 32

// CommandKey is a device's HMAC-SHA256 command key. Formatting it with any
// verb prints a placeholder, never the key.
type CommandKey [KeySize]byte

// Format prints "<secret>" for every verb.
func (CommandKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, "<secret>") }

// Settings is what one device's firmware is built with. The secret fields
// print as a placeholder in logs and errors.
type Settings struct {
	Device       string
	WiFiSSID     config.Secret
	WiFiPassword config.Secret
	BrokerHost   string // broker.names[0], which the firmware connects to
	BrokerPort   uint16
	MQTTPassword config.Secret
	CommandKey   CommandKey
	RelayPin     int
	Pulse        time.Duration
	Cooldown     time.Duration // gate.cooldown, also enforced by the relay
	NTPServers   []string      // 1 to 3 host names
	CAHeader     []byte        // garage_ca.h, which contains no secret
}

// LoadSettings gathers the settings of device from cfg and from the files
// that garagectl init or apply wrote under root: the MQTT password, the
// command key and the CA header. When the device's own CA header is
// missing, it renders one from the CA certificate. A device that cfg does
// not list gives an error wrapping [ErrUnknownDevice]. ntpServers may be
// nil for [DefaultNTPServers].
func LoadSettings(cfg *config.Config, root hostfs.Root, device string, ntpServers []string) (*Settings, error) {
	dev, err := findDevice(cfg, device)
	if err != nil {
		return nil, err
	}
	if len(cfg.Broker.Names) == 0 {
		return nil, errors.New("broker.names is empty: the relay connects by host name, so add one")
	}
	if ntpServers == nil {
		ntpServers = DefaultNTPServers
	}
	if len(ntpServers) == 0 || len(ntpServers) > maxNTPServers {
		return nil, fmt.Errorf("invalid number of NTP servers %d: give 1 to %d", len(ntpServers),
			maxNTPServers)
	}

	s := &Settings{
		Device:       dev.Name,
		WiFiSSID:     dev.WiFiSSID,
		WiFiPassword: dev.WiFiPassword,
		BrokerHost:   cfg.Broker.Names[0],
		BrokerPort:   cfg.Broker.Port,
		RelayPin:     dev.RelayPin,
		Pulse:        dev.Pulse.Std(),
		Cooldown:     cfg.Gate.Cooldown.Std(),
		NTPServers:   ntpServers,
	}
	if s.MQTTPassword, err = loadMQTTPassword(root, device); err != nil {
		return nil, err
	}
	if s.CommandKey, err = loadCommandKey(root, device); err != nil {
		return nil, err
	}
	if s.CAHeader, err = loadCAHeader(root, device); err != nil {
		return nil, err
	}
	return s, nil
}

func findDevice(cfg *config.Config, name string) (*config.Device, error) {
	names := make([]string, 0, len(cfg.Devices))
	for i := range cfg.Devices {
		if cfg.Devices[i].Name == name {
			return &cfg.Devices[i], nil
		}
		names = append(names, cfg.Devices[i].Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w %q: %s lists no devices", ErrUnknownDevice, name, cfg.File)
	}
	return nil, fmt.Errorf("%w %q: %s lists %s", ErrUnknownDevice, name, cfg.File,
		strings.Join(names, ", "))
}

// readCredential reads a credential file: one secret alone on one line.
// Errors name the file and never contain its content.
func readCredential(root hostfs.Root, hostPath string) (string, error) {
	data, err := os.ReadFile(root.Path(hostPath))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w: run garagectl apply to generate it", hostPath, err)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", hostPath, err)
	}
	value := strings.TrimSuffix(string(data), "\n")
	if value == "" || strings.ContainsAny(value, "\r\n") {
		return "", fmt.Errorf("%s does not contain one secret on one line: delete it and "+
			"run garagectl apply to generate a new one", hostPath)
	}
	return value, nil
}

func loadMQTTPassword(root hostfs.Root, device string) (config.Secret, error) {
	file := layout.MQTTPassword(device)
	value, err := readCredential(root, file)
	if err != nil {
		return config.Secret{}, err
	}
	if len(value) > maxMQTTPassword {
		return config.Secret{}, fmt.Errorf("the password in %s is %d bytes long: the firmware "+
			"takes at most %d", file, len(value), maxMQTTPassword)
	}
	return config.Secret{Value: value}, nil
}

func loadCommandKey(root hostfs.Root, device string) (CommandKey, error) {
	var key CommandKey
	file := layout.DeviceKey(device)
	value, err := readCredential(root, file)
	if err != nil {
		return key, err
	}
	n, err := hex.Decode(key[:], []byte(value))
	if err != nil || n != KeySize || len(value) != 2*KeySize {
		return CommandKey{}, fmt.Errorf("%s does not contain a %d-byte key in hex", file, KeySize)
	}
	return key, nil
}

// loadCAHeader returns the device's garage_ca.h, or renders one from the CA
// certificate when init has not written it.
func loadCAHeader(root hostfs.Root, device string) ([]byte, error) {
	header, err := os.ReadFile(root.Path(layout.DeviceCAHeader(device)))
	if err == nil {
		return header, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", layout.DeviceCAHeader(device), err)
	}
	caPEM, err := os.ReadFile(root.Path(layout.CACert))
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w: run garagectl init first", err)
	}
	return pki.ESP8266Header(caPEM, pki.HeaderOptions{})
}
