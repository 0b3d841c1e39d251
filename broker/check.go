package broker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrInsecureConfig is returned for a mosquitto.conf that lacks a
// security-critical setting.
var ErrInsecureConfig = errors.New("insecure mosquitto.conf")

// directive is one non-comment line of mosquitto.conf.
type directive struct {
	line  int
	name  string
	value string
}

// CheckConfig returns an error wrapping [ErrInsecureConfig] unless conf has
// exactly one listener with a certfile, a keyfile and tls_version tlsv1.2 or
// tlsv1.3, and sets allow_anonymous false, per_listener_settings false, a
// password_file and an acl_file. It also rejects port and bind_address,
// which open the default plain-text listener, and include_dir, which could
// add listeners. Each of these settings must appear once.
func CheckConfig(conf []byte) error {
	directives := parseConfig(conf)
	checks := []func([]directive) error{
		checkForbidden,
		checkListener,
		requireValue("allow_anonymous", "false"),
		requireValue("per_listener_settings", "false"),
		requireSet("password_file"),
		requireSet("acl_file"),
	}
	for _, check := range checks {
		if err := check(directives); err != nil {
			return fmt.Errorf("%w: %w", ErrInsecureConfig, err)
		}
	}
	return nil
}

// parseConfig splits conf into directives the way mosquitto reads it: lines
// starting with '#' and blank lines are skipped, the first word is the name.
func parseConfig(conf []byte) []directive {
	var directives []directive
	scanner := bufio.NewScanner(bytes.NewReader(conf))
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		directives = append(directives, directive{n, name, strings.TrimSpace(value)})
	}
	return directives
}

func checkForbidden(directives []directive) error {
	for _, d := range directives {
		switch d.name {
		case "port", "bind_address", "include_dir":
			return fmt.Errorf("line %d: %s is not allowed", d.line, d.name)
		}
	}
	return nil
}

// checkListener requires one listener, followed by its certfile, keyfile
// and tls_version.
func checkListener(directives []directive) error {
	listener := -1
	for i, d := range directives {
		if d.name != "listener" {
			continue
		}
		if listener >= 0 {
			return fmt.Errorf("line %d: second listener, only one is allowed", d.line)
		}
		listener = i
	}
	if listener < 0 {
		return errors.New("no listener")
	}
	checks := []func([]directive) error{
		requireSet("certfile"),
		requireSet("keyfile"),
		requireValue("tls_version", "tlsv1.2", "tlsv1.3"),
	}
	for _, check := range checks {
		if err := check(directives[listener:]); err != nil {
			return fmt.Errorf("listener %s: %w", directives[listener].value, err)
		}
	}
	return nil
}

// requireValue returns a check that name is set once, to one of values.
func requireValue(name string, values ...string) func([]directive) error {
	return func(directives []directive) error {
		d, err := findOnce(directives, name)
		if err != nil {
			return err
		}
		for _, v := range values {
			if d.value == v {
				return nil
			}
		}
		return fmt.Errorf("line %d: %s is %q, want %s", d.line, name, d.value,
			strings.Join(values, " or "))
	}
}

// requireSet returns a check that name is set once, to a non-empty value.
func requireSet(name string) func([]directive) error {
	return func(directives []directive) error {
		d, err := findOnce(directives, name)
		if err == nil && d.value == "" {
			err = fmt.Errorf("line %d: %s has no value", d.line, name)
		}
		return err
	}
}

func findOnce(directives []directive, name string) (directive, error) {
	var found []directive
	for _, d := range directives {
		if d.name == name {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return directive{}, fmt.Errorf("%s is missing", name)
	case 1:
		return found[0], nil
	default:
		return directive{}, fmt.Errorf("line %d: %s is set %d times, want once",
			found[1].line, name, len(found))
	}
}
