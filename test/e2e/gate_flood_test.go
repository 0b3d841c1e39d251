package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shape and limits of the flood in TestGateFlood.
const (
	floodConns   = 2000
	floodWorkers = 24 // connections open at once, over all flood sources
	// floodSpread is the time over which the flood starts its connections.
	// Unpaced, the whole flood took about 0.1 s on a 2-core machine, which
	// leaves no time to sample the gate's memory or to watch its log across
	// several rate-limit windows.
	floodSpread = 5 * time.Second
	floodLimit  = 20 * time.Second
	// floodReadTimeout bounds the wait for the gate to close one flood
	// connection. The flood half-closes each connection after its payload,
	// so the gate never waits for more bytes and closes it at once.
	floodReadTimeout = 5 * time.Second

	// floodTriggerLimit bounds the phone's trigger during the flood, curl's
	// start included.
	floodTriggerLimit = time.Second

	// maxGateRSS bounds the gate's resident memory during and after the flood.
	maxGateRSS = 64 << 20
	// rssInterval is how often the test reads the gate's VmRSS.
	rssInterval = 50 * time.Millisecond

	// maxLinesPerSourcePerSecond bounds the gate's log lines about one flood
	// source in one calendar second. The gate logs at most 3 rejections per
	// source in a 1-second window that starts at its first line
	// (logBurstPerSource in gate/socks), so one calendar second can contain
	// 6. Add 2 summaries of suppressed lines, because the gate logs one per
	// second and a late one can share a calendar second with the next. Add
	// 1 lockout line, because the first lockout lasts 1 minute by default.
	maxLinesPerSourcePerSecond = 9
)

// floodSources are the addresses that the flood connects from, and
// phoneSource is the phone's. They differ, because the gate caps connections
// and locks out failed logins per source address.
var (
	floodSources = []string{
		"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7",
	}
	phoneSource = "127.0.0.10"
)

// floodPayloads are what the flood sends: garbage that a scanner might send
// to an open port, and SOCKS5 logins with wrong passwords. Each one fails the
// gate's handshake.
var floodPayloads = [][]byte{
	[]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), // the start of a TLS ClientHello
	[]byte("GET / HTTP/1.1\r\nHost: garage.gate\r\n\r\n"),
	[]byte("\x04\x01\x00\x50\x7f\x00\x00\x01root\x00"), // a SOCKS4 CONNECT
	[]byte("\x05\x01\x00"),                             // SOCKS5 without authentication
	[]byte("\x05\x01\x02\x02\x05admin\x05admin"),       // a wrong RFC 1929 version
	socks5Login("phone1", "not-the-password"),
	socks5Login("admin", "admin"),
	[]byte(strings.Repeat("\xff", 64)),
}

// socks5Login returns a SOCKS5 greeting that offers username/password
// authentication, followed by the RFC 1929 request with user and password.
func socks5Login(user, password string) []byte {
	b := []byte{0x05, 0x01, 0x02, 0x01, byte(len(user))}
	b = append(b, user...)
	b = append(b, byte(len(password)))
	return append(b, password...)
}

