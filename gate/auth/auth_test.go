package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testPhones(t *testing.T) *Phones {
	t.Helper()
	p, err := NewPhones([]Credentials{
		{Name: "phone1", Password: "pass-1", Token: "token-1"},
		{Name: "phone2", Password: "pass-2", Token: "token-2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthenticate(t *testing.T) {
	p := testPhones(t)
	tests := []struct {
		name, user, password string
		want                 string
		ok                   bool
	}{
		{"phone1", "phone1", "pass-1", "phone1", true},
		{"phone2", "phone2", "pass-2", "phone2", true},
		{"other phone's password", "phone1", "pass-2", "", false},
		{"wrong password", "phone1", "pass-1x", "", false},
		{"empty password", "phone1", "", "", false},
		{"unknown user", "phone3", "pass-1", "", false},
		{"token as password", "phone1", "token-1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.Authenticate(tt.user, tt.password)
			if diff := cmp.Diff([]any{tt.want, tt.ok}, []any{got, ok}); diff != "" {
				t.Errorf("Authenticate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPhoneForToken(t *testing.T) {
	p := testPhones(t)
	tests := []struct {
		name, token, want string
		ok                bool
	}{
		{"phone1", "token-1", "phone1", true},
		{"phone2", "token-2", "phone2", true},
		{"password as token", "pass-1", "", false},
		{"empty", "", "", false},
		{"prefix", "token-", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.PhoneForToken(tt.token)
			if diff := cmp.Diff([]any{tt.want, tt.ok}, []any{got, ok}); diff != "" {
				t.Errorf("PhoneForToken mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewPhonesRejects(t *testing.T) {
	tests := []struct {
		name  string
		creds []Credentials
		want  string
	}{
		{"empty token", []Credentials{{"phone1", "p", ""}}, "must not be empty"},
		{"empty password", []Credentials{{"phone1", "", "t"}}, "must not be empty"},
		{"duplicate", []Credentials{{"phone1", "p", "t"}, {"phone1", "q", "u"}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPhones(tt.creds)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewPhones error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	s := NewSigner(testPhones(t))
	other := NewSigner(testPhones(t))
	token := s.CSRFToken("phone1")
	tests := []struct {
		name, phone, token string
		want               bool
	}{
		{"own token", "phone1", token, true},
		{"other phone", "phone2", token, false},
		{"empty", "phone1", "", false},
		{"other signer", "phone1", other.CSRFToken("phone1"), false},
		{"session value", "phone1", s.Session("phone1", time.Now().Add(time.Hour)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.CheckCSRF(tt.phone, tt.token); got != tt.want {
				t.Errorf("CheckCSRF = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSession(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := NewSigner(testPhones(t))
	other := NewSigner(testPhones(t))
	valid := s.Session("phone1", now.Add(time.Hour))
	tampered := strings.Replace(valid, "phone1", "phone2", 1)
	tests := []struct {
		name, value, want string
		ok                bool
	}{
		{"valid", valid, "phone1", true},
		{"expired", s.Session("phone1", now), "", false},
		{"other phone's name", tampered, "", false},
		{"other signer", other.Session("phone1", now.Add(time.Hour)), "", false},
		{"removed phone", s.Session("phone9", now.Add(time.Hour)), "", false},
		{"CSRF token", s.CSRFToken("phone1"), "", false},
		{"empty", "", "", false},
		{"no dots", "phone1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := s.CheckSession(tt.value, now)
			if diff := cmp.Diff([]any{tt.want, tt.ok}, []any{got, ok}); diff != "" {
				t.Errorf("CheckSession mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoginToken(t *testing.T) {
	s := NewSigner(testPhones(t))
	nonce := NewLoginNonce()
	token := s.LoginToken(nonce)
	tests := []struct {
		name, nonce, token string
		want               bool
	}{
		{"own nonce", nonce, token, true},
		{"other nonce", NewLoginNonce(), token, false},
		{"no nonce", "", s.LoginToken(""), false},
		{"CSRF token of a phone", nonce, s.CSRFToken(nonce), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.CheckLogin(tt.nonce, tt.token); got != tt.want {
				t.Errorf("CheckLogin = %v, want %v", got, tt.want)
			}
		})
	}
}
