package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/garagectl/garagectl/internal/layout"
	"github.com/garagectl/garagectl/internal/testutil"
)

// testsslTimeout bounds the testssl run. A full run against the broker took
// 38 s inside the network namespace and 62 s outside it on one development
// VM, so five minutes leaves room for slower CI machines.
const testsslTimeout = 5 * time.Minute

// testsslFatalStatus is the lowest exit status testssl 3.0 uses for its own
// failures (ERR_CHILD 242 to ERR_BASH 255). Below it, the status adds up the
// return values of the checks, which is no verdict on the server.
const testsslFatalStatus = 242

// allowedFinding is a testssl finding the test accepts up to maxSeverity.
// A non-empty text limits the allowance to a finding with exactly that text.
type allowedFinding struct {
	maxSeverity string
	text        string
	reason      string
}

// allowedFindings are the testssl findings the test accepts, by ID.
var allowedFindings = map[string]allowedFinding{
	"cert_revocation": {maxSeverity: "HIGH", reason: "the CA is offline and publishes no CRL or " +
		"OCSP responder, and BearSSL on the relays supports neither CRLs nor OCSP stapling " +
		"(libtls-bearssl README)"},
	"DNS_CAArecord": {maxSeverity: "LOW", reason: "home.arpa names (RFC 8375) have no public DNS, " +
		"so no CAA record can exist. With --nodns none testssl reports the check as skipped (INFO)"},
	// NOTE: a race in testssl 3.0.8, not a broker finding, gave this WARN in 6 of 16 runs
	// on a development VM. The ticket check closes its first s_client before the TLS 1.3
	// NewSessionTicket arrives, then resumes from the empty session file, which fails
	// ("0, 1, empty" with --debug 2). The check only reports whether tickets resume (INFO).
	"sessionresumption_ticket": {maxSeverity: "WARN", text: "check failed because of connect problem",
		reason: "testssl lost the race for the TLS 1.3 session ticket"},
}

// requiredFindings are finding IDs a complete scan reports, one or more per
// area: protocols, cipher categories, forward secrecy, the certificate and
// the vulnerability checks. Their absence means testssl skipped an area.
var requiredFindings = map[string]string{
	"SSLv3":               "not offered",
	"TLS1":                "not offered",
	"TLS1_1":              "not offered",
	"TLS1_2":              "offered",
	"cipherlist_AVERAGE":  "not offered", // CBC suites
	"PFS":                 "offered",
	"cert_chain_of_trust": "passed.",
	"heartbleed":          "",
	"ROBOT":               "",
	"LUCKY13":             "",
}

// severityRank orders testssl's severities. WARN and FATAL mark a check that
// testssl could not run, so they rank above every finding.
var severityRank = map[string]int{
	"DEBUG": 0, "INFO": 0, "OK": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4,
	"WARN": 5, "FATAL": 5,
}

// testsslFinding is one entry of testssl's --jsonfile-pretty output.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

// TestTestsslScan runs a full testssl scan against the broker and accepts no
// finding at LOW or above, except those in allowedFindings.
func TestTestsslScan(t *testing.T) {
	testssl := testutil.RequireTool(t, "testssl", "testssl.sh")
	h := newHub(t)
	ns := newNetns(t)
	b := startBrokerIn(t, h, ns)

	start := time.Now()
	findings := runTestssl(t, testssl, ns, b, h.path(layout.CACert))
	t.Logf("testssl took %s", time.Since(start).Round(time.Second))

	byID := map[string]testsslFinding{}
	for _, f := range findings {
		byID[f.ID] = f
		rank, known := severityRank[f.Severity]
		if !known {
			t.Errorf("finding %s has the unknown severity %q: %s", f.ID, f.Severity, f.Finding)
			continue
		}
		if rank == 0 {
			continue
		}
		allowed, ok := allowedFindings[f.ID]
		textMatches := allowed.text == "" || allowed.text == f.Finding
		if ok && textMatches && rank <= severityRank[allowed.maxSeverity] {
			t.Logf("accepted %s %s (%s): %s", f.Severity, f.ID, f.Finding, allowed.reason)
			continue
		}
		t.Errorf("testssl finding %s, severity %s: %s", f.ID, f.Severity, f.Finding)
	}

	for id, want := range requiredFindings {
		f, ok := byID[id]
		switch {
		case !ok:
			t.Errorf("testssl reported no %s finding, so that check did not run", id)
		case want != "" && f.Finding != want:
			t.Errorf("testssl %s = %q, want %q", id, f.Finding, want)
		}
	}
}

// runTestssl scans the broker as hub.home.arpa at 127.0.0.1 and returns every
// finding of the JSON output. The garage CA is trusted through
// ADDITIONAL_CA_FILES.
//
// testssl runs in the broker's network namespace ns, because testssl 3.0.8
// probes openssl's options with "openssl s_client" and no -connect, which
// connects to openssl's default localhost:4433. In the namespace that port
// is closed, and nothing outside it is reachable. Inside it, --nodns none
// skips name lookups, NXCONNECT replaces the name "invalid." that testssl
// connects to when it probes openssl, and PHONE_OUT=false keeps CRL and OCSP
// fetches off even if the environment sets it.
func runTestssl(
	t *testing.T, testssl string, ns *netns, b *broker, caFile string,
) []testsslFinding {
	t.Helper()
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "testssl.json")
	_, port, _ := strings.Cut(b.addr, ":")

	ctx, cancel := context.WithTimeout(t.Context(), testsslTimeout)
	defer cancel()
	cmd := ns.command(ctx, testssl,
		"--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
		"--ip", "127.0.0.1", "--jsonfile-pretty", jsonFile, serverName+":"+port)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ADDITIONAL_CA_FILES="+caFile, "NXCONNECT=127.0.0.1:0", "PHONE_OUT=false")
	// testssl forks openssl and subshells, so a timeout kills its whole
	// process group. nsenter execs testssl, which leads the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("testssl did not finish within %s:\n%s", testsslTimeout, out)
	}
	var exitErr *exec.ExitError
	if err != nil && (!errors.As(err, &exitErr) || exitErr.ExitCode() >= testsslFatalStatus) {
		t.Fatalf("testssl failed: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testssl output:\n%s", out)
		}
	})
	return readTestsslJSON(t, jsonFile)
}

// readTestsslJSON returns the findings of every section of a
// --jsonfile-pretty file.
func readTestsslJSON(t *testing.T, path string) []testsslFinding {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read testssl JSON: %v", err)
	}
	var doc struct {
		ScanResult []map[string]json.RawMessage `json:"scanResult"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(doc.ScanResult) != 1 {
		t.Fatalf("%s: want one scan result, got %d", path, len(doc.ScanResult))
	}

	var findings []testsslFinding
	for section, raw := range doc.ScanResult[0] {
		// Sections are arrays of findings. The other keys, such as
		// targetHost and port, are plain strings and are skipped.
		var list []testsslFinding
		if json.Unmarshal(raw, &list) != nil {
			continue
		}
		for _, f := range list {
			if f.ID == "" {
				t.Errorf("%s: a finding in section %s has no id", path, section)
			}
			findings = append(findings, f)
		}
	}
	return findings
}
