package broker

import (
	"errors"
	"fmt"
)

// ErrInvalidName is returned for an account or device name that
// [ValidateName] rejects.
var ErrInvalidName = errors.New("invalid name")

// maxNameLength is the maximum length of an account or device name in bytes.
const maxNameLength = 64

// ValidateName returns an error wrapping [ErrInvalidName] unless name has 1 to
// 64 characters from A-Z, a-z, 0-9, '-', '_' and '.' and starts with a letter
// or digit. The limit keeps names safe in the password file (no ':', no
// leading '#' or blank), in ACL lines and as an MQTT topic level (no '+', '#'
// or '/').
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalidName)
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("%w %q: longer than %d bytes", ErrInvalidName, name, maxNameLength)
	}
	for i, r := range name {
		if isAlphanumeric(r) || (i > 0 && (r == '-' || r == '_' || r == '.')) {
			continue
		}
		return fmt.Errorf("%w %q: character %q not allowed at byte %d, "+
			"use letters, digits, '-', '_' or '.' and start with a letter or digit",
			ErrInvalidName, name, r, i)
	}
	return nil
}

func isAlphanumeric(r rune) bool {
	return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}
