package sequence

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNextCounts(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, device := range []string{"relay1", "relay1", "relay2", "relay1"} {
		n, err := s.Next(device)
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
	first, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := first.Next("relay1"); err != nil {
			t.Fatal(err)
		}
	}

	second, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := second.Next("relay1")
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
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next("relay1"); err != nil {
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
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Next(tt.device)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Next error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNextConcurrent(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	got := make(chan uint64, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			seq, err := s.Next("relay1")
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
