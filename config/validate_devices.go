package config

import (
	"fmt"
	"strings"
	"unicode"
)

// gateAccount is the broker account of garage-gate. Device names are account names too,
// so no device may take it.
const gateAccount = "gate"

// Placeholders in the example secrets.yaml, which Load warns about.
const (
	placeholderSSID     = "your-wifi-name"
	placeholderPassword = "your-wifi-passphrase"
)

// pinWarnings explains why a relay on some GPIOs of the ESP8266 is a risk. GPIO0, GPIO2
// and GPIO15 select the boot mode (https://esp8266.com/wiki/doku.php?id=mode_changes).
// GPIO1 and GPIO3 (https://luisllamas.es/en/which-pins-can-i-use-on-esp8266) and GPIO16
// (https://autom.div-ers.ro/boards/esp8266.php) are high during boot, so a relay there
// may close when power returns after a cut, and the door moves.
var pinWarnings = map[int]string{
	0:  "GPIO0 must be high at reset, so a relay module that pulls it low stops the board from booting",
	1:  "GPIO1 is the serial TX pin, which is high and carries boot messages at reset, so the relay may close on power-up and serial logging is lost",
	2:  "GPIO2 must be high at reset and often drives the on-board LED, so a relay module that pulls it low stops the board from booting",
	3:  "GPIO3 is the serial RX pin, which is high at reset, so the relay may close on power-up",
	15: "GPIO15 must be low at reset, so a relay module that pulls it high stops the board from booting",
	16: "GPIO16 is high at reset, so the relay may close on power-up",
}

// validateDevices checks the relays. A config without devices is valid, so that the hub
// can be provisioned before the boards exist, but it gets a warning.
func (d *decoder) validateDevices(c *Config) {
	if len(c.Devices) == 0 {
		d.warnf(d.node(&c.Devices), "devices is empty: nothing can open the door until "+
			"you add a relay")
	}

	names := make([]string, len(c.Devices))
	for i := range c.Devices {
		dev := &c.Devices[i]
		key := fmt.Sprintf("devices[%d]", i)
		names[i] = dev.Name
		d.checkName(key, "device", dev.Name, &dev.Name, dev)
		if dev.Name == gateAccount {
			d.errorf(d.node(&dev.Name), "%s.name: %q is the broker account of garage-gate: "+
				"choose another name", key, gateAccount)
		}
		d.checkRelayPin(key, dev)
		d.checkPulse(key, dev)
		d.checkWiFi(key, dev)
	}
	d.checkUnique("devices", "device name", names, func(i int) any { return &c.Devices[i].Name })

	if c.Broker.TLSMinVersion == "1.3" && len(c.Devices) > 0 {
		d.errorf(d.node(&c.Broker.TLSMinVersion), "broker.tls_min_version: \"1.3\" locks out "+
			"the devices (%s): BearSSL on the ESP8266 speaks TLS 1.2 at most, so use \"1.2\"",
			strings.Join(names, ", "))
	}
}

func (d *decoder) checkRelayPin(key string, dev *Device) {
	if !d.isSet(&dev.RelayPin) {
		d.errorf(d.node(dev), "%s: relay_pin is missing: set the GPIO number that drives "+
			"the relay, such as 5 (D1 on a Wemos D1 mini)", key)
		return
	}
	n, pin := d.node(&dev.RelayPin), dev.RelayPin
	switch {
	case pin < 0 || pin > 16:
		d.errorf(n, "%s.relay_pin: %d is not an ESP8266 GPIO: use 0 to 16, preferably "+
			"4 or 5", key, pin)
	case pin >= 6 && pin <= 11:
		d.errorf(n, "%s.relay_pin: GPIO%d is one of GPIO6 to GPIO11, which connect to the "+
			"flash chip: use GPIO4 or GPIO5", key, pin)
	case pinWarnings[pin] != "":
		d.warnf(n, "%s.relay_pin: %s (prefer GPIO4 or GPIO5)", key, pinWarnings[pin])
	}
}

