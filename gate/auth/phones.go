package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// Credentials are the secrets of one phone, as garagectl generated them.
type Credentials struct {
	Name     string
	Password string // SOCKS5 password
	Token    string // bearer token
}

// Phones checks phone credentials. It is safe for concurrent use.
type Phones struct {
	list   []phone
	byName map[string]int
}

type phone struct {
	name     string
	password [sha256.Size]byte
	token    [sha256.Size]byte
}

// unknownDigest is compared for an unknown username, so that a known and an
// unknown name take the same time.
var unknownDigest = sha256.Sum256([]byte("garage-gate unknown phone"))

// NewPhones hashes the credentials. It rejects a phone without a name, password
// or token, and a name listed twice.
func NewPhones(creds []Credentials) (*Phones, error) {
	p := &Phones{byName: make(map[string]int, len(creds))}
	for _, c := range creds {
		if c.Name == "" || c.Password == "" || c.Token == "" {
			return nil, fmt.Errorf("add phone %q: name, password and token must not be empty", c.Name)
		}
		if _, dup := p.byName[c.Name]; dup {
			return nil, fmt.Errorf("add phone %s: listed twice", c.Name)
		}
		p.byName[c.Name] = len(p.list)
		p.list = append(p.list, phone{
			name:     c.Name,
			password: sha256.Sum256([]byte(c.Password)),
			token:    sha256.Sum256([]byte(c.Token)),
		})
	}
	return p, nil
}

// Authenticate checks a SOCKS5 username and password. It returns the phone's
// name as the account when they match.
func (p *Phones) Authenticate(username, password string) (account string, ok bool) {
	digest := sha256.Sum256([]byte(password))
	want := unknownDigest
	i, known := p.byName[username]
	if known {
		want = p.list[i].password
	}
	if subtle.ConstantTimeCompare(digest[:], want[:]) != 1 || !known {
		return "", false
	}
	return username, true
}

// PhoneForToken returns the phone whose bearer token is token. It compares the
// token with every phone's, so the time taken does not tell which phone matched.
func (p *Phones) PhoneForToken(token string) (name string, ok bool) {
	if token == "" {
		return "", false
	}
	digest := sha256.Sum256([]byte(token))
	match := -1
	for i := range p.list {
		if subtle.ConstantTimeCompare(digest[:], p.list[i].token[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return "", false
	}
	return p.list[match].name, true
}

// Has reports whether name is a configured phone.
func (p *Phones) Has(name string) bool {
	_, ok := p.byName[name]
	return ok
}

// Len returns the number of phones.
func (p *Phones) Len() int { return len(p.list) }
