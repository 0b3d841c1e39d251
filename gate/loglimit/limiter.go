package loglimit

import (
	"sync"
	"time"
)

// Config sets the limits of a Limiter. Every field must be positive.
type Config struct {
	// Window is the length of a rate-limit window, such as one second.
	Window time.Duration
	// PerKey is the number of lines that one key may log per window.
	PerKey int
	// Total is the number of lines that all keys together may log per window.
	Total int
	// MaxKeys bounds the table of keys, so that a flood of new keys cannot grow
	// it without limit. When it is full, the key whose window started first is
	// evicted and its suppressed lines move to the total count.
	MaxKeys int
}

// Limiter rate-limits log lines per key and over all keys, and counts the lines
// it suppresses until Sweep returns them. It is safe for concurrent use.
type Limiter[K comparable] struct {
	cfg Config

	mu   sync.Mutex
	keys map[K]*window
	all  window
}

// window counts the lines of the current window and the lines suppressed
// since the last sweep.
type window struct {
	start      time.Time
	lines      int
	suppressed int
}

// Suppressed is the number of lines that a Limiter suppressed since the last
// Sweep: for Key, or for all keys together when All is true.
type Suppressed[K comparable] struct {
	Key   K
	All   bool
	Count int
}

// New returns a Limiter with the limits of cfg.
func New[K comparable](cfg Config) *Limiter[K] {
	return &Limiter[K]{cfg: cfg, keys: make(map[K]*window)}
}

// Allow reports whether a line about key may be logged at now, and counts it as
// suppressed if not. A line counts toward the total only when its key allows it.
func (l *Limiter[K]) Allow(key K, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.keys[key]
	if w == nil {
		if len(l.keys) >= l.cfg.MaxKeys {
			l.evictOldest()
		}
		w = &window{}
		l.keys[key] = w
	}
	if !w.allow(now, l.cfg.Window, l.cfg.PerKey) {
		return false
	}
	return l.all.allow(now, l.cfg.Window, l.cfg.Total)
}

// Sweep returns the counts of suppressed lines, one for each key that has any
// and one for the total, and resets them. It deletes the keys whose window
// ended by now.
func (l *Limiter[K]) Sweep(now time.Time) []Suppressed[K] {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Suppressed[K]
	for key, w := range l.keys {
		if w.suppressed > 0 {
			out = append(out, Suppressed[K]{Key: key, Count: w.suppressed})
			w.suppressed = 0
		}
		if now.Sub(w.start) >= l.cfg.Window {
			delete(l.keys, key)
		}
	}
	if l.all.suppressed > 0 {
		out = append(out, Suppressed[K]{All: true, Count: l.all.suppressed})
		l.all.suppressed = 0
	}
	return out
}

// evictOldest deletes the key whose window started first and adds its
// suppressed lines to the total count.
func (l *Limiter[K]) evictOldest() {
	var oldestKey K
	var oldest *window
	for key, w := range l.keys {
		if oldest == nil || w.start.Before(oldest.start) {
			oldestKey, oldest = key, w
		}
	}
	if oldest == nil {
		return
	}
	l.all.suppressed += oldest.suppressed
	delete(l.keys, oldestKey)
}

func (w *window) allow(now time.Time, length time.Duration, burst int) bool {
	if now.Sub(w.start) >= length {
		w.start = now
		w.lines = 0
	}
	if w.lines >= burst {
		w.suppressed++
		return false
	}
	w.lines++
	return true
}
