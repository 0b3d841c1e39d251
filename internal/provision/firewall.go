package provision

import (
	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/firewall"
)

// FirewallOptions maps the config's network section and ports to the
// firewall's options; limits the config does not set keep their defaults.
func FirewallOptions(cfg *config.Config) firewall.Options {
	return firewall.Options{
		SSHPort:        cfg.Network.SSHPort,
		SSHFrom:        cfg.Network.SSHFrom,
		BrokerPort:     cfg.Broker.Port,
		MQTTFrom:       cfg.Network.MQTTFrom,
		MaxConnections: cfg.Broker.MaxConnections,
		GatePort:       cfg.Gate.Listen.Port(),
		GateFrom:       cfg.Network.GateFrom,
	}
}
