package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// minNewPassphrase is the shortest passphrase init accepts for a new CA key.
// A thief of the media can guess offline, and PBKDF2 only slows each guess.
const minNewPassphrase = 12

// passphraseEnv names the environment variable that may hold the CA passphrase.
const passphraseEnv = "GARAGECTL_CA_PASSPHRASE"

// passphraseSource finds the CA passphrase: a file named by a flag, then the
// environment, then a prompt on the terminal. A flag that takes the
// passphrase itself would put it in the process list, so there is none.
type passphraseSource struct {
	file string
	cmd  *cobra.Command
	// confirm, for a new CA, prompts twice and enforces minNewPassphrase.
	confirm bool
	cached  []byte
	g       *globals
}

func addPassphraseFlag(cmd *cobra.Command, src *passphraseSource, g *globals) {
	src.g = g
	cmd.Flags().StringVar(&src.file, "ca-passphrase-file", "",
		"read the CA key passphrase from `file` (else $"+passphraseEnv+", else a prompt)")
	src.cmd = cmd
}

// Get returns the passphrase. It reads or prompts once and caches the result.
func (s *passphraseSource) Get() ([]byte, error) {
	if s.cached != nil {
		return s.cached, nil
	}
	p, err := s.read()
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, usagef("the CA passphrase is empty: an offline CA key must be encrypted")
	}
	if s.confirm && len(p) < minNewPassphrase {
		return nil, usagef("the CA passphrase has %d characters: a new CA needs at least %d",
			len(p), minNewPassphrase)
	}
	s.cached = p
	return p, nil
}

func (s *passphraseSource) read() ([]byte, error) {
	if s.file != "" {
		if fi, err := os.Stat(s.file); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			s.g.warnf(s.cmd.ErrOrStderr(), "%s is readable by other users (mode %04o): run chmod 600 %s",
				s.file, fi.Mode().Perm(), s.file)
		}
		return readPassphraseFile(s.file)
	}
	if v, ok := os.LookupEnv(passphraseEnv); ok {
		return []byte(v), nil
	}
	return s.prompt()
}

// maxPassphraseFile bounds what readPassphraseFile reads, so that a wrong
// path such as /dev/zero fails at once instead of filling memory.
const maxPassphraseFile = 4096

// readPassphraseFile reads a passphrase from a regular file: one line, with
// at most one final newline, which editors and echo add.
func readPassphraseFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("read CA passphrase file: %w", err)}
	}
	if !fi.Mode().IsRegular() {
		return nil, usagef("CA passphrase file %s is not a regular file", path)
	}
	if fi.Size() > maxPassphraseFile {
		return nil, usagef("CA passphrase file %s is %d bytes, more than the %d a passphrase may have",
			path, fi.Size(), maxPassphraseFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("read CA passphrase file: %w", err)}
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if bytes.ContainsAny(data, "\r\n") {
		return nil, usagef("CA passphrase file %s has more than one line: "+
			"write the passphrase alone on one line", path)
	}
	return data, nil
}

func (s *passphraseSource) prompt() ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, withHint(usagef("no CA passphrase and no terminal to ask on"),
			"pass --ca-passphrase-file FILE or set "+passphraseEnv)
	}
	defer tty.Close()

	p, err := askPassphrase(tty, "CA key passphrase: ")
	if err != nil || !s.confirm {
		return p, err
	}
	again, err := askPassphrase(tty, "Repeat the passphrase: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, usagef("the two passphrases differ: run the command again")
	}
	return p, nil
}

func askPassphrase(tty *os.File, label string) ([]byte, error) {
	if _, err := io.WriteString(tty, label); err != nil {
		return nil, err
	}
	p, err := term.ReadPassword(int(tty.Fd()))
	_, _ = io.WriteString(tty, "\n")
	if err != nil {
		return nil, errors.New("read CA passphrase from the terminal: " + err.Error())
	}
	return p, nil
}
