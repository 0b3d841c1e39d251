package gate

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/garagectl/garagectl/gate/auth"
	"github.com/garagectl/garagectl/gate/mqttclient"
	"github.com/garagectl/garagectl/gate/socks"
	"github.com/garagectl/garagectl/gate/trigger"
	"github.com/garagectl/garagectl/gate/tunnel"
	"github.com/garagectl/garagectl/gate/web"
)

// HTTP server limits inside the tunnel. A phone's requests are small; the limits
// keep a client that stalls from holding a connection.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
)

// service is a gate with every part built and nothing started.
type service struct {
	log     *slog.Logger
	mqtt    *mqttclient.Client
	trigger *trigger.Trigger
	web     *web.Handler
	http    *http.Server
	tunnel  *tunnel.Listener[web.Peer]
	socks   *socks.Server
}

// Run serves the gate until ctx ends, then drains it and returns nil. It returns
// an error when a credential, the CA or the state directory cannot be read, or when
// the listener fails.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := newService(o)
	if err != nil {
		return err
	}
	ln := o.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", o.Config.Gate.Listen.String())
		if err != nil {
			return fmt.Errorf("listen on gate.listen: %w", err)
		}
	}
	return s.serve(ctx, o, ln)
}

// newService reads the credentials and builds every part of the gate.
func newService(o Options) (*service, error) {
	phones, err := loadPhones(o)
	if err != nil {
		return nil, err
	}
	signer := auth.NewSigner(phones)
	keys, err := loadKeys(o)
	if err != nil {
		return nil, err
	}
	devices := slices.Sorted(maps.Keys(keys))

	s := &service{log: o.Logger}
	if s.mqtt, err = newMQTT(o, devices); err != nil {
		return nil, err
	}
	if s.trigger, err = newTrigger(o, keys, s.mqtt); err != nil {
		return nil, err
	}
	s.web = web.NewHandler(web.Config{
		Hosts:   ownHosts(o.Config.Gate),
		Phones:  phones,
		Signer:  signer,
		Trigger: s.trigger,
		Status:  s.mqtt,
		Logger:  o.Logger.With("component", "web"),
	})
	s.http = newHTTPServer(s.web, o.Logger)
	if s.socks, err = newSOCKS(o, phones); err != nil {
		return nil, err
	}
	return s, nil
}

func newHTTPServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			peer, _ := tunnel.InfoOf[web.Peer](c)
			return web.WithPeer(ctx, peer)
		},
	}
}

// newSOCKS returns the SOCKS5 front. It serves only the gate's own destinations.
func newSOCKS(o Options, phones *auth.Phones) (*socks.Server, error) {
	g := o.Config.Gate
	return socks.NewServer(socks.Config{
		Authenticate:      phones.Authenticate,
		AllowNoAuth:       g.AllowNoAuth,
		Allow:             allowDestination(g),
		MaxConns:          g.MaxConnections,
		MaxConnsPerSource: g.MaxConnectionsPerSource,
		LockoutFailures:   g.LockoutFailures,
		LockoutBase:       g.LockoutBase.Std(),
		LockoutMax:        g.LockoutMax.Std(),
		Logger:            o.Logger.With("component", "socks"),
	})
}

// serve runs the servers until ctx ends or the SOCKS5 listener fails, then drains.
func (s *service) serve(ctx context.Context, o Options, ln net.Listener) error {
	s.tunnel = tunnel.NewListener[web.Peer](ln.Addr())
	s.mqtt.Start()
	go s.http.Serve(s.tunnel)

	// The SOCKS5 server gets its own context, canceled only after the drain,
	// because it closes every connection it accepted when it stops.
	socksCtx, stopSOCKS := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSOCKS()
	served := make(chan error, 1)
	go func() { served <- s.socks.Serve(socksCtx, ln, s.handle) }()
	s.log.Info("gate started", "listen", ln.Addr().String(), "hostname", o.Config.Gate.Hostname,
		"devices", len(o.Config.Devices), "phones", len(o.Config.Gate.Phones),
		"allow_no_auth", o.Config.Gate.AllowNoAuth, "state_dir", o.StateDir)

	var err error
	select {
	case <-ctx.Done():
		s.drain()
		stopSOCKS()
		<-served
	case err = <-served:
		err = fmt.Errorf("serve socks5: %w", err)
		s.log.Error("socks5 server stopped", "error", err)
		s.drain()
	}
	s.mqtt.Close()
	s.log.Info("gate stopped")
	return err
}

// handle passes a CONNECT that the SOCKS5 front accepted to the HTTP server, and
// returns when the server is done with it.
func (s *service) handle(conn net.Conn, sess socks.Session) {
	peer := web.Peer{Account: sess.Account, Source: sess.Source}
	if err := s.tunnel.Hand(conn, peer); err != nil {
		conn.Close()
	}
}

// drain stops taking requests and waits, up to DrainTimeout, for the requests and
// triggers in flight, so that a press during a restart still gets its response.
func (s *service) drain() {
	s.log.Info("gate stopping: draining requests in flight", "timeout", DrainTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("requests still open after the drain timeout: closing them", "error", err)
		s.http.Close()
	}
	s.web.FlushLogs()
	if err := s.trigger.Close(ctx); err != nil {
		s.log.Warn("triggers still in flight after the drain timeout", "error", err)
	}
}