// TestGateFlood floods the garage-gate process with connections from several
// loopback sources that send garbage or wrong SOCKS5 passwords. Meanwhile a
// phone on another source triggers relay1 once through curl. The trigger must
// succeed within a second, the gate's memory and log must stay bounded, and
// relay1 must receive exactly one command.
func TestGateFlood(t *testing.T) {
	h := newHub(t)
	b := startBroker(t, h)
	relay := subscribeCommands(t, h, b, "relay1", false)
	configPath, listen := writeGateConfig(t, h, b, gateSettings{cooldown: "10s"})
	g := startGate(t, h, configPath, listen)
	phone := readPhone(t, h, "phone1")
	trigger := prepareAPITrigger(t, g, phone, "relay1")
	// curl binds its connection to the gate to phoneSource.
	trigger.cmd.Args = append(trigger.cmd.Args, "--interface", phoneSource)
	rss := sampleRSS(t, g.cmd.Process.Pid)

	ctx, cancel := context.WithTimeout(t.Context(), floodLimit)
	defer cancel()
	f := startFlood(ctx, listen)

	// The trigger starts once a quarter of the flood is done, so that it
	// runs while the gate is busy rejecting.
	waitFlood(t, f, floodConns/4)
	res := trigger.run()
	triggerEnd := time.Now()
	doneAtTrigger := f.done.Load()

	<-f.finished
	floodEnd := time.Now()
	floodTook := floodEnd.Sub(f.start)
	t.Logf("flood: %d connections from %d sources in %s; trigger: status %d in %s, "+
		"after %d flood connections",
		f.done.Load(), len(floodSources), floodTook.Round(time.Millisecond), res.status,
		res.took.Round(time.Millisecond), doneAtTrigger)

	if ctx.Err() != nil {
		t.Fatalf("the flood did not finish within %s: %d of %d connections done",
			floodLimit, f.done.Load(), floodConns)
	}
	if n := f.dialErrors.Load(); n > 0 {
		t.Errorf("%d flood connections failed to connect, first error: %v", n, f.firstError())
	}
	if n := f.notClosed.Load(); n > 0 {
		t.Errorf("the gate did not close %d flood connections within %s", n, floodReadTimeout)
	}
	if doneAtTrigger >= floodConns || triggerEnd.After(floodEnd) {
		t.Errorf("the flood ended before the trigger did, so the trigger did not run during it")
	}

	if res.status != 202 {
		t.Fatalf("trigger during the flood: status %d (curl exit %d), want 202: %s",
			res.status, res.exitCode, res.body)
	}
	if res.took > floodTriggerLimit {
		t.Errorf("trigger during the flood took %s, want at most %s", res.took, floodTriggerLimit)
	}
	body := decodeAPI(t, res)
	cmd := relay.next(t)
	if cmd.Seq != body.Seq {
		t.Errorf("relay1 received seq %d, the API reported %d", cmd.Seq, body.Seq)
	}

	// Any second command would have been published before the flood ended.
	// The wait also lets the gate log its last summary of suppressed lines.
	relay.expectNone(t, 2*time.Second)
	waitRejectionsAccounted(t, g, floodConns)
	rss.stop()

	checkGateRSS(t, rss, f.start, floodEnd)
	checkFloodLogRate(t, g.log.String(), floodTook)
	if n := strings.Count(g.log.String(), `msg="trigger sent"`); n != 1 {
		t.Errorf("the gate logged %d sent triggers, want 1", n)
	}
}

// flood is a running flood of the gate's SOCKS5 port.
type flood struct {
	start      time.Time
	next, done atomic.Int64
	dialErrors atomic.Int64
	notClosed  atomic.Int64 // connections that the gate kept open past floodReadTimeout
	finished   chan struct{}

	mu       sync.Mutex
	firstErr error
}

// startFlood opens floodConns connections to addr from floodWorkers
// goroutines, connection i no earlier than i/floodConns of floodSpread after
// the start. Connection i comes from a flood source chosen by i and sends one
// of floodPayloads, so that every source sends every payload. The flood stops
// early when ctx ends, and f.finished is closed when it is over.
func startFlood(ctx context.Context, addr string) *flood {
	f := &flood{start: time.Now(), finished: make(chan struct{})}
	var workers sync.WaitGroup
	for range floodWorkers {
		workers.Go(func() {
			for i := f.next.Add(1) - 1; i < floodConns && ctx.Err() == nil; i = f.next.Add(1) - 1 {
				due := f.start.Add(time.Duration(i) * floodSpread / floodConns)
				if !sleepUntil(ctx, due) {
					return
				}
				source := floodSources[int(i)%len(floodSources)]
				payload := floodPayloads[int(i/int64(len(floodSources)))%len(floodPayloads)]
				f.connect(ctx, source, addr, payload)
				f.done.Add(1)
			}
		})
	}
	go func() {
		workers.Wait()
		close(f.finished)
	}()
	return f
}

// connect sends payload to addr from source, half-closes the connection so
// that the gate never waits for more, and reads until the gate closes it.
func (f *flood) connect(ctx context.Context, source, addr string, payload []byte) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil {
			f.dialErrors.Add(1)
			f.recordError(fmt.Errorf("connect from %s: %w", source, err))
		}
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(floodReadTimeout))
	// Write errors are expected: the gate may close the connection after
	// the first bytes.
	c.Write(payload)
	c.(*net.TCPConn).CloseWrite()
	// A reset also ends the read: the gate closes with the rest unread.
	if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
		f.notClosed.Add(1)
	}
}

// sleepUntil waits until t and reports false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func (f *flood) recordError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.firstErr == nil {
		f.firstErr = err
	}
}

func (f *flood) firstError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.firstErr
}

