package pki

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/garagectl/garagectl/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	bundleFixture = "testdata/ca-bundle.pem"
	headerGolden  = "testdata/garage_ca.h"
)

// caBundleFixture returns two CA certificates kept in testdata, so the
// golden header stays the same from run to run. With -update and no fixture
// yet, it creates one.
func caBundleFixture(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(bundleFixture)
	if err == nil || !*update {
		if err != nil {
			t.Fatalf("read fixture: %v (run go test -update to create it)", err)
		}
		return data
	}
	data = append(testCA(t, KeyRSA2048).CertPEM(), testCA(t, KeyECDSAP256).CertPEM()...)
	if err := os.WriteFile(bundleFixture, data, 0o644); err != nil {
		t.Fatalf("write fixture: %v", err)
	}
	return data
}

func TestESP8266HeaderGolden(t *testing.T) {
	got, err := ESP8266Header(caBundleFixture(t), HeaderOptions{})
	if err != nil {
		t.Fatalf("ESP8266Header: %v", err)
	}
	if *update {
		if err := os.WriteFile(headerGolden, got, 0o644); err != nil {
			t.Fatalf("write golden file: %v", err)
		}
	}
	want, err := os.ReadFile(headerGolden)
	if err != nil {
		t.Fatalf("read golden file: %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("ESP8266Header output (-want +got):\n%s", diff)
	}

	again, err := ESP8266Header(caBundleFixture(t), HeaderOptions{})
	if err != nil {
		t.Fatalf("ESP8266Header, second run: %v", err)
	}
	if !bytes.Equal(got, again) {
		t.Error("ESP8266Header gave different bytes for the same input")
	}
}

// headerProgram includes the header twice, to exercise the include guard, and
// prints the PEM string and each fingerprint as hex, one per line.
const headerProgram = `#define PROGMEM
#include <stdio.h>
#include "garage_ca.h"
#include "garage_ca.h"

int main(void) {
    int i, j;
    fputs(garage_ca_pem, stdout);
    for (i = 0; i < GARAGE_CA_COUNT; i++) {
        for (j = 0; j < 32; j++) {
            printf("%02X%s", garage_ca_sha256[i][j], j < 31 ? ":" : "\n");
        }
    }
    return 0;
}
`

func TestESP8266HeaderCompiles(t *testing.T) {
	tests := []struct {
		name     string
		compiler string
		args     []string
	}{
		{"C++", "g++", []string{"-x", "c++"}},
		{"C", "gcc", []string{"-x", "c"}},
	}
	dir := writeHeaderProgram(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compiler := testutil.RequireTool(t, tt.compiler, tt.compiler)
			args := append([]string{"-Wall", "-Wextra", "-Werror", "-fsyntax-only"}, tt.args...)
			args = append(args, filepath.Join(dir, "main.c"))
			out, err := exec.CommandContext(t.Context(), compiler, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", tt.compiler, args, err, out)
			}
		})
	}
}

// TestESP8266HeaderValues compiles and runs a host program to check that
// the C values equal the PEM input and OpenSSL's SHA-256 fingerprints.
func TestESP8266HeaderValues(t *testing.T) {
	compiler := testutil.RequireTool(t, "g++", "g++")
	dir := writeHeaderProgram(t)
	binary := filepath.Join(dir, "print-ca")
	build := exec.CommandContext(t.Context(), compiler, "-Wall", "-Werror", "-x", "c++",
		"-o", binary, filepath.Join(dir, "main.c"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build header program: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(t.Context(), binary).Output()
	if err != nil {
		t.Fatalf("run header program: %v", err)
	}

	var want strings.Builder
	want.Write(caBundleFixture(t))
	for _, cert := range splitPEM(t, caBundleFixture(t)) {
		certFile := writeTemp(t, t.TempDir(), "ca.crt", cert)
		fp := mustOpenSSL(t, "x509", "-in", certFile, "-noout", "-fingerprint", "-sha256")
		want.WriteString(strings.TrimPrefix(fp, "sha256 Fingerprint="))
	}
	if diff := cmp.Diff(want.String(), string(out)); diff != "" {
		t.Errorf("values printed by the header program (-want +got):\n%s", diff)
	}
}

func writeHeaderProgram(t *testing.T) string {
	t.Helper()
	header, err := ESP8266Header(caBundleFixture(t), HeaderOptions{})
	if err != nil {
		t.Fatalf("ESP8266Header: %v", err)
	}
	dir := t.TempDir()
	writeTemp(t, dir, "garage_ca.h", header)
	writeTemp(t, dir, "main.c", []byte(headerProgram))
	return dir
}

func splitPEM(t *testing.T, bundle []byte) [][]byte {
	t.Helper()
	certs, err := parseCertificates(bundle)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, cert := range certs {
		out = append(out, pemCert(cert.Raw))
	}
	return out
}

func TestESP8266HeaderRejects(t *testing.T) {
	ca := testCA(t, KeyECDSAP256)
	leaf := issueTestServer(t, ca, KeyECDSAP256)
	tests := []struct {
		name    string
		input   []byte
		opts    HeaderOptions
		wantErr string
	}{
		{"server certificate", append(ca.CertPEM(), leaf.CertPEM...), HeaderOptions{},
			"certificate 2 (CN=hub.home.arpa) is not a CA certificate"},
		{"private key", append(ca.CertPEM(), leaf.KeyPEM...), HeaderOptions{},
			`PEM block 2 is "PRIVATE KEY"`},
		{"empty input", nil, HeaderOptions{}, "no PEM certificate found"},
		{"lower-case guard", ca.CertPEM(), HeaderOptions{Guard: "garage_h"}, `invalid include guard "garage_h"`},
		{"symbol with a dash", ca.CertPEM(), HeaderOptions{Symbol: "garage-ca"}, `invalid symbol prefix "garage-ca"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ESP8266Header(tt.input, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ESP8266Header error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestESP8266HeaderOptions(t *testing.T) {
	header, err := ESP8266Header(testCA(t, KeyECDSAP256).CertPEM(),
		HeaderOptions{Guard: "RELAY1_CA_H", Symbol: "relay1_ca"})
	if err != nil {
		t.Fatalf("ESP8266Header: %v", err)
	}
	for _, want := range []string{
		"#ifndef RELAY1_CA_H\n", "#define RELAY1_CA_H\n", "#endif // RELAY1_CA_H\n",
		"#define RELAY1_CA_COUNT 1\n", "relay1_ca_pem[] PROGMEM", "relay1_ca_sha256[RELAY1_CA_COUNT][32]",
	} {
		if !strings.Contains(string(header), want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
}

func TestCommentSafe(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain subject", "CN=garage garage CA,O=garage", "CN=garage garage CA,O=garage"},
		{"newline", "CN=a\n#define X", "CN=a_#define X"},
		{"trailing backslash", `CN=a\`, "CN=a_"},
		{"trigraph", "CN=a??/", "CN=a__/"},
		{"non-ASCII", "CN=Garáge", "CN=Gar_ge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commentSafe(tt.in); got != tt.want {
				t.Errorf("commentSafe(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
