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

// passphraseEnv names the environment variable that may hold the CA passphrase.
const passphraseEnv = "GARAGECTL_CA_PASSPHRASE"

// passphraseSource finds the CA passphrase: a file named by a flag, then the
// environment, then a prompt on the terminal. A flag that takes the
// passphrase itself would put it in the process list, so there is none.
type passphraseSource struct {
	file string
	cmd  *cobra.Command
	// confirm asks twice at a prompt, for a new CA.
	confirm bool
	cached  []byte
}

func addPassphraseFlag(cmd *cobra.Command, src *passphraseSource) {
	cmd.Flags().StringVar(&src.file, "ca-passphrase-file", "",
		"read the CA key passphrase from `file` (else $"+passphraseEnv+", else a prompt)")
	src.cmd = cmd
}

// Get returns the passphrase, asking for it at most once per run.
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
	s.cached = p
	return p, nil
}

func (s *passphraseSource) read() ([]byte, error) {
	if s.file != "" {
		return readPassphraseFile(s.file)
	}
	if v, ok := os.LookupEnv(passphraseEnv); ok {
		return []byte(v), nil
	}
	return s.prompt()
}

func readPassphraseFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("read CA passphrase file: %w", err)}
	}
	// Editors and echo add a final newline that is not part of the passphrase.
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
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
