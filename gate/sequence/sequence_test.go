package sequence

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNextCounts(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, device := range []string{"relay1", "relay1", "relay2", "relay1"} {
		n, err := s.Next(device, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if diff := cmp.Diff([]uint64{1, 2, 1, 3}, got); diff != "" {
		t.Errorf("sequence numbers mismatch (-want +got):\n%s", diff)
	}
}

// A restarted gate opens the directory again and must go on above the last
// number, never reuse one.
func TestNextContinuesAfterReopen(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := first.Next("relay1", 0); err != nil {
			t.Fatal(err)
		}
	}

	second, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := second.Next("relay1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("Next after reopen = %d, want 4", n)
	}
	data, err := os.ReadFile(filepath.Join(dir, "relay1.seq"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "4\n" {
		t.Errorf("relay1.seq = %q, want %q", data, "4\n")
	}
}

func TestNextFileMode(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next("relay1", 0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "relay1.seq"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != fileMode {
		t.Errorf("mode = %v, want %v", fi.Mode().Perm(), fileMode)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only relay1.seq (no temporary file)", len(entries))
	}
}

func TestNextRejects(t *testing.T) {
	tests := []struct {
		name, device string
		file         string // content of <device>.seq, "-" for no file
		want         string
	}{
		{"damaged file", "relay1", "12x\n", "does not contain a number"},
		{"empty file", "relay1", "", "does not contain a number"},
		{"at maximum", "relay1", "9223372036854775807\n", "is the maximum"},
		{"path in name", "../etc", "-", "invalid device name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "-" {
				err := os.WriteFile(filepath.Join(dir, tt.device+".seq"), []byte(tt.file), 0o600)
				if err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Next(tt.device, 0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Next error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNextConcurrent(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	got := make(chan uint64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			seq, err := s.Next("relay1", 0)
			if err != nil {
				t.Error(err)
			}
			got <- seq
		})
	}
	wg.Wait()
	close(got)
	seen := make(map[uint64]bool)
	for seq := range got {
		if seen[seq] {
			t.Errorf("sequence number %d handed out twice", seq)
		}
		seen[seq] = true
	}
	if last, _ := s.Last("relay1"); last != n {
		t.Errorf("Last = %d, want %d", last, n)
	}
}

// A missing sequence file restarted the numbers at 1, though the relay had
// accepted higher ones and rejected every new command as a replay.
func TestNextAboveRelayLastSeq(t *testing.T) {
	tests := []struct {
		name      string
		file      string // content of relay1.seq, "-" for no file
		relayLast uint64
		want      uint64
		warning   string // "" for no warning
	}{
		{"missing file", "-", 41, 42, "sequence file missing"},
		{"file behind the relay", "5\n", 9, 10, "sequence file behind the relay"},
		{"file ahead of the relay", "12\n", 9, 13, ""},
		{"missing file, relay never accepted", "-", 0, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "relay1.seq")
			if tt.file != "-" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var log strings.Builder
			s, err := Open(dir, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.Next("relay1", tt.relayLast)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if n != tt.want {
				t.Errorf("Next = %d, want %d", n, tt.want)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := strconv.FormatUint(tt.want, 10) + "\n"; string(data) != want {
				t.Errorf("relay1.seq = %q, want %q", data, want)
			}
			checkWarning(t, log.String(), tt.warning)
		})
	}
}

// checkWarning fails the test unless log holds one warning about relay1
// containing want, or no line at all when want is "".
func checkWarning(t *testing.T, log, want string) {
	t.Helper()
	if want == "" {
		if log != "" {
			t.Errorf("logged %q, want nothing", log)
		}
		return
	}
	if strings.Count(log, "\n") != 1 || !strings.Contains(log, "level=WARN") ||
		!strings.Contains(log, want) || !strings.Contains(log, "device=relay1") {
		t.Errorf("logged %q, want one warning %q naming device=relay1", log, want)
	}
}

// The relay's number must not make a damaged file look like a fresh start.
func TestNextDamagedFileWithRelayLastSeq(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "relay1.seq"), []byte("12x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next("relay1", 41); err == nil || !strings.Contains(err.Error(), "does not contain a number") {
		t.Errorf("Next error = %v, want a damaged file", err)
	}
}

// The end of a cooldown must survive a reopen, as the sequence numbers do.
func TestCooldownEndAfterReopen(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 12, 4, 12, 0, 10, 250_000_000, time.FixedZone("CET", 3600))
	if err := first.SetCooldownEnd("relay1", end); err != nil {
		t.Fatalf("SetCooldownEnd: %v", err)
	}

	second, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := second.CooldownEnd("relay1")
	if err != nil {
		t.Fatalf("CooldownEnd: %v", err)
	}
	if !got.Equal(end) {
		t.Errorf("CooldownEnd = %v, want %v", got, end)
	}
	fi, err := os.Stat(filepath.Join(dir, "relay1.cooldown"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != fileMode {
		t.Errorf("mode = %v, want %v", fi.Mode().Perm(), fileMode)
	}
	if end, err := second.CooldownEnd("relay2"); err != nil || !end.IsZero() {
		t.Errorf("CooldownEnd without a file = %v, %v, want the zero Time", end, err)
	}
}

func TestCooldownEndRejects(t *testing.T) {
	tests := []struct {
		name, device string
		file         string // content of <device>.cooldown, "-" for no file
		want         string
	}{
		{"damaged file", "relay1", "soon\n", "does not contain an RFC 3339 time"},
		{"empty file", "relay1", "", "does not contain an RFC 3339 time"},
		{"path in name", "../etc", "-", "invalid device name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.file != "-" {
				err := os.WriteFile(filepath.Join(dir, tt.device+".cooldown"), []byte(tt.file), 0o600)
				if err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.CooldownEnd(tt.device)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CooldownEnd error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
