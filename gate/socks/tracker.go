package socks

import (
	"net/netip"
	"sync"
	"time"

	"github.com/garagectl/garagectl/gate/loglimit"
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
// source (see sourceKey). mu guards all but logs, which has a lock of its own.
type tracker struct {
	maxConns, maxConnsPerSource, lockoutFailures int
	maxNoAuthConns                               int
	lockoutBase, lockoutMax                      time.Duration
	now                                          func() time.Time
	logs                                         *loglimit.Limiter[netip.Prefix]

	mu          sync.Mutex
	conns       int
	noAuthConns int
	sources     map[netip.Prefix]*sourceState
}

// sourceState is the tracker's record of one source.
type sourceState struct {
	conns       int
	lastSeen    time.Time
	failures    int // failed logins since the last lockout
	checking    int // password checks in progress, each reserving one failure
	lastFailure time.Time
	lockouts    int // lockouts so far; the next one lasts twice as long
	lockedUntil time.Time
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
		maxNoAuthConns:    cfg.MaxNoAuthConns,
		lockoutFailures:   cfg.LockoutFailures,
		lockoutBase:       cfg.LockoutBase,
		lockoutMax:        cfg.LockoutMax,
		now:               now,
		logs: loglimit.New[netip.Prefix](loglimit.Config{
			Window:  logWindow,
			PerKey:  logBurstPerSource,
			Total:   logBurstTotal,
			MaxKeys: maxSources,
		}),
		sources: make(map[netip.Prefix]*sourceState),
	}
}

// sourceKey returns the key under which a client address is counted; see
// loglimit.SourceKey.
func sourceKey(a netip.Addr) netip.Prefix { return loglimit.SourceKey(a) }

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

// admitNoAuth counts a connection that goes on without authentication, or
// reports false when the cap on such connections is reached.
func (t *tracker) admitNoAuth() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.noAuthConns >= t.maxNoAuthConns {
		return false
	}
	t.noAuthConns++
	return true
}

// releaseNoAuth undoes admitNoAuth when the connection ends.
func (t *tracker) releaseNoAuth() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.noAuthConns--
}

// lockedOut reports whether key is locked out now.
func (t *tracker) lockedOut(key netip.Prefix) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[key]
	return s != nil && t.now().Before(s.lockedUntil)
}

// beginCheck reserves one failed login of key for a password check about to
// run, so that concurrent logins cannot check more wrong passwords than
// lockoutFailures before the lockout. It returns rejectLockedOut when the source
// is locked out, and rejectChecksBusy when checks in progress hold every failure
// left. After a nil error, endCheck must follow.
func (t *tracker) beginCheck(key netip.Prefix) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.source(key, now)
	switch {
	case s == nil:
		return rejectTableFull
	case now.Before(s.lockedUntil):
		return rejectLockedOut
	}
	if t.failuresExpired(s, now) {
		s.failures, s.lockouts = 0, 0
	}
	if s.failures+s.checking >= t.lockoutFailures {
		return rejectChecksBusy
	}
	s.checking++
	s.lastSeen = now
	return nil
}

// endCheck releases the reservation of beginCheck and records the result of
// the check. After a failure it returns the length of the lockout that the
// failure started, or 0.
func (t *tracker) endCheck(key netip.Prefix, ok bool) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[key]
	if s == nil {
		return 0
	}
	s.checking--
	if ok {
		s.failures = 0
		return 0
	}
	return t.failLocked(s, t.now())
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
	return t.failLocked(s, now)
}

// failLocked counts a failed login of s and returns the length of the lockout
// it started, or 0. The caller holds t.mu.
func (t *tracker) failLocked(s *sourceState, now time.Time) time.Duration {
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
	return t.logs.Allow(key, t.now())
}

// sweep returns the counts of suppressed lines and resets them, and deletes the
// sources that have nothing worth keeping.
func (t *tracker) sweep() []suppressedLines {
	t.mu.Lock()
	now := t.now()
	for key, s := range t.sources {
		if t.forgettable(s, now) {
			delete(t.sources, key)
		}
	}
	t.mu.Unlock()

	var out []suppressedLines
	for _, sum := range t.logs.Sweep(now) {
		out = append(out, suppressedLines{source: sum.Key, count: sum.Count})
	}
	return out
}

// forgettable reports whether s has no connection, no check in progress, no
// lockout and no failure that still counts.
func (t *tracker) forgettable(s *sourceState, now time.Time) bool {
	noFailures := (s.failures == 0 && s.lockouts == 0) || t.failuresExpired(s, now)
	return s.conns == 0 && s.checking == 0 && !now.Before(s.lockedUntil) && noFailures
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
// there was one.
func (t *tracker) evictIdle() bool {
	var oldestKey netip.Prefix
	var oldest *sourceState
	for key, s := range t.sources {
		idle := s.conns == 0 && s.checking == 0
		if idle && (oldest == nil || s.lastSeen.Before(oldest.lastSeen)) {
			oldestKey, oldest = key, s
		}
	}
	if oldest == nil {
		return false
	}
	delete(t.sources, oldestKey)
	return true
}

// connections returns the number of connections admitted and not yet released.
func (t *tracker) connections() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns
}
