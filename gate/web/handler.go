package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/garagectl/garagectl/gate/auth"
	"github.com/garagectl/garagectl/gate/mqttclient"
	"github.com/garagectl/garagectl/gate/trigger"
)

// DefaultSessionLifetime is how long a token login lasts on a phone.
const DefaultSessionLifetime = 30 * 24 * time.Hour

// maxFormSize bounds a form body. The largest form has one token and one CSRF field.
const maxFormSize = 4096

// Firer sends a command to a device. *trigger.Trigger is one.
type Firer interface {
	Fire(ctx context.Context, device string) (trigger.Result, error)
	Devices() []string
}

// StatusSource reports the state of the broker connection and the last reports
// of each device. *mqttclient.Client is one.
type StatusSource interface {
	Connected() bool
	Status(device string) (mqttclient.DeviceStatus, bool)
}

// Config configures the handler.
type Config struct {
	// Hosts are the Host header values the gate serves, such as "garage.gate".
	// Requests for any other host get 421 Misdirected Request.
	Hosts []string

	Phones  *auth.Phones
	Signer  *auth.Signer
	Trigger Firer
	Status  StatusSource

	// SessionLifetime is how long a token login lasts; 0 means DefaultSessionLifetime.
	SessionLifetime time.Duration
	Logger          *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

type handler struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	noise *logLimiter // rejected logins, tokens and triggers
}

// Handler is the gate's HTTP handler.
type Handler struct {
	next  http.Handler
	noise *logLimiter
}

// ServeHTTP serves the page, the forms and the API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.next.ServeHTTP(w, r)
}

// FlushLogs logs the counts of warnings that the rate limit left out and that
// no summary line reported yet. The gate calls it after the last request, when
// it stops.
func (h *Handler) FlushLogs() { h.noise.flush() }

// NewHandler returns the gate's HTTP handler.
func NewHandler(cfg Config) *Handler {
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	h := &handler{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.noise = newLogLimiter(h.log, h.now)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("POST /login", h.login)
	mux.HandleFunc("POST /logout", h.logout)
	mux.HandleFunc("POST /devices/{name}/trigger", h.formTrigger)
	mux.HandleFunc("POST /api/v1/devices/{name}/trigger", h.apiTrigger)

	next := securityHeaders(h.checkHost(h.rejectCrossOrigin(mux)))
	return &Handler{next: next, noise: h.noise}
}

// contentSecurityPolicy allows nothing but the page's own style block and forms
// that post to the gate itself, and forbids framing.
var contentSecurityPolicy = "default-src 'none'; style-src '" + styleHash + "'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// checkHost serves only the gate's own names, so that a request the front
// admitted for one destination cannot pose as a request for another site.
func (h *handler) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		bare := strings.TrimSuffix(host, ":80")
		if !slices.Contains(h.cfg.Hosts, host) && !slices.Contains(h.cfg.Hosts, bare) {
			writeText(w, http.StatusMisdirectedRequest,
				"This is the garage gate: open http://"+h.cfg.Hosts[0]+"/.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(text + "\n"))
}