// waitFlood waits until n flood connections are done, and fails the test if
// the flood ends first or floodLimit passes.
func waitFlood(t *testing.T, f *flood, n int64) {
	t.Helper()
	deadline := time.After(floodLimit)
	for f.done.Load() < n {
		select {
		case <-f.finished:
			t.Fatalf("the flood ended after %d connections, before %d were done", f.done.Load(), n)
		case <-deadline:
			t.Fatalf("%d flood connections done within %s, want %d", f.done.Load(), floodLimit, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// rssSample is one reading of a process's VmRSS, in bytes.
type rssSample struct {
	at    time.Time
	bytes int64
}

// rssSampler reads a process's VmRSS every rssInterval until stop.
type rssSampler struct {
	pid     int
	quit    chan struct{}
	stopped chan struct{}
	samples []rssSample // written by the sampler until stopped is closed
	err     error       // the first failed read, after which sampling stops
}

// sampleRSS takes the first sample of the VmRSS of pid and starts sampling
// it. t.Cleanup stops the sampler if the test does not.
func sampleRSS(t *testing.T, pid int) *rssSampler {
	t.Helper()
	s := &rssSampler{pid: pid, quit: make(chan struct{}), stopped: make(chan struct{})}
	if !s.sample() {
		t.Fatalf("sample the gate's memory: %v", s.err)
	}
	go s.run()
	t.Cleanup(s.stop)
	return s
}

func (s *rssSampler) run() {
	defer close(s.stopped)
	ticker := time.NewTicker(rssInterval)
	defer ticker.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-ticker.C:
		}
		if !s.sample() {
			return
		}
	}
}

// sample appends one reading, or records the error and reports false.
func (s *rssSampler) sample() bool {
	rss, err := procStatusBytes(s.pid, "VmRSS")
	if err != nil {
		s.err = err
		return false
	}
	s.samples = append(s.samples, rssSample{time.Now(), rss})
	return true
}

// stop ends the sampling and waits for the sampler. It is safe to call twice.
func (s *rssSampler) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.stopped
}

// procStatusBytes returns a field of /proc/<pid>/status given in kB, such as
// VmRSS, in bytes.
func procStatusBytes(pid int, field string) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", field, err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		value, ok := strings.CutPrefix(lines.Text(), field+":")
		if !ok {
			continue
		}
		kB, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(value, "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: invalid %s line %q", path, field, lines.Text())
		}
		return kB << 10, nil
	}
	if err := lines.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("%s has no %s line", path, field)
}

// checkGateRSS fails the test unless every VmRSS sample of the gate, during
// the flood and after it, is below maxGateRSS, and so is its VmHWM, the peak
// that the kernel recorded between the samples.
func checkGateRSS(t *testing.T, s *rssSampler, floodStart, floodEnd time.Time) {
	t.Helper()
	if s.err != nil {
		t.Errorf("sample the gate's memory: %v", s.err)
	}
	var before, during, after []int64
	for _, sample := range s.samples {
		switch {
		case sample.at.Before(floodStart):
			before = append(before, sample.bytes)
		case sample.at.Before(floodEnd):
			during = append(during, sample.bytes)
		default:
			after = append(after, sample.bytes)
		}
	}
	if len(before) == 0 || len(during) == 0 || len(after) == 0 {
		t.Fatalf("%d VmRSS samples before the flood, %d during and %d after, want some of each",
			len(before), len(during), len(after))
	}
	peakDuring, peakAfter := slices.Max(during), slices.Max(after)
	last := after[len(after)-1]
	t.Logf("gate VmRSS: %.1f MiB before the flood, peak %.1f MiB during it (%d samples), "+
		"peak %.1f MiB after it (%d samples), last %.1f MiB", mib(before[len(before)-1]),
		mib(peakDuring), len(during), mib(peakAfter), len(after), mib(last))
	for _, c := range []struct {
		what string
		rss  int64
	}{{"during the flood", peakDuring}, {"after the flood", peakAfter}} {
		if c.rss >= maxGateRSS {
			t.Errorf("gate VmRSS %s reached %.1f MiB, want below %.0f MiB",
				c.what, mib(c.rss), mib(maxGateRSS))
		}
	}

	hwm, err := procStatusBytes(s.pid, "VmHWM")
	if err != nil {
		t.Errorf("read the gate's peak memory: %v", err)
		return
	}
	t.Logf("gate VmHWM: %.1f MiB", mib(hwm))
	if hwm >= maxGateRSS {
		t.Errorf("gate VmHWM reached %.1f MiB, want below %.0f MiB", mib(hwm), mib(maxGateRSS))
	}
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// gateLogLine is one line of the gate's slog text output.
type gateLogLine struct {
	time   time.Time
	msg    string
	source string // the address of the source attribute, without a port
	count  int    // the count attribute of a summary line
}

var (
	logTimeRE   = regexp.MustCompile(`^time=(\S+) `)
	logMsgRE    = regexp.MustCompile(` msg=("(?:[^"\\]|\\.)*"|\S+)`)
	logSourceRE = regexp.MustCompile(` source=(\S+)`)
	logCountRE  = regexp.MustCompile(` count=(\d+)`)
)

// parseGateLog returns the lines of the gate's log that have a time and a
// message. Lines without a source attribute get an empty source.
func parseGateLog(t *testing.T, log string) []gateLogLine {
	t.Helper()
	var lines []gateLogLine
	for text := range strings.SplitSeq(log, "\n") {
		tm, msg := logTimeRE.FindStringSubmatch(text), logMsgRE.FindStringSubmatch(text)
		if tm == nil || msg == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, tm[1])
		if err != nil {
			t.Fatalf("gate log line with an invalid time: %q", text)
		}
		line := gateLogLine{time: at, msg: msg[1]}
		if unquoted, err := strconv.Unquote(msg[1]); err == nil {
			line.msg = unquoted
		}
		if m := logSourceRE.FindStringSubmatch(text); m != nil {
			line.source = sourceAddr(m[1])
		}
		if m := logCountRE.FindStringSubmatch(text); m != nil {
			line.count, _ = strconv.Atoi(m[1])
		}
		lines = append(lines, line)
	}
	return lines
}

