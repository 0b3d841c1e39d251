package broker

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// PasswordFileMode is the mode of the password file: owner root, group mosq.
// The broker reads it through the group, and other local users cannot read
// the hashes to guess passwords offline.
const PasswordFileMode fs.FileMode = 0o640

// Account is one MQTT account: the gate or a device.
type Account struct {
	Name     string
	Password string
}

// String returns the account name with the password replaced, so formatting
// an Account with %v, %+v or %s does not print the password.
func (a Account) String() string {
	return fmt.Sprintf("{Name:%s Password:<redacted>}", a.Name)
}

// GoString hides the password from %#v, like String.
func (a Account) GoString() string {
	return fmt.Sprintf("broker.Account{Name:%q, Password:<redacted>}", a.Name)
}

// PasswordFile returns the mosquitto password file for accounts: one
// "name:hash" line per account, sorted by name. existing is the current
// file, or nil. An account keeps its hash from existing when that hash
// verifies with its password, has a 12-byte salt and at least 101 iterations, so
// a re-run with the same passwords returns identical bytes. Other accounts
// get a new hash with a salt from crypto/rand. Lines in existing for names
// not in accounts are dropped, and malformed lines are ignored.
func PasswordFile(accounts []Account, existing []byte) ([]byte, error) {
	sorted, err := sortAccounts(accounts)
	if err != nil {
		return nil, err
	}
	old := parsePasswordFile(existing)

	var out bytes.Buffer
	for _, a := range sorted {
		hash, err := accountHash(a, old[a.Name])
		if err != nil {
			return nil, fmt.Errorf("hash password of account %s: %w", a.Name, err)
		}
		fmt.Fprintf(&out, "%s:%s\n", a.Name, hash)
	}
	return out.Bytes(), nil
}

// sortAccounts returns a copy of accounts sorted by name, after checking
// each name and rejecting duplicates.
func sortAccounts(accounts []Account) ([]Account, error) {
	sorted := slices.Clone(accounts)
	slices.SortFunc(sorted, func(a, b Account) int { return cmp.Compare(a.Name, b.Name) })
	for i, a := range sorted {
		if err := ValidateName(a.Name); err != nil {
			return nil, fmt.Errorf("check account name: %w", err)
		}
		if i > 0 && sorted[i-1].Name == a.Name {
			return nil, fmt.Errorf("check account name: account %s listed twice", a.Name)
		}
	}
	return sorted, nil
}

// parsePasswordFile maps each name in a password file to its hash. Like
// mosquitto, it skips lines without ':' and lines starting with '#', and
// trims blanks around name and hash. The first line of a name wins.
func parsePasswordFile(b []byte) map[string]string {
	hashes := make(map[string]string)
	for line := range strings.Lines(string(b)) {
		name, hash, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash = strings.TrimSpace(name), strings.TrimSpace(hash)
		if _, seen := hashes[name]; !seen {
			hashes[name] = hash
		}
	}
	return hashes
}

// accountHash returns oldHash when it can stay, else a new hash.
func accountHash(a Account, oldHash string) (string, error) {
	if oldHash != "" && reusable(oldHash, a.Password) {
		return oldHash, nil
	}
	return HashPassword(a.Password, nil)
}

// reusable reports whether hash matches password, has the salt length
// HashPassword writes and at least as many iterations. A hash with a longer
// salt, as newer mosquitto_passwd releases write, would verify here, but
// mosquitto 2.0.11 would drop the account when loading the file.
func reusable(hash, password string) bool {
	h, err := parseHash(hash)
	if err != nil || h.iterations < hashIterations || len(h.salt) != saltLength {
		return false
	}
	ok, err := VerifyPassword(hash, password)
	return err == nil && ok
}
