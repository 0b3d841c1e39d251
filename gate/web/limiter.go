package web

import (
	"log/slog"
	"sync"
	"time"
)

// logLimiter writes at most one warning per interval and counts the rest, so that
// a client repeating a rejected request cannot flood the journal.
type logLimiter struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	next       time.Time
	suppressed int
}

func newLogLimiter(log *slog.Logger, interval time.Duration, now func() time.Time) *logLimiter {
	return &logLimiter{log: log, interval: interval, now: now}
}

// warn logs msg with args unless a line went out less than interval ago. The next
// line that goes out carries the number of lines left out before it.
func (l *logLimiter) warn(msg string, args ...any) {
	l.mu.Lock()
	now := l.now()
	if now.Before(l.next) {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.next = now.Add(l.interval)
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()

	if suppressed > 0 {
		args = append(args, "suppressed_before", suppressed)
	}
	l.log.Warn(msg, args...)
}
