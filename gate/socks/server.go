package socks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Destination is the target a client requested.
type Destination struct {
	// Host is the domain name as sent (ATYP 3), byte for byte, and empty for an
	// address. A rule that matches names should compare case-insensitively.
	Host string
	// Addr is the address (ATYP 1 or 4), zero for a domain. An IPv4-mapped IPv6
	// address arrives unmapped, so a rule on IPv4 ranges also applies to it.
	Addr netip.Addr
	Port uint16
}

// Config sets up a Server. Zero numbers and durations take the defaults named on
// each field.
type Config struct {
	// Authenticate checks a username/password pair (RFC 1929) and returns the
	// account name. The implementation the gate passes compares in constant time.
	Authenticate func(username, password string) (account string, ok bool)
	// AllowNoAuth offers method 0x00 too, and a session without a login has an
	// empty Session.Account.
	AllowNoAuth bool
	// Allow decides whether a CONNECT to dest is served. A rejected CONNECT gets
	// reply 0x02 (connection not allowed by ruleset) and is logged. Allow is
	// required.
	Allow func(dest Destination) bool
	// HandshakeTimeout bounds the whole handshake, 10s by default. Each read
	// also has a deadline of half of it, so a client that stalls is dropped early.
	HandshakeTimeout time.Duration
	// MaxConns caps concurrent connections overall, 64 by default.
	MaxConns int
	// MaxConnsPerSource caps concurrent connections per source (an IPv4 address
	// or an IPv6 /64), 8 by default.
	MaxConnsPerSource int
	// MaxNoAuthConns caps concurrent connections without authentication
	// (AllowNoAuth), half of MaxConns by default. The HTTP server keeps a
	// connection open while requests keep coming, so without the cap, clients
	// without a password could hold every slot and shut out the phones that log in.
	MaxNoAuthConns int
	// LockoutFailures is the number of failed logins from a source that locks it
	// out, 5 by default. Logins in progress count against it, so no more wrong
	// passwords than this are checked before the lockout.
	LockoutFailures int
	// LockoutBase and LockoutMax bound a lockout: 1m and 1h by default. Each
	// further lockout of the same source doubles, up to LockoutMax. A source's
	// failure and lockout counts reset after LockoutMax without a failure since
	// its last lockout ended.
	LockoutBase, LockoutMax time.Duration
	// Logger receives a line for each rejected connection, rate-limited per
	// source, and for each lockout. Nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of Config. Each bounds what a scanner that found the open port can cost.
const (
	// defaultHandshakeTimeout drops clients that connect and stall (slowloris).
	defaultHandshakeTimeout = 10 * time.Second
	// defaultMaxConns and defaultMaxConnsPerSource bound goroutines and sockets
	// held by a flood, and one phone needs a few connections at most.
	// NOTE: eight sources holding silent connections fill the overall cap for a
	// read deadline (5s) at a time. The firewall's list of allowed sources is
	// what keeps such clients away from the port.
	defaultMaxConns          = 64
	defaultMaxConnsPerSource = 8
	// defaultLockoutFailures and the lockout durations slow password guessing.
	defaultLockoutFailures = 5
	defaultLockoutBase     = time.Minute
	defaultLockoutMax      = time.Hour
)

// Session is an accepted CONNECT: who logged in, from where, and the destination
// requested.
type Session struct {
	Account string
	Source  netip.AddrPort
	Dest    Destination
}

// Server is a SOCKS5 server that hands each accepted CONNECT to a handler. One
// Server may serve several listeners at once, and they share its caps and
// lockouts.
type Server struct {
	cfg         Config
	readTimeout time.Duration
	tracker     *tracker
	log         *slog.Logger
}

// NewServer checks cfg, fills in its defaults and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		readTimeout: cfg.HandshakeTimeout / 2,
		tracker:     newTracker(cfg, time.Now),
		log:         cfg.Logger,
	}
	return s, nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.Allow == nil {
		return cfg, errors.New("invalid socks config: Allow is missing: " +
			"set a rule that accepts only the gate's own host")
	}
	if cfg.Authenticate == nil && !cfg.AllowNoAuth {
		return cfg, errors.New("invalid socks config: Authenticate is missing " +
			"and AllowNoAuth is false, so no client could log in")
	}
	if cfg.HandshakeTimeout < 0 || cfg.MaxConns < 0 || cfg.MaxConnsPerSource < 0 ||
		cfg.MaxNoAuthConns < 0 || cfg.LockoutFailures < 0 || cfg.LockoutBase < 0 ||
		cfg.LockoutMax < 0 {
		return cfg, errors.New("invalid socks config: a limit is negative: " +
			"use 0 for the default")
	}
	setDefault(&cfg.HandshakeTimeout, defaultHandshakeTimeout)
	setDefault(&cfg.MaxConns, defaultMaxConns)
	setDefault(&cfg.MaxConnsPerSource, defaultMaxConnsPerSource)
	setDefault(&cfg.MaxNoAuthConns, max(cfg.MaxConns/2, 1))
	setDefault(&cfg.LockoutFailures, defaultLockoutFailures)
	setDefault(&cfg.LockoutBase, defaultLockoutBase)
	setDefault(&cfg.LockoutMax, defaultLockoutMax)
	if cfg.LockoutBase > cfg.LockoutMax {
		return cfg, fmt.Errorf("invalid socks config: LockoutBase %v is longer than "+
			"LockoutMax %v", cfg.LockoutBase, cfg.LockoutMax)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Serve accepts on ln until ctx ends or ln fails. For each CONNECT that passes
// auth and Allow, it sends the success reply (BND.ADDR 0.0.0.0, BND.PORT 0) and
// calls handle(conn, session) in its own goroutine. conn is the client connection
// after the handshake, with deadlines cleared, and handle owns and closes it.
// Serve returns after every handler it started has returned.
//
// When ctx ends Serve closes ln, and when Serve stops for any reason it closes
// every connection it accepted, handlers' included, so that their reads fail and
// they return. It returns nil when ctx ended and the accept error otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener, handle func(net.Conn, Session)) error {
	stopClosing := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopClosing()

	connCtx, closeConns := context.WithCancel(ctx)
	var janitor, conns sync.WaitGroup
	janitor.Go(func() { s.runJanitor(connCtx) })

	err := s.acceptLoop(ctx, ln, func(nc net.Conn) {
		s.start(connCtx, &conns, nc, handle)
	})

	closeConns()
	conns.Wait()
	janitor.Wait()
	s.logSuppressed()
	return err
}

