package provision

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/garagectl/garagectl/internal/change"
	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

// credential is one generated secret and the change that stores it.
type credential struct {
	value  string
	change change.Change
}

// loadOrGenerate returns the secret stored at host path p, or a new one from
// gen when there is none yet. A stored secret is kept as it is, so re-runs do
// not rotate passwords that devices already use.
func loadOrGenerate(root hostfs.Root, p string, gen func() (string, error)) (credential, error) {
	value, err := readSecretFile(root.Path(p))
	if errors.Is(err, fs.ErrNotExist) {
		value, err = gen()
	}
	if err != nil {
		return credential{}, fmt.Errorf("credential %s: %w", p, err)
	}
	return credential{value: value, change: secretFile(p, []byte(value+"\n"))}, nil
}

// minSecretLength is the shortest stored secret garagectl accepts: every
// one it generates has at least 43 characters (32 random bytes), so a shorter
// one was put there by hand and is easier to guess than the threat model allows.
const minSecretLength = 32

// maxSecretFile bounds a credential file, so that a wrong file cannot fill memory.
const maxSecretFile = 4096

// readSecretFile reads a credential file: the secret alone on one line, of
// at least minSecretLength printable ASCII characters.
func readSecretFile(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxSecretFile {
		return "", fmt.Errorf("%s is not a regular file of at most %d bytes: "+
			"move it away to generate a new secret", path, maxSecretFile)
	}
	data, err := hostfs.ReadFile(path)
	if err != nil {
		return "", err
	}
	value := strings.TrimSuffix(string(data), "\n")
	if len(value) < minSecretLength || !printableASCII(value) {
		return "", fmt.Errorf("%s does not hold one secret of at least %d printable characters "+
			"on one line: delete it to generate a new one, then apply and rebuild the firmware "+
			"of any device that used it", path, minSecretLength)
	}
	return value, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func secretFile(p string, content []byte) change.Change {
	return change.Change{
		Kind: change.File, Path: p, Content: content,
		Owner: "root", Group: "root", Mode: layout.ModeSecret, Secret: true,
	}
}

// randomToken returns n random bytes encoded as URL-safe base64 with no
// padding: no colon, space or quote, so it fits any config file or header.
func randomToken(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// randomHex returns n random bytes in hex.
func randomHex(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

var defaultRand io.Reader = rand.Reader
