package layout

// GateStateDir holds the last sequence number and the cooldown end of each
// device. garage-gate uses it when systemd sets no $STATE_DIRECTORY, and
// systemd's StateDirectory=garage-gate names the same directory.
const GateStateDir = "/var/lib/garage-gate"

// GateMQTTCredential is the systemd credential name (LoadCredential=) under which
// the garage-gate unit passes the gate's MQTT password, MQTTPassword(GateAccount).
const GateMQTTCredential = "mqtt-" + GateAccount + ".password"

// PhonePasswordCredential returns the systemd credential name of a phone's SOCKS5
// password, the file PhonePassword(phone).
func PhonePasswordCredential(phone string) string { return "phone-" + phone + ".password" }

// PhoneTokenCredential returns the systemd credential name of a phone's bearer
// token, the file PhoneToken(phone).
func PhoneTokenCredential(phone string) string { return "phone-" + phone + ".token" }

// DeviceKeyCredential returns the systemd credential name of a device's command
// key, the file DeviceKey(device).
func DeviceKeyCredential(device string) string { return "device-" + device + ".key" }
