package broker

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Parameters of the hashes that HashPassword writes. mosquitto_passwd of
// mosquitto 2.0.11 writes the same, and that broker drops an account whose
// salt is not 12 bytes when it loads the password file.
const (
	hashIterations = 101
	saltLength     = 12
	keyLength      = 64 // SHA-512 output; mosquitto rejects other lengths
)

// maxIterations bounds the iteration count VerifyPassword accepts, so a
// tampered hash cannot make a verification run for hours. mosquitto itself
// accepts any positive int.
const maxIterations = 10_000_000

// maxPasswordLength is the MQTT limit: the CONNECT packet stores the password
// length in two bytes.
const maxPasswordLength = 65535

// generatedPasswordBytes is the entropy of a GeneratePassword result: 256 bits,
// far beyond what an online guessing attack on port 8883 could try.
const generatedPasswordBytes = 32

var (
	// ErrInvalidPassword is returned for a password that is empty, longer
	// than 65535 bytes or contains a NUL byte.
	ErrInvalidPassword = errors.New("invalid password")
	// ErrInvalidHash is returned for a string that is not a "$7$" hash.
	ErrInvalidHash = errors.New("invalid mosquitto password hash")
)

// HashPassword hashes password in mosquitto's "$7$" format:
// $7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512 key>, with a 12-byte
// salt read from rand and 101 iterations. A nil rand means crypto/rand.Reader.
// The password must be 1 to 65535 bytes without a NUL byte, because mosquitto
// hashes the client's password only up to its first NUL byte.
func HashPassword(password string, rand io.Reader) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, saltLength)
	if _, err := io.ReadFull(randOrDefault(rand), salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	return encodeHash(password, salt, hashIterations)
}

// VerifyPassword reports whether password matches the "$7$" hash encoded,
// comparing the keys in constant time. It accepts any iteration count from 1
// to 10,000,000 and any non-empty salt, so hashes from newer mosquitto_passwd
// releases verify too. It returns an error wrapping [ErrInvalidHash] for a
// malformed hash and one wrapping [ErrInvalidPassword] for a password that
// HashPassword rejects.
func VerifyPassword(encoded, password string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if err := checkPassword(password); err != nil {
		return false, err
	}
	key, err := deriveKey(password, h.salt, h.iterations)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// GeneratePassword returns a new random password: 32 bytes from rand (nil
// means crypto/rand.Reader) in URL-safe base64 without padding, so 43
// characters from A-Z, a-z, 0-9, '-' and '_'.
func GeneratePassword(rand io.Reader) (string, error) {
	b := make([]byte, generatedPasswordBytes)
	if _, err := io.ReadFull(randOrDefault(rand), b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// passwordHash is a decoded "$7$" hash.
type passwordHash struct {
	iterations int
	salt       []byte
	key        []byte
}

func parseHash(encoded string) (passwordHash, error) {
	fields := strings.Split(encoded, "$")
	if len(fields) != 5 || fields[0] != "" || fields[1] != "7" {
		return passwordHash{}, fmt.Errorf("%w: want $7$<iterations>$<salt>$<key>", ErrInvalidHash)
	}
	iterations, err := strconv.Atoi(fields[2])
	if err != nil || iterations < 1 || iterations > maxIterations {
		return passwordHash{}, fmt.Errorf("%w: iteration count %q not in 1..%d",
			ErrInvalidHash, fields[2], maxIterations)
	}
	salt, err := base64.StdEncoding.DecodeString(fields[3])
	if err != nil || len(salt) == 0 {
		return passwordHash{}, fmt.Errorf("%w: salt is empty or not base64", ErrInvalidHash)
	}
	key, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil || len(key) != keyLength {
		return passwordHash{}, fmt.Errorf("%w: key is not %d bytes of base64", ErrInvalidHash, keyLength)
	}
	return passwordHash{iterations: iterations, salt: salt, key: key}, nil
}

func encodeHash(password string, salt []byte, iterations int) (string, error) {
	key, err := deriveKey(password, salt, iterations)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$7$%d$%s$%s", iterations,
		base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), nil
}

func deriveKey(password string, salt []byte, iterations int) ([]byte, error) {
	key, err := pbkdf2.Key(sha512.New, password, salt, iterations, keyLength)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	return key, nil
}

func checkPassword(password string) error {
	switch {
	case password == "":
		return fmt.Errorf("%w: password is empty", ErrInvalidPassword)
	case len(password) > maxPasswordLength:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidPassword, maxPasswordLength)
	case strings.IndexByte(password, 0) >= 0:
		return fmt.Errorf("%w: contains a NUL byte", ErrInvalidPassword)
	}
	return nil
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