// sourceAddr returns the address of a source attribute, which is an address
// with a port or a bare address, or "all" for the total of a summary line.
func sourceAddr(value string) string {
	if ap, err := netip.ParseAddrPort(value); err == nil {
		return ap.Addr().String()
	}
	return value
}

// waitRejectionsAccounted waits until the gate's rejection lines and the
// counts of its summary lines, over the flood sources, cover want
// connections. It fails the test after gateStartTimeout.
func waitRejectionsAccounted(t *testing.T, g *gateProc, want int) {
	t.Helper()
	deadline := time.Now().Add(gateStartTimeout)
	for {
		logged, suppressed := countRejections(t, g.log.String())
		if logged+suppressed >= want {
			t.Logf("gate log: %d rejection lines, %d rejections counted in summaries",
				logged, suppressed)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gate logged %d rejections and counted %d in summaries within %s "+
				"of the flood, want at least one per flood connection (%d)",
				logged, suppressed, gateStartTimeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countRejections returns the number of rejection lines about flood sources
// in log, and the number of rejections that its summary lines counted for
// flood sources or for all sources together.
func countRejections(t *testing.T, log string) (logged, suppressed int) {
	t.Helper()
	for _, line := range parseGateLog(t, log) {
		switch {
		case line.msg == "socks connection rejected" && slices.Contains(floodSources, line.source):
			logged++
		case line.msg == "socks log lines suppressed" &&
			(line.source == "all" || slices.Contains(floodSources, line.source)):
			suppressed += line.count
		}
	}
	return logged, suppressed
}

// checkFloodLogRate counts the gate's log lines about each flood source per
// calendar second and fails the test when a source exceeds
// maxLinesPerSourcePerSecond.
func checkFloodLogRate(t *testing.T, log string, floodTook time.Duration) {
	t.Helper()
	type bucket struct {
		source string
		second int64
	}
	perSecond := map[bucket]int{}
	perSource := map[string]int{}
	for _, line := range parseGateLog(t, log) {
		if !slices.Contains(floodSources, line.source) {
			continue
		}
		perSecond[bucket{line.source, line.time.Unix()}]++
		perSource[line.source]++
	}

	busiest := map[string]int{}
	for k, n := range perSecond {
		busiest[k.source] = max(busiest[k.source], n)
		if n > maxLinesPerSourcePerSecond {
			t.Errorf("the gate logged %d lines about %s in the second from %s, want at most %d",
				n, k.source, time.Unix(k.second, 0).UTC().Format(time.TimeOnly),
				maxLinesPerSourcePerSecond)
		}
	}
	for _, source := range floodSources {
		if perSource[source] == 0 {
			t.Errorf("the gate logged nothing about the flood source %s", source)
		}
		t.Logf("log lines about %s: %d in all, at most %d in one second, "+
			"%.1f per second of flood", source, perSource[source], busiest[source],
			float64(perSource[source])/floodTook.Seconds())
	}
}
