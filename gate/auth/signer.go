package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Signer makes and checks the page's CSRF tokens and session cookies with a
// secret that lives only in the gate's memory.
//
// NOTE: the secret is new at each start. A restart therefore signs out every
// phone that signed in with its token, and the phone must sign in again.
type Signer struct {
	secret []byte
	phones *Phones
}

// Purposes, so that a token made for one use never passes for another.
const (
	purposeCSRF    = "csrf"
	purposeLogin   = "login"
	purposeSession = "session"
)

// NewSigner returns a Signer with a new random secret. Sessions are valid only for
// phones that phones still lists.
func NewSigner(phones *Phones) *Signer {
	return &Signer{secret: randomBytes(32), phones: phones}
}

// randomBytes returns n bytes from crypto/rand. Since Go 1.24 its Read never
// returns an error: it crashes the program instead.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (s *Signer) mac(purpose, text string) string {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(purpose + "\x00" + text))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// CSRFToken returns the token that the page's forms of phone carry.
func (s *Signer) CSRFToken(phone string) string { return s.mac(purposeCSRF, phone) }

// CheckCSRF reports whether token is phone's CSRF token, compared in constant time.
func (s *Signer) CheckCSRF(phone, token string) bool {
	return hmac.Equal([]byte(token), []byte(s.CSRFToken(phone)))
}

// NewLoginNonce returns a random value for the login cookie, which binds the
// login form's CSRF token to one browser.
func NewLoginNonce() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(16))
}

// LoginToken returns the CSRF token of the login form for the browser whose
// login cookie holds nonce.
func (s *Signer) LoginToken(nonce string) string { return s.mac(purposeLogin, nonce) }

// CheckLogin reports whether token is the login form's CSRF token for nonce,
// compared in constant time. An empty nonce never passes.
func (s *Signer) CheckLogin(nonce, token string) bool {
	return nonce != "" && hmac.Equal([]byte(token), []byte(s.LoginToken(nonce)))
}

// Session returns a session cookie value for phone that is valid until expires:
// "<phone>.<unix expiry>.<mac>".
func (s *Signer) Session(phone string, expires time.Time) string {
	text := phone + "." + strconv.FormatInt(expires.Unix(), 10)
	return text + "." + s.mac(purposeSession, text)
}

// CheckSession returns the phone of a session cookie value that this Signer made,
// that has not expired at now, and whose phone is still configured.
func (s *Signer) CheckSession(value string, now time.Time) (phone string, ok bool) {
	text, mac, found := cutLast(value, ".")
	if !found || !hmac.Equal([]byte(mac), []byte(s.mac(purposeSession, text))) {
		return "", false
	}
	phone, expiry, found := cutLast(text, ".")
	if !found {
		return "", false
	}
	unix, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || !now.Before(time.Unix(unix, 0)) || !s.phones.Has(phone) {
		return "", false
	}
	return phone, true
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}
