package units

import (
	"fmt"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/users"
)

// Credential is one secret that systemd passes to a unit with LoadCredential=.
type Credential struct {
	// Name is the file name under $CREDENTIALS_DIRECTORY.
	Name string
	// Path is the host file that systemd reads it from.
	Path string
}

// GateCredentials returns the credentials of garage-gate.service, named as
// internal/layout names them for the gate: its MQTT password, each phone's
// password and token, and each device's command key. The relays' MQTT
// passwords are left out, so the gate cannot log in as a relay.
func GateCredentials(o Options) []Credential {
	creds := []Credential{
		{layout.GateMQTTCredential, layout.MQTTPassword(layout.GateAccount)},
	}
	for _, p := range o.Phones {
		creds = append(creds,
			Credential{layout.PhonePasswordCredential(p), layout.PhonePassword(p)},
			Credential{layout.PhoneTokenCredential(p), layout.PhoneToken(p)})
	}
	for _, d := range o.Devices {
		creds = append(creds, Credential{layout.DeviceKeyCredential(d), layout.DeviceKey(d)})
	}
	return creds
}

// gateUnit returns garage-gate.service: the gate as its own user, talking
// only to the broker on localhost and to the phones' networks.
func gateUnit(o Options) []directive {
	// An address of its own must be configured before the gate can bind it.
	network := ""
	if !o.GateListen.Addr().IsUnspecified() {
		network = "network-online.target "
	}
	d := []directive{
		unitOpt("Description", "garagectl gate of "+o.Site+": SOCKS5 front for the phones"),
		unitOpt("Wants", network+BrokerUnit),
		unitOpt("After", "network.target "+network+BrokerUnit),
		unitOpt("StartLimitIntervalSec", restartInterval),
		unitOpt("StartLimitBurst", restartBurst),

		serviceOpt("Type", "exec",
			"The gate sends no readiness notification. Type=exec, unlike simple,",
			"makes the start job fail when the program or its user is missing."),
		serviceOpt("ExecStart", o.GateBinary+" --config "+o.ConfigFile),
		serviceOpt("Restart", "on-failure"),
		serviceOpt("RestartSec", restartDelay),
		serviceOpt("User", users.Gate),
		serviceOpt("Group", users.Gate),
		serviceOpt("StateDirectory", stateDirectory(layout.GateStateDir),
			"The gate keeps each device's last command sequence number here, so a relay",
			"still rejects a replayed command after the gate restarts."),
		serviceOpt("StateDirectoryMode", fmt.Sprintf("%04o", layout.ModePrivDir)),
	}
	for i, c := range GateCredentials(o) {
		var comment string
		if i == 0 {
			comment = "systemd reads each secret as root and hands the gate a copy in " +
				"$CREDENTIALS_DIRECTORY that only the gate's user can read."
		}
		d = append(d, serviceOpt("LoadCredential", c.Name+":"+c.Path, comment))
	}
	d = append(d, hideConfig(o.ConfigFile, layout.CACert)...)
	d = append(d, sandbox()...)
	d = append(d, bindPort(o.GateListen.Port())...)
	d = append(d,
		serviceOpt("RestrictAddressFamilies", "AF_INET AF_INET6",
			"The gate accepts phones and connects to the broker over IPv4 or IPv6. It",
			"logs to stderr, which systemd connects to the journal, so it needs no",
			"AF_UNIX socket."),
		serviceOpt("PrivateNetwork", "no", "Phones reach the gate over the host's network."),
	)
	d = append(d, ipFilter(o.GateFrom, "network.gate_from")...)
	return append(d, installOpt("WantedBy", "multi-user.target"))
}