func (d *decoder) checkPulse(key string, dev *Device) {
	pulse := dev.Pulse.Std()
	if pulse < MinPulse || pulse > MaxPulse {
		d.errorf(d.node(&dev.Pulse, dev), "%s.pulse: %s is out of range: use %s to %s, "+
			"about as long as a press of the wall button", key, dev.Pulse,
			Duration(MinPulse), Duration(MaxPulse))
	}
}

// checkWiFi checks the Wi-Fi credentials of a device. Its messages never contain them.
// A value that LoadWithoutSecrets left unread is checked only for its presence.
func (d *decoder) checkWiFi(key string, dev *Device) {
	unread := func(s Secret) bool { return d.secrets.skipped() && s.Ref != "" }
	if !d.isSet(&dev.WiFiSSID) {
		d.errorf(d.node(dev), "%s: wifi_ssid is missing: add wifi_ssid: !secret wifi_ssid "+
			"and the network name to %s", key, SecretsFile)
	} else if n := len(dev.WiFiSSID.Value); !unread(dev.WiFiSSID) && (n < 1 || n > 32) {
		d.errorf(d.node(&dev.WiFiSSID), "%s.wifi_ssid: %s must be 1 to 32 bytes long, "+
			"the limit of Wi-Fi network names", key, secretSource(dev.WiFiSSID))
	} else if strings.ContainsFunc(dev.WiFiSSID.Value, unicode.IsControl) {
		// The firmware passes the name to the Wi-Fi stack as a C string, so a
		// NUL would cut it short and other control characters are surely typos.
		d.errorf(d.node(&dev.WiFiSSID), "%s.wifi_ssid: %s contains a control character "+
			"such as NUL or a newline: write the network name without it", key, secretSource(dev.WiFiSSID))
	}

	if !d.isSet(&dev.WiFiPassword) {
		d.errorf(d.node(dev), "%s: wifi_password is missing: add wifi_password: "+
			"!secret wifi_password and the passphrase to %s", key, SecretsFile)
		return
	}
	n := d.node(&dev.WiFiPassword)
	if !unread(dev.WiFiPassword) && !isWPAPassphrase(dev.WiFiPassword.Value) {
		d.errorf(n, "%s.wifi_password: %s must be 8 to 63 printable ASCII characters or "+
			"64 hex digits, as WPA2 requires", key, secretSource(dev.WiFiPassword))
	}
	if dev.WiFiPassword.Ref == "" {
		d.warnf(n, "%s.wifi_password is written in the config, which other users can read: "+
			"move it to %s (mode 0600) and write !secret wifi_password", key, SecretsFile)
	}
	d.warnPlaceholder(key+".wifi_ssid", dev.WiFiSSID, placeholderSSID, &dev.WiFiSSID)
	d.warnPlaceholder(key+".wifi_password", dev.WiFiPassword, placeholderPassword,
		&dev.WiFiPassword)
}

// warnPlaceholder warns when a secret still has its value from [ExampleSecrets].
func (d *decoder) warnPlaceholder(key string, s Secret, placeholder string, ptr any) {
	if s.Value != placeholder {
		return
	}
	d.warnf(d.node(ptr), "%s: %s is still the placeholder of the example %s: "+
		"replace it with the real value", key, secretSource(s), SecretsFile)
}

// secretSource names where a secret came from, without its value.
func secretSource(s Secret) string {
	if s.Ref == "" {
		return "the value"
	}
	return fmt.Sprintf("the %s entry %s", SecretsFile, quote(s.Ref))
}

// isWPAPassphrase reports whether s is a WPA2-PSK passphrase (8 to 63 characters from
// ASCII 32 to 126) or a raw 256-bit key (64 hex digits).
func isWPAPassphrase(s string) bool {
	if len(s) == 64 {
		return strings.Trim(s, "0123456789abcdefABCDEF") == ""
	}
	if len(s) < 8 || len(s) > 63 {
		return false
	}
	for i := range len(s) {
		if s[i] < 32 || s[i] > 126 {
			return false
		}
	}
	return true
}
