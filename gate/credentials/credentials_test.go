package credentials

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/internal/hostfs"
	"github.com/garagectl/garagectl/internal/layout"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sources returns a root Source and a systemd Source that hold the same secrets.
func sources(t *testing.T) map[string]Source {
	t.Helper()
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		layout.MQTTPassword(layout.GateAccount): "mqtt-secret\n",
		layout.PhonePassword("phone1"):          "phone-secret\n",
		layout.PhoneToken("phone1"):             "token-secret\n",
		layout.DeviceKey("relay1"):              testKey + "\n",
	}
	creds := t.TempDir()
	names := map[string]string{
		layout.MQTTPassword(layout.GateAccount): layout.GateMQTTCredential,
		layout.PhonePassword("phone1"):          layout.PhonePasswordCredential("phone1"),
		layout.PhoneToken("phone1"):             layout.PhoneTokenCredential("phone1"),
		layout.DeviceKey("relay1"):              layout.DeviceKeyCredential("relay1"),
	}
	for hostPath, data := range files {
		write(t, root.Path(hostPath), data)
		write(t, filepath.Join(creds, names[hostPath]), data)
	}
	return map[string]Source{"root": FromRoot(root), "systemd": FromDir(creds)}
}

func TestSourceReads(t *testing.T) {
	for name, src := range sources(t) {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, read := range []func() (string, error){
				src.MQTTPassword,
				func() (string, error) { return src.PhonePassword("phone1") },
				func() (string, error) { return src.PhoneToken("phone1") },
			} {
				s, err := read()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			want := []string{"mqtt-secret", "phone-secret", "token-secret"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("secrets mismatch (-want +got):\n%s", diff)
			}

			key, err := src.DeviceKey("relay1")
			if err != nil {
				t.Fatal(err)
			}
			if len(key) != 32 || key[31] != 0x1f {
				t.Errorf("DeviceKey = %x, want the bytes of %s", key, testKey)
			}
		})
	}
}

func TestSourceRejects(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "alone on one line"},
		{"only newline", "\n", "alone on one line"},
		{"two lines", "a\nb\n", "alone on one line"},
		{"space inside", "a b\n", "alone on one line"},
		{"too large", strings.Repeat("a", maxSize+1), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, layout.GateMQTTCredential), tt.data)
			_, err := FromDir(dir).MQTTPassword()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("MQTTPassword error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSourceMissing(t *testing.T) {
	_, err := FromDir(t.TempDir()).PhoneToken("phone1")
	if err == nil || !strings.Contains(err.Error(), "phone-phone1.token") {
		t.Errorf("PhoneToken error = %v, want one naming phone-phone1.token", err)
	}
}

func TestSourceBadKey(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, layout.DeviceKeyCredential("relay1")), "abcd\n")
	_, err := FromDir(dir).DeviceKey("relay1")
	if err == nil || !strings.Contains(err.Error(), "device relay1") {
		t.Errorf("DeviceKey error = %v, want one naming device relay1", err)
	}
}

func TestFromEnv(t *testing.T) {
	root, err := hostfs.NewRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, layout.GateMQTTCredential), "from-systemd\n")
	write(t, root.Path(layout.MQTTPassword(layout.GateAccount)), "from-root\n")

	tests := []struct{ name, env, want string }{
		{"set", dir, "from-systemd"},
		{"unset", "", "from-root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(DirEnv, tt.env)
			got, err := FromEnv(root).MQTTPassword()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("MQTTPassword = %q, want %q", got, tt.want)
			}
		})
	}
}
