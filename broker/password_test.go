package broker

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/garagectl/garagectl/internal/testutil"
)

var errEntropy = errors.New("entropy exhausted")

// Hashes written by `mosquitto_passwd -c -b FILE u PASSWORD` of mosquitto
// 2.0.11 on Debian 12.
const (
	mosquittoHashPW    = "$7$101$8TXDSv4MeeUnSg7o$FNnVbDgEUoYFJt/n+1LAQegP1QOaVOrpraFJ1TlZFd20fOQcdXf4Iav3Zk9HYEBqNF+28kFtNLDGDcGpzRq5/Q=="
	mosquittoHashColon = "$7$101$bOjW63zQcTEft3sl$QWMSHUGW4szSNBlqyBrasPGcF8Bg8xIVvBVYpArMoG+3zpcg03544dzEVTEwDfEa79uIsX3UMawO3DOzBkK0Dw=="
)

func TestHashPasswordMatchesMosquittoPasswd(t *testing.T) {
	tests := []struct {
		name     string
		password string
		want     string
	}{
		{"short", "pw", mosquittoHashPW},
		{"space and colon", "p w:x", mosquittoHashColon},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			salt := saltOf(t, tt.want)
			got, err := HashPassword(tt.password, bytes.NewReader(salt))
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			if got != tt.want {
				t.Errorf("HashPassword = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHashPasswordFormat(t *testing.T) {
	got, err := HashPassword("secret", nil)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	fields := strings.Split(got, "$")
	if len(fields) != 5 || fields[1] != "7" || fields[2] != "101" {
		t.Fatalf("HashPassword = %s, want $7$101$<salt>$<key>", got)
	}
	if salt := saltOf(t, got); len(salt) != 12 {
		t.Errorf("salt has %d bytes, want 12", len(salt))
	}
	if len(fields[4]) != 88 || !strings.HasSuffix(fields[4], "==") {
		t.Errorf("key %q is not 64 bytes of padded base64", fields[4])
	}
}

func TestHashPasswordErrors(t *testing.T) {
	tests := []struct {
		name     string
		password string
		rand     io.Reader
		wantErr  error
	}{
		{"empty", "", nil, ErrInvalidPassword},
		{"NUL byte", "pass\x00word", nil, ErrInvalidPassword},
		{"too long", strings.Repeat("a", 65536), nil, ErrInvalidPassword},
		{"short rand", "pw", bytes.NewReader(make([]byte, 11)), io.ErrUnexpectedEOF},
		{"failing rand", "pw", iotest.ErrReader(errEntropy), errEntropy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := HashPassword(tt.password, tt.rand)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("HashPassword error = %v, want it to wrap %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyPassword(t *testing.T) {
	longSalt := mustEncodeHash(t, "pw", bytes.Repeat([]byte{7}, 16), 1000)
	tests := []struct {
		name     string
		encoded  string
		password string
		want     bool
	}{
		{"mosquitto_passwd hash", mosquittoHashPW, "pw", true},
		{"wrong password", mosquittoHashPW, "pW", false},
		{"password prefix", mosquittoHashPW, "p", false},
		{"password with suffix", mosquittoHashPW, "pw ", false},
		{"colon and space", mosquittoHashColon, "p w:x", true},
		{"16-byte salt 1000 iterations", longSalt, "pw", true},
		{"16-byte salt wrong password", longSalt, "px", false},
		{"one iteration", mustEncodeHash(t, "pw", []byte("salt"), 1), "pw", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(tt.encoded, tt.password)
			if err != nil {
				t.Fatalf("VerifyPassword: %v", err)
			}
			if got != tt.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVerifyPasswordInvalidHash(t *testing.T) {
	fields := strings.Split(mosquittoHashPW, "$")
	salt, key := fields[3], fields[4]
	shortKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"SHA-512 format 6", "$6$" + salt + "$" + key},
		{"missing key", "$7$101$" + salt},
		{"extra field", mosquittoHashPW + "$x"},
		{"no leading dollar", "7$101$" + salt + "$" + key},
		{"zero iterations", "$7$0$" + salt + "$" + key},
		{"negative iterations", "$7$-5$" + salt + "$" + key},
		{"iterations not a number", "$7$1e3$" + salt + "$" + key},
		{"too many iterations", "$7$10000001$" + salt + "$" + key},
		{"empty salt", "$7$101$$" + key},
		{"salt not base64", "$7$101$!!!!$" + key},
		{"key not base64", "$7$101$" + salt + "$" + key[:10] + "*"},
		{"key 32 bytes", "$7$101$" + salt + "$" + shortKey},
		{"URL-safe base64 key", "$7$101$" + salt + "$" + strings.NewReplacer("+", "-", "/", "_").Replace(key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.encoded, "pw")
			if !errors.Is(err, ErrInvalidHash) {
				t.Errorf("VerifyPassword error = %v, want it to wrap ErrInvalidHash", err)
			}
			if ok {
				t.Errorf("VerifyPassword = true for an invalid hash")
			}
		})
	}
}

func TestVerifyPasswordInvalidPassword(t *testing.T) {
	// mosquitto hashes a client's password only up to the first NUL byte, so
	// "pw\x00x" would log in as "pw" there. VerifyPassword rejects it.
	ok, err := VerifyPassword(mosquittoHashPW, "pw\x00x")
	if !errors.Is(err, ErrInvalidPassword) {
		t.Errorf("VerifyPassword error = %v, want it to wrap ErrInvalidPassword", err)
	}
	if ok {
		t.Errorf("VerifyPassword = true for a password with a NUL byte")
	}
}

func TestGeneratePassword(t *testing.T) {
	got, err := GeneratePassword(bytes.NewReader(bytes.Repeat([]byte{0xfb}, 32)))
	if err != nil {
		t.Fatalf("GeneratePassword: %v", err)
	}
	if want := strings.Repeat("-_v7", 10) + "-_s"; got != want {
		t.Errorf("GeneratePassword = %q, want %q", got, want)
	}
}

func TestGeneratePasswordRandom(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		pw, err := GeneratePassword(nil)
		if err != nil {
			t.Fatalf("GeneratePassword: %v", err)
		}
		if len(pw) != 43 {
			t.Errorf("GeneratePassword = %q, want 43 characters", pw)
		}
		if i := strings.IndexFunc(pw, func(r rune) bool { return !isAlphanumeric(r) && r != '-' && r != '_' }); i >= 0 {
			t.Errorf("GeneratePassword = %q, contains %q", pw, pw[i])
		}
		if seen[pw] {
			t.Errorf("GeneratePassword returned %q twice", pw)
		}
		seen[pw] = true
	}
}

func TestGeneratePasswordFailingRand(t *testing.T) {
	_, err := GeneratePassword(iotest.ErrReader(errEntropy))
	if !errors.Is(err, errEntropy) {
		t.Errorf("GeneratePassword error = %v, want it to wrap %v", err, errEntropy)
	}
}

// TestVerifyPasswordMosquittoPasswd checks hashes that the installed
// mosquitto_passwd writes, for passwords a user could type.
func TestVerifyPasswordMosquittoPasswd(t *testing.T) {
	bin := testutil.RequireTool(t, "mosquitto_passwd", "mosquitto")
	tests := []struct {
		name     string
		password string
	}{
		{"ASCII", "correct horse battery staple"},
		{"punctuation", `:$#!"'\%&*()[]{}<>?/|~^`},
		{"leading and trailing space", "  padded  "},
		{"UTF-8 letters", "Größe-ñandú-Ελληνικά-кириллица-漢字"},
		{"emoji", "🔑🚪👨‍👩‍👧"},
		{"128 characters", strings.Repeat("x9!", 42) + "ab"},
		{"single character", "z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "passwd")
			// Test only: the password is on the command line, which the
			// product never does because other users can read it in /proc.
			cmd := exec.CommandContext(t.Context(), bin, "-c", "-b", file, "u", tt.password)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
			}
			hash := hashFromFile(t, file, "u")

			ok, err := VerifyPassword(hash, tt.password)
			if err != nil || !ok {
				t.Errorf("VerifyPassword(%s, right password) = %v, %v, want true", hash, ok, err)
			}
			ok, err = VerifyPassword(hash, tt.password+"x")
			if err != nil || ok {
				t.Errorf("VerifyPassword(%s, wrong password) = %v, %v, want false", hash, ok, err)
			}
		})
	}
}

// saltOf returns the decoded salt of a "$7$" hash.
func saltOf(t *testing.T, encoded string) []byte {
	t.Helper()
	h, err := parseHash(encoded)
	if err != nil {
		t.Fatalf("parse hash %s: %v", encoded, err)
	}
	return h.salt
}

func mustEncodeHash(t *testing.T, password string, salt []byte, iterations int) string {
	t.Helper()
	h, err := encodeHash(password, salt, iterations)
	if err != nil {
		t.Fatalf("encode hash: %v", err)
	}
	return h
}

// hashFromFile returns the hash of name in a password file.
func hashFromFile(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read password file: %v", err)
	}
	hash, ok := parsePasswordFile(b)[name]
	if !ok {
		t.Fatalf("password file has no line for %s:\n%s", name, b)
	}
	return hash
}
