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

// readSecretFile reads a credential file: the secret alone on one line.
func readSecretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	value := strings.TrimSuffix(string(data), "\n")
	if value == "" || strings.ContainsAny(value, "\r\n") {
		return "", fmt.Errorf("%s does not hold one secret on one line: delete it to generate a new one", path)
	}
	return value, nil
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
