package gate

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/gate/auth"
	"github.com/garagectl/garagectl/gate/credentials"
	"github.com/garagectl/garagectl/gate/mqttclient"
	"github.com/garagectl/garagectl/gate/sequence"
	"github.com/garagectl/garagectl/gate/socks"
	"github.com/garagectl/garagectl/gate/trigger"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

// StateDirEnv is the environment variable in which systemd passes the unit's
// StateDirectory=.
const StateDirEnv = "STATE_DIRECTORY"

// Timing of the service.
const (
	// DrainTimeout bounds the wait for requests and triggers in flight at shutdown.
	// It is well under systemd's default stop timeout of 90 s.
	DrainTimeout = 10 * time.Second

	// maxReconnectInterval caps the backoff between attempts to reach the broker,
	// so the gate is back within half a minute of the broker.
	maxReconnectInterval = 30 * time.Second

	// mqttClientID names the gate on the broker. A second gate with the same ID
	// would take over the connection, as only one gate should run.
	mqttClientID = "garage-gate"
)

// Options configures Run.
type Options struct {
	Config *config.Config
	// Root maps the CA certificate path, and the credentials when Credentials reads
	// from a root.
	Root        hostfs.Root
	Credentials credentials.Source
	// StateDir holds the sequence numbers and the ends of the cooldowns; see
	// StateDir.
	StateDir string
	Logger   *slog.Logger

	// Listener, when set, is used in place of a new listener on gate.listen.
	Listener net.Listener
	// Cooldown, when set, replaces gate.cooldown. Load rejects a cooldown under
	// one second, so only a program that builds its own Options (a benchmark) can
	// go lower.
	Cooldown *time.Duration
}

// StateDir returns the first directory of $STATE_DIRECTORY when systemd set it,
// and the gate's state directory under root otherwise.
func StateDir(root hostfs.Root) string {
	if dirs := os.Getenv(StateDirEnv); dirs != "" {
		first, _, _ := strings.Cut(dirs, ":")
		return first
	}
	return root.Path(layout.GateStateDir)
}

// brokerAddress returns where the gate reaches the broker: on the same host, on
// the loopback address, which the broker's listener includes unless it is bound
// to one address.
func brokerAddress(c *config.Config) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(c.Broker.Port)))
}

// brokerTLS returns a TLS config that trusts only the garage CA and expects the
// broker's first name, as the relays do.
func brokerTLS(o Options) (*tls.Config, error) {
	if len(o.Config.Broker.Names) == 0 {
		return nil, errors.New("configure broker TLS: broker.names is empty")
	}
	path := o.Root.Path(layout.CACert)
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read CA certificate: %s contains no PEM certificate", path)
	}
	return &tls.Config{
		RootCAs:    pool,
		ServerName: o.Config.Broker.Names[0],
		MinVersion: tls.VersionTLS12,
	}, nil
}

// loadPhones reads every phone's password and token.
func loadPhones(o Options) (*auth.Phones, error) {
	var creds []auth.Credentials
	for _, p := range o.Config.Gate.Phones {
		password, err := o.Credentials.PhonePassword(p.Name)
		if err != nil {
			return nil, err
		}
		token, err := o.Credentials.PhoneToken(p.Name)
		if err != nil {
			return nil, err
		}
		creds = append(creds, auth.Credentials{Name: p.Name, Password: password, Token: token})
	}
	return auth.NewPhones(creds)
}

// loadKeys reads every device's command key.
func loadKeys(o Options) (map[string][]byte, error) {
	keys := make(map[string][]byte, len(o.Config.Devices))
	for _, d := range o.Config.Devices {
		key, err := o.Credentials.DeviceKey(d.Name)
		if err != nil {
			return nil, err
		}
		keys[d.Name] = key
	}
	return keys, nil
}

// newMQTT returns the broker client, not yet started.
func newMQTT(o Options, devices []string) (*mqttclient.Client, error) {
	password, err := o.Credentials.MQTTPassword()
	if err != nil {
		return nil, err
	}
	tlsConfig, err := brokerTLS(o)
	if err != nil {
		return nil, err
	}
	return mqttclient.New(mqttclient.Config{
		Address:              brokerAddress(o.Config),
		TLS:                  tlsConfig,
		Username:             layout.GateAccount,
		Password:             password,
		ClientID:             mqttClientID,
		Devices:              devices,
		MaxReconnectInterval: maxReconnectInterval,
		Logger:               o.Logger.With("component", "mqtt"),
	}), nil
}

// newTrigger returns the trigger with its store of sequence numbers and
// cooldowns. Each sequence number goes above the last one that the relay
// reported on its retained state topic.
// NOTE: a trigger between the broker connection and the arrival of that report
// gets only the persisted number, so a lost sequence file can still cost one
// trigger, rejected as a replay, until the report arrives.
func newTrigger(o Options, keys map[string][]byte, mqtt *mqttclient.Client) (*trigger.Trigger, error) {
	store, err := sequence.Open(o.StateDir, o.Logger.With("component", "sequence"))
	if err != nil {
		return nil, err
	}
	cooldown := o.Config.Gate.Cooldown.Std()
	if o.Cooldown != nil {
		cooldown = *o.Cooldown
	}
	cfg := trigger.Config{
		Keys:         keys,
		Cooldown:     cooldown,
		RelayLastSeq: mqtt.LastSeq,
		Logger:       o.Logger.With("component", "trigger"),
	}
	return trigger.New(cfg, store, mqtt)
}

// ownHosts returns the Host header values of the gate's page: the virtual host,
// and the listen address when it is a specific one.
func ownHosts(g config.Gate) []string {
	hosts := []string{strings.ToLower(g.Hostname)}
	if addr := g.Listen.Addr(); addr.IsValid() && !addr.IsUnspecified() {
		hosts = append(hosts, g.Listen.String())
	}
	return hosts
}

// virtualHostPort is the port of the gate's virtual host: the phone opens
// http://<gate.hostname>/.
const virtualHostPort = 80

// allowDestination returns the SOCKS5 rule of the gate: a CONNECT may go only to
// the virtual host on port 80, or to the gate's own listen address. Everything
// else is refused, so the gate is never an open proxy.
// NOTE: with an unspecified listen address (0.0.0.0), only the host name is
// served, because the gate does not enumerate the host's addresses.
func allowDestination(g config.Gate) func(socks.Destination) bool {
	hostname := strings.ToLower(g.Hostname)
	own := g.Listen.Addr()
	return func(d socks.Destination) bool {
		if d.Host != "" {
			return strings.EqualFold(d.Host, hostname) && d.Port == virtualHostPort
		}
		return own.IsValid() && !own.IsUnspecified() && d.Addr == own && d.Port == g.Listen.Port()
	}
}
