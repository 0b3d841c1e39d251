package web

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/garagectl/garagectl/gate/loglimit"
)

// Rate limits of the warnings about rejected requests. Each source gets a few
// lines per kind of rejection and window, so that a flood of one kind from one
// source hides neither other kinds nor other sources. The total limit keeps many
// sources together from flooding the journal. The lines left out are counted
// and logged as one summary line per source and kind after the window.
const (
	logWindow      = time.Second
	logBurstPerKey = 3
	logBurstTotal  = 30
	// maxLogKeys bounds the table of sources and kinds. Requests reach the web
	// layer only through the SOCKS5 front, which caps connections, so a few
	// thousand keys cover every source active within one window.
	maxLogKeys = 4096
)

// logKey is the unit of the rate limit: one kind of rejection from one source.
type logKey struct {
	source netip.Prefix // see loglimit.SourceKey
	kind   string       // the message of the warning
}

// logLimiter writes warnings about rejected requests under the rate limits, so
// that a client repeating a rejected request cannot flood the journal.
type logLimiter struct {
	log        *slog.Logger
	now        func() time.Time
	limit      *loglimit.Limiter[logKey]
	flushAfter time.Duration

	mu           sync.Mutex
	flushPending bool // a timer will call flush
}

func newLogLimiter(log *slog.Logger, now func() time.Time) *logLimiter {
	return &logLimiter{
		log: log,
		now: now,
		limit: loglimit.New[logKey](loglimit.Config{
			Window:  logWindow,
			PerKey:  logBurstPerKey,
			Total:   logBurstTotal,
			MaxKeys: maxLogKeys,
		}),
		flushAfter: logWindow,
	}
}

// warn logs msg with the source and args, unless source used up its lines of
// msg in this window. Then it counts the line, and a timer logs the count.
func (l *logLimiter) warn(source netip.AddrPort, msg string, args ...any) {
	key := logKey{source: loglimit.SourceKey(source.Addr()), kind: msg}
	if l.limit.Allow(key, l.now()) {
		l.log.Warn(msg, append([]any{"source", source}, args...)...)
		return
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.flushPending {
		l.flushPending = true
		time.AfterFunc(l.flushAfter, l.flush)
	}
}

// flush logs one line per source and kind whose warnings were left out since
// the last flush, with their count.
func (l *logLimiter) flush() {
	l.mu.Lock()
	l.flushPending = false
	l.mu.Unlock()

	for _, sum := range l.limit.Sweep(l.now()) {
		if sum.All {
			l.log.Warn("web log lines suppressed", "source", "all", "count", sum.Count)
			continue
		}
		l.log.Warn("web log lines suppressed", "source", loglimit.SourceString(sum.Key.source),
			"kind", sum.Key.kind, "count", sum.Count)
	}
}
