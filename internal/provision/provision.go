package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/garagectl/garagectl/config"
	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/users"
)

// Options are the inputs of Build.
type Options struct {
	Config *config.Config
	Root   hostfs.Root
	// NewCA makes a new offline CA, as init does. Build then fails with
	// ErrCAExists when the host or the offline directory has one.
	NewCA bool
	// NoCAKey builds the list without reading the CA key, for audit, plan
	// and --dry-run: a server certificate that needs issuing again is kept
	// as it is and named in Result.Findings.
	NoCAKey bool
	// Passphrase returns the CA key passphrase. Build calls it only when it
	// must write or read the CA key.
	Passphrase func() ([]byte, error)
	// Now and Rand default to time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Result is the output of Build.
type Result struct {
	Changes []change.Change
	// CAKey is the host path of the encrypted CA key, for the summary.
	CAKey string
	// ServerIssued reports whether a new server certificate was made.
	ServerIssued bool
	// Findings lists what a NoCAKey build found that no file change shows.
	Findings []Finding
}

// Finding is one thing on the host that differs from what the config and the
// threat model require.
type Finding struct {
	// Subject is the path or object the finding is about.
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// String formats f as one line.
func (f Finding) String() string { return f.Subject + ": " + f.Message }

// ErrCAExists is returned by Build with NewCA when a CA is already there.
var ErrCAExists = errors.New("a CA already exists")

// Build returns the changes that make the host under o.Root match o.Config,
// in the order Apply must make them.
func Build(ctx context.Context, o Options) (*Result, error) {
	o.setDefaults()
	res := &Result{CAKey: path.Join(o.Config.PKI.OfflineDir, layout.OfflineCAKey)}

	res.Changes = append(res.Changes, users.Changes(users.Accounts())...)
	res.Changes = append(res.Changes, directories(o.Config)...)

	configFiles, err := configCopies(o.Config)
	if err != nil {
		return nil, err
	}
	res.Changes = append(res.Changes, configFiles...)

	creds, err := buildCredentials(o)
	if err != nil {
		return nil, err
	}
	res.Changes = append(res.Changes, creds.changes...)

	brokerFiles, err := brokerChanges(o, creds)
	if err != nil {
		return nil, err
	}
	res.Changes = append(res.Changes, brokerFiles...)

	pkiFiles, issued, err := pkiChanges(o, res)
	if err != nil {
		return nil, err
	}
	res.ServerIssued = issued
	res.Changes = append(res.Changes, pkiFiles...)

	unitFiles, err := unitChanges(o)
	if err != nil {
		return nil, err
	}
	res.Changes = append(res.Changes, unitFiles...)
	if o.Root.Live() {
		res.Changes = append(res.Changes, firewallChange(o))
	}
	return res, nil
}

func (o *Options) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = defaultRand
	}
}

func dir(p, owner, group string, mode fs.FileMode) change.Change {
	return change.Change{Kind: change.Dir, Path: p, Owner: owner, Group: group, Mode: mode}
}

func publicFile(p string, content []byte, group string) change.Change {
	return change.Change{
		Kind: change.File, Path: p, Content: content,
		Owner: "root", Group: group, Mode: layout.ModePublic,
	}
}

// groupFile is a file that only root and the broker's group may read.
func groupFile(p string, content []byte, secret bool) change.Change {
	return change.Change{
		Kind: change.File, Path: p, Content: content,
		Owner: "root", Group: users.Broker, Mode: layout.ModeGroupRead, Secret: secret,
	}
}

func directories(cfg *config.Config) []change.Change {
	out := []change.Change{
		dir(layout.ConfigDir, "root", "root", layout.ModePublicDir),
		dir(layout.PKIDir, "root", "root", layout.ModePublicDir),
		dir(layout.MosquittoDir, "root", users.Broker, layout.ModeGroupDir),
		dir(layout.FirmwareDir, "root", "root", layout.ModePublicDir),
		dir(layout.StateDir, "root", "root", layout.ModePrivDir),
		dir(layout.MQTTCredDir, "root", "root", layout.ModePrivDir),
		dir(layout.PhoneCredDir, "root", "root", layout.ModePrivDir),
		dir(layout.DeviceKeyDir, "root", "root", layout.ModePrivDir),
		dir(layout.BrokerStateDir, users.Broker, users.Broker, layout.ModePrivDir),
	}
	for _, d := range cfg.Devices {
		out = append(out, dir(path.Dir(layout.DeviceCAHeader(d.Name)), "root", "root", layout.ModePublicDir))
	}
	return out
}

// configCopies installs the config file and its secrets file in /etc/garagectl,
// so that later runs on the host read what init used.
func configCopies(cfg *config.Config) ([]change.Change, error) {
	data, err := os.ReadFile(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	out := []change.Change{publicFile(layout.ConfigFile, data, "root")}

	secrets, err := os.ReadFile(cfg.SecretsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	return append(out, secretFile(layout.SecretsFile, secrets)), nil
}
