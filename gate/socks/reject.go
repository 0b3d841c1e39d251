package socks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/garagectl/garagectl/gate/loglimit"
)

// rejectError is the reason the server closed a connection before handing it
// on, with the level and attributes of its log line.
type rejectError struct {
	reason string
	level  slog.Level
	detail slog.Attr // optional
}

func (e *rejectError) Error() string {
	if e.detail.Key == "" {
		return e.reason
	}
	return e.reason + " (" + e.detail.String() + ")"
}

// Rejections without detail. Failed logins, lockouts, rejected destinations and
// full tables are warnings. The rest are what any port scan causes, so they are
// info.
var (
	rejectTableFull = &rejectError{reason: "too many sources tracked", level: slog.LevelWarn}
	rejectSourceCap = &rejectError{reason: "too many connections from source", level: slog.LevelInfo}
	rejectTotalCap  = &rejectError{reason: "too many connections", level: slog.LevelWarn}
	rejectLockedOut = &rejectError{reason: "source locked out", level: slog.LevelWarn}
	rejectTimeout   = &rejectError{reason: "handshake timed out", level: slog.LevelInfo}
	rejectClosed    = &rejectError{reason: "connection closed during handshake", level: slog.LevelInfo}
	rejectEmptyHost = &rejectError{reason: "empty domain name", level: slog.LevelInfo}

	// rejectChecksBusy is a login from a source whose logins in progress could
	// still lock it out. Its password is not checked.
	rejectChecksBusy = &rejectError{reason: "too many logins in progress", level: slog.LevelWarn}
	rejectNoAuthCap  = &rejectError{reason: "too many connections without authentication",
		level: slog.LevelWarn}
)

func rejectVersion(v byte) error {
	return &rejectError{"unsupported SOCKS version", slog.LevelInfo, slog.Int("version", int(v))}
}

func rejectNoMethod(offered []byte) error {
	logged := offered[:min(len(offered), 8)]
	return &rejectError{"no acceptable authentication method", slog.LevelInfo,
		slog.String("methods", fmt.Sprintf("%x", logged))}
}

func rejectAuthVersion(v byte) error {
	return &rejectError{"unsupported authentication version", slog.LevelInfo,
		slog.Int("version", int(v))}
}

func rejectAuthFailed(user []byte) error {
	return &rejectError{"authentication failed", slog.LevelWarn,
		slog.String("user", usernameForLog(user))}
}

func rejectCommand(cmd byte) error {
	return &rejectError{"command not supported", slog.LevelInfo, slog.Int("command", int(cmd))}
}

func rejectAddressType(atyp byte) error {
	return &rejectError{"address type not supported", slog.LevelInfo, slog.Int("atyp", int(atyp))}
}

func rejectNotAllowed(dest Destination) error {
	return &rejectError{"destination not allowed", slog.LevelWarn,
		slog.String("dest", destString(dest))}
}

// ioReject turns a failed read or write into a rejectError.
func ioReject(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return rejectTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return rejectClosed
	}
	return &rejectError{"connection failed during handshake", slog.LevelInfo,
		slog.String("error", err.Error())}
}

// logReject logs why a connection from src was closed, unless the rate limit of
// its source is used up.
func (s *Server) logReject(src netip.AddrPort, key netip.Prefix, err error) {
	if !s.tracker.logAllowed(key) {
		return
	}
	var re *rejectError
	if !errors.As(err, &re) {
		re = &rejectError{reason: err.Error(), level: slog.LevelWarn}
	}
	attrs := [3]slog.Attr{slog.String("source", src.String()), slog.String("reason", re.reason)}
	n := 2
	if re.detail.Key != "" {
		attrs[2] = re.detail
		n = 3
	}
	s.log.LogAttrs(context.Background(), re.level, "socks connection rejected", attrs[:n]...)
}

// logLockout logs that key is locked out for d. These lines are not rate-limited:
// a lockout begins only when no login check of the source is in progress (see
// beginCheck), and no check starts until it ends, so lockouts come one at a time.
func (s *Server) logLockout(key netip.Prefix, d time.Duration) {
	s.log.LogAttrs(context.Background(), slog.LevelWarn, "socks source locked out",
		slog.String("source", loglimit.SourceString(key)), slog.Duration("duration", d))
}

// logSuppressed logs one line per source whose rejections were not logged since
// the last call, and deletes idle sources from the tracker.
func (s *Server) logSuppressed() {
	for _, sum := range s.tracker.sweep() {
		source := "all"
		if sum.source.IsValid() {
			source = loglimit.SourceString(sum.source)
		}
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "socks log lines suppressed",
			slog.String("source", source), slog.Int("count", sum.count))
	}
}

// destString formats dest for a log line, with at most
// loglimit.MaxValueBytes bytes of a domain name.
func destString(dest Destination) string {
	if dest.Host == "" {
		return netip.AddrPortFrom(dest.Addr, dest.Port).String()
	}
	return loglimit.Value(dest.Host) + ":" + strconv.Itoa(int(dest.Port))
}

// usernameForLog shows a little of a username that failed to log in, so an
// operator can tell a phone with a stale password from a scanner trying "admin".
// A user who typed the password into the username field leaks at most three
// bytes of it, and never a whole username.
func usernameForLog(user []byte) string {
	prefixLen := min(3, len(user)/2)
	return loglimit.Printable(string(user[:prefixLen]), prefixLen) + "… (" +
		strconv.Itoa(len(user)) + " bytes)"
}
