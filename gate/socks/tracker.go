package socks

import (
	"net/netip"
	"sync"
	"time"
)

const (
	// maxSources bounds the table of sources, so that a flood from many addresses
	// cannot grow it without limit. When it is full, the idle source seen least
	// recently is evicted, which gives that source a fresh failure count.
	maxSources = 16384

	// logWindow, logBurstPerSource and logBurstTotal rate-limit the lines logged
	// for rejected connections, so a scanner failing thousands of handshakes a
	// second cannot fill the journal. The rest are counted and logged as one
	// summary line per logWindow.
	logWindow         = time.Second
	logBurstPerSource = 3
	logBurstTotal     = 30
)

// tracker holds the state kept across connections: connection counts for the
// caps, failed logins and lockouts, and log rate limits. All of it is keyed by
// source (see sourceKey) and guarded by mu.
type tracker struct {
	maxConns, maxConnsPerSource, lockoutFailures int
	lockoutBase, lockoutMax                      time.Duration
	now                                          func() time.Time

	mu      sync.Mutex
	conns   int
	sources map[netip.Prefix]*sourceState
	allLog  logLimit
}

// sourceState is the tracker's record of one source.
type sourceState struct {
	conns       int
	lastSeen    time.Time
	failures    int // failed logins since the last lockout
	lastFailure time.Time
	lockouts    int // lockouts so far; the next one lasts twice as long
	lockedUntil time.Time
	log         logLimit
}

// logLimit counts log lines in the current window and the lines suppressed.
type logLimit struct {
	windowStart time.Time
	lines       int
	suppressed  int
}

// suppressedLines is a summary to log: count lines suppressed for source, or
// for all sources when source is the zero Prefix.
type suppressedLines struct {
	source netip.Prefix
	count  int
}

func newTracker(cfg Config, now func() time.Time) *tracker {
	return &tracker{
		maxConns:          cfg.MaxConns,
		maxConnsPerSource: cfg.MaxConnsPerSource,
		lockoutFailures:   cfg.LockoutFailures,
		lockoutBase:       cfg.LockoutBase,
		lockoutMax:        cfg.LockoutMax,
		now:               now,
		sources:           make(map[netip.Prefix]*sourceState),
	}
}

// sourceKey returns the key under which a client address is counted: the IPv4
// address as a /32, or the /64 prefix of an IPv6 address, because one IPv6 host
// can use any address of its /64. An invalid address yields the zero Prefix,
// which all such clients share.
func sourceKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// admit counts a new connection from key, or returns why it must be closed.
func (t *tracker) admit(key netip.Prefix) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.source(key, now)
	switch {
	case s == nil:
		return rejectTableFull
	case s.conns >= t.maxConnsPerSource:
		return rejectSourceCap
	case t.conns >= t.maxConns:
		return rejectTotalCap
	}
	s.conns++
	s.lastSeen = now
	t.conns++
	return nil
}

// release undoes admit when the connection ends.
func (t *tracker) release(key netip.Prefix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conns--
	if s := t.sources[key]; s != nil {
		s.conns--
	}
}

// lockedOut reports whether key is locked out now.
func (t *tracker) lockedOut(key netip.Prefix) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[key]
	return s != nil && t.now().Before(s.lockedUntil)
}

// recordFailure counts a failed login from key. When that failure locks the
// source out, it returns the length of the lockout, and 0 otherwise.
func (t *tracker) recordFailure(key netip.Prefix) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.source(key, now)
	if s == nil {
		return 0
	}
	if t.failuresExpired(s, now) {
		s.failures, s.lockouts = 0, 0
	}
	s.failures++
	s.lastFailure = now
	s.lastSeen = now
	if s.failures < t.lockoutFailures {
		return 0
	}
	s.failures = 0
	s.lockouts++
	d := lockoutDuration(t.lockoutBase, t.lockoutMax, s.lockouts)
	s.lockedUntil = now.Add(d)
	return d
}

// recordSuccess clears the failed logins of key, but not its lockout count.
func (t *tracker) recordSuccess(key netip.Prefix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sources[key]; s != nil {
		s.failures = 0
	}
}

// lockoutDuration returns the length of the nth lockout: base doubled n-1 times,
// at most limit.
func lockoutDuration(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// failuresExpired reports whether s has had no failure for lockoutMax since
// the later of its last failure and the end of its last lockout.
func (t *tracker) failuresExpired(s *sourceState, now time.Time) bool {
	last := s.lastFailure
	if s.lockedUntil.After(last) {
		last = s.lockedUntil
	}
	return now.Sub(last) >= t.lockoutMax
}

// logAllowed reports whether a line about key may be logged now, and counts it
// as suppressed if not.
func (t *tracker) logAllowed(key netip.Prefix) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.source(key, now)
	if s != nil && !s.log.allow(now, logBurstPerSource) {
		return false
	}
	return t.allLog.allow(now, logBurstTotal)
}

func (l *logLimit) allow(now time.Time, burst int) bool {
	if now.Sub(l.windowStart) >= logWindow {
		l.windowStart = now
		l.lines = 0
	}
	if l.lines >= burst {
		l.suppressed++
		return false
	}
	l.lines++
	return true
}

// sweep returns the counts of suppressed lines and resets them, and deletes the
// sources that have nothing worth keeping.
func (t *tracker) sweep() []suppressedLines {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var out []suppressedLines
	for key, s := range t.sources {
		if s.log.suppressed > 0 {
			out = append(out, suppressedLines{source: key, count: s.log.suppressed})
			s.log.suppressed = 0
		}
		if t.forgettable(s, now) {
			delete(t.sources, key)
		}
	}
	if t.allLog.suppressed > 0 {
		out = append(out, suppressedLines{count: t.allLog.suppressed})
		t.allLog.suppressed = 0
	}
	return out
}

// forgettable reports whether s has no connection, no lockout, no failure that
// still counts and no log window open.
func (t *tracker) forgettable(s *sourceState, now time.Time) bool {
	noFailures := (s.failures == 0 && s.lockouts == 0) || t.failuresExpired(s, now)
	return s.conns == 0 && !now.Before(s.lockedUntil) && noFailures &&
		s.log.suppressed == 0 && now.Sub(s.log.windowStart) >= logWindow
}

// source returns the state of key, adding it when absent. When the table is
// full it evicts the idle source seen least recently, and it returns nil when
// every source has a connection open.
func (t *tracker) source(key netip.Prefix, now time.Time) *sourceState {
	if s := t.sources[key]; s != nil {
		return s
	}
	if len(t.sources) >= maxSources && !t.evictIdle() {
		return nil
	}
	s := &sourceState{lastSeen: now}
	t.sources[key] = s
	return s
}

// evictIdle deletes the idle source seen least recently and reports whether
// there was one. Its suppressed lines move to the count for all sources.
func (t *tracker) evictIdle() bool {
	var oldestKey netip.Prefix
	var oldest *sourceState
	for key, s := range t.sources {
		if s.conns == 0 && (oldest == nil || s.lastSeen.Before(oldest.lastSeen)) {
			oldestKey, oldest = key, s
		}
	}
	if oldest == nil {
		return false
	}
	t.allLog.suppressed += oldest.log.suppressed
	delete(t.sources, oldestKey)
	return true
}

// connections returns the number of connections admitted and not yet released.
func (t *tracker) connections() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns
}
