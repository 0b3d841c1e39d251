package units

import (
	"fmt"
	"path"
	"strings"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/users"
)

// Restart limits of the long-running daemons: a daemon that keeps failing
// stops after restartBurst starts within restartInterval, instead of filling
// the journal, and an operator sees it as failed.
const (
	restartDelay    = "5s"
	restartInterval = "10min"
	restartBurst    = "5"
)

// stateDirectory returns the StateDirectory= value of a directory under
// /var/lib, where systemd creates state directories for system services.
func stateDirectory(hostPath string) string {
	return strings.TrimPrefix(hostPath, "/var/lib/")
}

// brokerUnit returns garage-mosquitto.service: Debian's mosquitto 2.0 started
// directly as the broker's user, with a read-only view of its own config and
// certificates only.
func brokerUnit(o Options) []directive {
	d := []directive{
		unitOpt("Description", fmt.Sprintf("garagectl MQTT broker of %s", o.Site)),
		unitOpt("Documentation", "man:mosquitto(8) man:mosquitto.conf(5)"),
		unitOpt("After", "network.target"),
		unitOpt("Conflicts", "mosquitto.service",
			"Debian's mosquitto.service would run a second broker from /etc/mosquitto.",
			"Starting this unit stops it."),
		unitOpt("StartLimitIntervalSec", restartInterval),
		unitOpt("StartLimitBurst", restartBurst),

		serviceOpt("Type", "notify",
			"Debian builds mosquitto with systemd support: it sends READY=1 once its",
			"listener is open."),
		serviceOpt("NotifyAccess", "main"),
		serviceOpt("ExecStart", o.Mosquitto+" -c "+layout.MosquittoConf),
		serviceOpt("ExecReload", "/bin/kill -HUP $MAINPID",
			"On SIGHUP mosquitto reloads its certificates, password file and ACL and",
			"keeps its clients connected."),
		serviceOpt("Restart", "on-failure"),
		serviceOpt("RestartSec", restartDelay),
		serviceOpt("User", users.Broker,
			"mosquitto starts as its own user, never as root, so it has no privileges",
			"to drop."),
		serviceOpt("Group", users.Broker),
		serviceOpt("StateDirectory", stateDirectory(layout.BrokerStateDir)),
		serviceOpt("StateDirectoryMode", fmt.Sprintf("%04o", layout.ModePrivDir),
			"The persistence file holds queued and retained messages: only the broker",
			"reads it."),
	}
	d = append(d, hideConfig(path.Dir(layout.MosquittoConf), layout.PKIDir)...)
	d = append(d, sandbox()...)
	d = append(d, bindPort(o.BrokerPort)...)
	d = append(d,
		serviceOpt("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6",
			"sd_notify() sends READY=1 over an AF_UNIX socket. Clients connect over",
			"IPv4 and IPv6."),
		serviceOpt("PrivateNetwork", "no",
			"Relays and the gate reach the broker over the host's network."),
	)
	d = append(d, ipFilter(o.MQTTFrom, "network.mqtt_from")...)
	return append(d, installOpt("WantedBy", "multi-user.target"))
}