// acceptLoop accepts connections and passes each to start. After EMFILE, ENFILE,
// ENOBUFS or ENOMEM, which a flood can cause, it retries with a backoff rather
// than stop the server.
func (s *Server) acceptLoop(ctx context.Context, ln net.Listener, start func(net.Conn)) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err == nil {
			backoff = 0
			start(nc)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if !isTemporary(err) {
			return fmt.Errorf("accept: %w", err)
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.log.Warn("socks accept failed, retrying", "error", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return nil
		}
	}
}

func isTemporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// sleep waits for d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// start admits nc under the caps and serves it in a goroutine, or closes it at
// once, before reading anything, when a cap is reached.
func (s *Server) start(ctx context.Context, conns *sync.WaitGroup, nc net.Conn,
	handle func(net.Conn, Session)) {
	src := remoteAddrPort(nc)
	key := sourceKey(src.Addr())
	if err := s.tracker.admit(key); err != nil {
		nc.Close()
		s.logReject(src, key, err)
		return
	}
	conns.Go(func() {
		defer s.tracker.release(key)
		stopClosing := context.AfterFunc(ctx, func() { nc.Close() })
		defer stopClosing()
		s.serveConn(nc, src, key, handle)
	})
}

// remoteAddrPort returns the client's address with an IPv4-mapped address
// unmapped, or the zero AddrPort for a listener that is not TCP.
func remoteAddrPort(nc net.Conn) netip.AddrPort {
	var ap netip.AddrPort
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case nil:
		return ap
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// serveConn runs the handshake on nc and then calls handle, or logs why the
// handshake failed and closes nc.
func (s *Server) serveConn(nc net.Conn, src netip.AddrPort, key netip.Prefix,
	handle func(net.Conn, Session)) {
	c := newClientConn(s, nc, src, key)
	sess, err := c.handshake()
	if c.noAuth {
		defer s.tracker.releaseNoAuth()
	}
	c.free()
	if err != nil {
		nc.Close()
		s.logReject(src, key, err)
		return
	}
	s.log.LogAttrs(context.Background(), slog.LevelDebug, "socks session started",
		slog.String("source", src.String()), slog.String("account", sess.Account),
		slog.String("dest", destString(sess.Dest)))
	handle(nc, sess)
}

// runJanitor logs the counts of suppressed lines and deletes idle sources from
// the tracker once per logWindow until ctx ends.
func (s *Server) runJanitor(ctx context.Context) {
	ticker := time.NewTicker(logWindow)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			s.logSuppressed()
		}
	}
}
