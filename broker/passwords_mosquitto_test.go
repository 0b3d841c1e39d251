package broker

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// typedPassword is a password a user could type, for the broker test.
type typedPassword struct {
	name     string
	password string
}

// alphabets are the character sets of the generated passwords. Each entry
// of a set is one character as a user types it, so an emoji entry can be
// several code points.
var alphabets = []struct {
	name  string
	chars []string
}{
	{"ascii", strings.Split(printableASCII(), "")},
	{"punctuation", strings.Split(" !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "")},
	{"letters", strings.Split("aZäöüßéèñçøåæœłžšđğışΑβγδЖжЯя漢字かな한글", "")},
	{"emoji", []string{"🔑", "🚪", "🏠", "😀", "👍🏽", "👨‍👩‍👧", "🇩🇪", "❤️", "✨", "🐈‍⬛"}},
}

func printableASCII() string {
	var b strings.Builder
	for c := byte(' '); c <= '~'; c++ {
		b.WriteByte(c)
	}
	return b.String()
}

// typedPasswords returns two passwords of every length from 1 to 128
// characters, drawn from the alphabets in turn, and some edge cases. The
// seed is fixed, so a failure names the same password on every run.
func typedPasswords() []typedPassword {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []typedPassword
	for n := 1; n <= 128; n++ {
		for _, a := range []int{(2 * n) % len(alphabets), (2*n + 1) % len(alphabets)} {
			var b strings.Builder
			for range n {
				b.WriteString(alphabets[a].chars[rng.IntN(len(alphabets[a].chars))])
			}
			name := fmt.Sprintf("%s-%03d-%d", alphabets[a].name, n, len(out))
			out = append(out, typedPassword{name, b.String()})
		}
	}
	for i, pw := range []string{" ", "  leading spaces", "trailing spaces  ", "tab\tinside",
		"$7$101$", ":", "#", `\`, "user:pass", "ﬀ ligature", "e\u0301 combining"} {
		out = append(out, typedPassword{fmt.Sprintf("edge-%02d", i), pw})
	}
	return out
}

// TestMosquittoAcceptsHashedPasswords checks that mosquitto 2.0 accepts
// every password hashed by PasswordFile and rejects a wrong one.
func TestMosquittoAcceptsHashedPasswords(t *testing.T) {
	passwords := typedPasswords()
	accounts := make([]Account, len(passwords))
	for i, p := range passwords {
		accounts[i] = Account{Name: fmt.Sprintf("user%03d", i), Password: p.password}
	}
	passwd, err := PasswordFile(accounts, nil)
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}

	// A plain-text listener keeps this test about password hashes. TLS
	// is tested with the rendered config in TestRenderedConfigRunsMosquitto.
	h := newTestHub(t, passwd, nil)
	h.start(t, fmt.Appendf(nil, `per_listener_settings false
allow_anonymous false
password_file %s
log_dest stderr
connection_messages false
listener %d %s
`, h.opts.PasswordFile, h.opts.Port, h.opts.BindAddress))
	url := "tcp://" + h.addr()

	t.Run("accounts", func(t *testing.T) {
		for i, p := range passwords {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				user := accounts[i].Name
				if _, err := connectMQTT(t, url, nil, user, p.password); err != nil {
					t.Errorf("connect as %s with password %q: %v", user, p.password, err)
				}
				if _, err := connectMQTT(t, url, nil, user, p.password+"x"); err == nil {
					t.Errorf("connect as %s with a wrong password succeeded", user)
				}
			})
		}
	})
}
