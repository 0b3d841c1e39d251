package broker

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPasswordFileLines(t *testing.T) {
	accounts := []Account{
		{"relay2", "pw-relay2"},
		{"gate", "pw-gate"},
		{"relay1", "pw-relay1"},
	}
	got, err := PasswordFile(accounts, nil)
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}

	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	var names []string
	for _, line := range lines {
		name, hash, _ := strings.Cut(line, ":")
		names = append(names, name)
		ok, err := VerifyPassword(hash, "pw-"+name)
		if err != nil || !ok {
			t.Errorf("line %q: VerifyPassword = %v, %v, want true", line, ok, err)
		}
	}
	if diff := cmp.Diff([]string{"gate", "relay1", "relay2"}, names); diff != "" {
		t.Errorf("account order (-want +got):\n%s", diff)
	}
}

func TestPasswordFileRerunUnchanged(t *testing.T) {
	accounts := []Account{{"gate", "pw-gate"}, {"relay1", "pw-relay1"}}
	first, err := PasswordFile(accounts, nil)
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}
	second, err := PasswordFile(accounts, first)
	if err != nil {
		t.Fatalf("PasswordFile with existing file: %v", err)
	}
	if diff := cmp.Diff(string(first), string(second)); diff != "" {
		t.Errorf("second run changed the file (-first +second):\n%s", diff)
	}
}

func TestPasswordFileUpdate(t *testing.T) {
	old := []byte("gate:" + mosquittoHashPW + "\n" +
		"relay1:" + mosquittoHashColon + "\n" +
		"removed:" + mosquittoHashPW + "\n")
	accounts := []Account{
		{"gate", "pw"},          // unchanged password: keeps its hash
		{"relay1", "changed"},   // new password: new hash
		{"relay2", "new-relay"}, // new account
	}
	got, err := PasswordFile(accounts, old)
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}
	hashes := parsePasswordFile(got)

	if diff := cmp.Diff([]string{"gate", "relay1", "relay2"}, sortedKeys(hashes)); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if hashes["gate"] != mosquittoHashPW {
		t.Errorf("gate hash = %s, want the existing %s", hashes["gate"], mosquittoHashPW)
	}
	for _, a := range accounts[1:] {
		if ok, err := VerifyPassword(hashes[a.Name], a.Password); err != nil || !ok {
			t.Errorf("%s: VerifyPassword = %v, %v, want true", a.Name, ok, err)
		}
	}
}

func TestPasswordFileRehash(t *testing.T) {
	tests := []struct {
		name     string
		existing string
	}{
		// mosquitto 2.0.11 drops an account whose salt is not 12 bytes.
		{"16-byte salt", mustEncodeHash(t, "pw", bytes.Repeat([]byte{1}, 16), 101)},
		{"fewer iterations", mustEncodeHash(t, "pw", bytes.Repeat([]byte{1}, 12), 100)},
		{"wrong password", mosquittoHashColon},
		{"malformed", "$7$101$garbage"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			existing := []byte("gate:" + tt.existing + "\n")
			got, err := PasswordFile([]Account{{"gate", "pw"}}, existing)
			if err != nil {
				t.Fatalf("PasswordFile: %v", err)
			}
			hash := parsePasswordFile(got)["gate"]
			if hash == tt.existing {
				t.Errorf("PasswordFile kept the existing hash %s", hash)
			}
			if len(saltOf(t, hash)) != 12 {
				t.Errorf("new hash %s has no 12-byte salt", hash)
			}
		})
	}
}

func TestPasswordFileKeepsStrongerHash(t *testing.T) {
	stronger := mustEncodeHash(t, "pw", bytes.Repeat([]byte{1}, 12), 1000)
	got, err := PasswordFile([]Account{{"gate", "pw"}}, []byte("gate:"+stronger+"\n"))
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}
	if diff := cmp.Diff("gate:"+stronger+"\n", string(got)); diff != "" {
		t.Errorf("PasswordFile (-want +got):\n%s", diff)
	}
}

func TestPasswordFileParsesLikeMosquitto(t *testing.T) {
	existing := fmt.Sprintf("# comment:with colon\n\n  gate : %s \r\nno colon line\n", mosquittoHashPW)
	got, err := PasswordFile([]Account{{"gate", "pw"}}, []byte(existing))
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}
	if diff := cmp.Diff("gate:"+mosquittoHashPW+"\n", string(got)); diff != "" {
		t.Errorf("PasswordFile (-want +got):\n%s", diff)
	}
}

func TestPasswordFileEmpty(t *testing.T) {
	got, err := PasswordFile(nil, []byte("gate:"+mosquittoHashPW+"\n"))
	if err != nil {
		t.Fatalf("PasswordFile: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("PasswordFile(nil) = %q, want empty", got)
	}
}

func TestPasswordFileErrors(t *testing.T) {
	tests := []struct {
		name     string
		accounts []Account
		wantErr  error
	}{
		{"invalid name", []Account{{"relay:1", "pw"}}, ErrInvalidName},
		{"empty name", []Account{{"", "pw"}}, ErrInvalidName},
		{"empty password", []Account{{"gate", ""}}, ErrInvalidPassword},
		{"NUL in password", []Account{{"gate", "a\x00b"}}, ErrInvalidPassword},
		{"duplicate", []Account{{"gate", "a"}, {"relay1", "b"}, {"gate", "c"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PasswordFile(tt.accounts, nil)
			if err == nil {
				t.Fatalf("PasswordFile = %q, want an error", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("PasswordFile error = %v, want it to wrap %v", err, tt.wantErr)
			}
		})
	}
}

func TestAccountFormatHidesPassword(t *testing.T) {
	a := Account{Name: "gate", Password: "hunter2"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, a); strings.Contains(got, "hunter2") {
			t.Errorf("Sprintf(%q) = %q, contains the password", format, got)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
