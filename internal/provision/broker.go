package provision

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/garagectl/garagectl/broker"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

// brokerChanges renders mosquitto.conf, the password file and the ACL.
func brokerChanges(o Options, creds *credentials) ([]change.Change, error) {
	cfg := o.Config
	conf, err := broker.RenderConfig(broker.ConfigOptions{
		Port:           cfg.Broker.Port,
		TLSMinVersion:  cfg.Broker.TLSMinVersion,
		MaxConnections: cfg.Broker.MaxConnections,
	})
	if err != nil {
		return nil, err
	}

	existing, err := hostfs.ReadFile(o.Root.Path(layout.PasswordFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read password file: %w", err)
	}
	var accounts []broker.Account
	for _, name := range mqttAccounts(cfg) {
		accounts = append(accounts, broker.Account{Name: name, Password: creds.mqtt[name]})
	}
	passwd, err := broker.PasswordFile(accounts, existing)
	if err != nil {
		return nil, err
	}

	var devices []string
	for _, d := range cfg.Devices {
		devices = append(devices, d.Name)
	}
	acl, err := broker.ACL(layout.GateAccount, devices)
	if err != nil {
		return nil, err
	}
	return []change.Change{
		groupFile(layout.MosquittoConf, conf, false),
		groupFile(layout.PasswordFile, passwd, true),
		groupFile(layout.ACLFile, acl, false),
	}, nil
}
