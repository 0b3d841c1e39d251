// Package credentials reads the secrets garage-gate needs: its MQTT password, each
// phone's SOCKS5 password and bearer token, and each device's command key.
//
// Under systemd the unit passes them with LoadCredential= and the gate reads them
// from $CREDENTIALS_DIRECTORY, by the names in internal/layout (such as
// "phone-phone1.token"). Without it, the gate reads the files that garagectl wrote
// under /var/lib/garagectl of the --root. Either way a file holds the secret alone
// on one line.
package credentials

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

// DirEnv is the environment variable in which systemd passes the directory of a
// unit's credentials.
const DirEnv = "CREDENTIALS_DIRECTORY"

// maxSize bounds a credential file. Every secret garagectl writes is one line of
// at most a few dozen bytes.
const maxSize = 4096

// Source reads credentials from a systemd credentials directory or from a root.
type Source struct {
	dir  string // systemd credentials directory, empty to read from root
	root hostfs.Root
}

// FromDir returns a Source that reads systemd credentials from dir.
func FromDir(dir string) Source { return Source{dir: dir} }

// FromRoot returns a Source that reads the files garagectl writes under root.
func FromRoot(root hostfs.Root) Source { return Source{root: root} }

// FromEnv returns FromDir($CREDENTIALS_DIRECTORY) when systemd set it, and
// FromRoot(root) otherwise.
func FromEnv(root hostfs.Root) Source {
	if dir := os.Getenv(DirEnv); dir != "" {
		return FromDir(dir)
	}
	return FromRoot(root)
}

// MQTTPassword reads the password of the gate's MQTT account.
func (s Source) MQTTPassword() (string, error) {
	return s.secret(layout.GateMQTTCredential, layout.MQTTPassword(layout.GateAccount))
}

// PhonePassword reads a phone's SOCKS5 password.
func (s Source) PhonePassword(phone string) (string, error) {
	return s.secret(layout.PhonePasswordCredential(phone), layout.PhonePassword(phone))
}

// PhoneToken reads a phone's bearer token.
func (s Source) PhoneToken(phone string) (string, error) {
	return s.secret(layout.PhoneTokenCredential(phone), layout.PhoneToken(phone))
}

// DeviceKey reads and decodes a device's command key.
func (s Source) DeviceKey(device string) ([]byte, error) {
	text, err := s.secret(layout.DeviceKeyCredential(device), layout.DeviceKey(device))
	if err != nil {
		return nil, err
	}
	key, err := command.ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("read key of device %s: %w", device, err)
	}
	return key, nil
}

// secret reads the credential called name, or the host file hostPath when s reads
// from a root, and returns the secret without its line end.
func (s Source) secret(name, hostPath string) (string, error) {
	path := filepath.Join(s.dir, name)
	if s.dir == "" {
		path = s.root.Path(hostPath)
	}
	data, err := readLimited(path)
	if err != nil {
		return "", fmt.Errorf("read credential %s: %w", name, err)
	}
	secret := strings.TrimSuffix(string(data), "\n")
	if secret == "" || strings.ContainsAny(secret, " \t\r\n") {
		return "", fmt.Errorf("read credential %s: %s must contain the secret alone on "+
			"one line: run garagectl apply to write it again", name, path)
	}
	return secret, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSize)
	}
	return data, nil
}
