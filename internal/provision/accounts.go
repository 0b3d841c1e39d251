package provision

import (
	"encoding/hex"
	"fmt"

	"github.com/garagectl/garagectl/broker"
	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/layout"
)

// Sizes of generated secrets, in random bytes. 32 bytes is 256 bits: far
// beyond any online guessing, which the broker and gate rate-limit anyway.
const (
	passwordBytes  = 32 // a phone's SOCKS5 password
	tokenBytes     = 32
	commandKeySize = 32 // HMAC-SHA256 key of a device's commands
)

// credentials are the generated secrets of every MQTT account, phone and device.
type credentials struct {
	// mqtt maps an MQTT account name to its password.
	mqtt    map[string]string
	changes []change.Change
}

// mqttAccounts returns the MQTT account names: the gate, then each device.
func mqttAccounts(cfg *config.Config) []string {
	names := []string{layout.GateAccount}
	for _, d := range cfg.Devices {
		names = append(names, d.Name)
	}
	return names
}

func buildCredentials(o Options) (*credentials, error) {
	c := &credentials{mqtt: map[string]string{}}
	mqttPassword := func() (string, error) { return broker.GeneratePassword(o.Rand) }
	password := func() (string, error) { return randomToken(o.Rand, passwordBytes) }
	token := func() (string, error) { return randomToken(o.Rand, tokenBytes) }
	key := func() (string, error) { return randomHex(o.Rand, commandKeySize) }

	for _, name := range mqttAccounts(o.Config) {
		cred, err := c.add(o, layout.MQTTPassword(name), mqttPassword)
		if err != nil {
			return nil, err
		}
		c.mqtt[name] = cred
	}
	for _, p := range o.Config.Gate.Phones {
		if _, err := c.add(o, layout.PhonePassword(p.Name), password); err != nil {
			return nil, err
		}
		if _, err := c.add(o, layout.PhoneToken(p.Name), token); err != nil {
			return nil, err
		}
	}
	for _, d := range o.Config.Devices {
		k, err := c.add(o, layout.DeviceKey(d.Name), key)
		if err != nil {
			return nil, err
		}
		if b, err := hex.DecodeString(k); err != nil || len(b) != commandKeySize {
			return nil, fmt.Errorf("%s does not hold %d bytes in hex: delete it to generate a new key, "+
				"then rebuild that device's firmware", layout.DeviceKey(d.Name), commandKeySize)
		}
	}
	return c, nil
}

func (c *credentials) add(o Options, p string, gen func() (string, error)) (string, error) {
	cred, err := loadOrGenerate(o.Root, p, gen)
	if err != nil {
		return "", err
	}
	c.changes = append(c.changes, cred.change)
	return cred.value, nil
}
