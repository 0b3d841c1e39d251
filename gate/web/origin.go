package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/garagectl/garagectl/gate/loglimit"
)

// rejectCrossOrigin rejects a POST that a browser marks as coming from another
// origin: by Sec-Fetch-Site, or by an Origin header that names another host.
//
// It lets "Origin: null" through, unlike http.CrossOriginProtection, because
// the gate's page is plain HTTP with Referrer-Policy: no-referrer: browsers then
// send Sec-Fetch-Site only to secure origins, and Chromium sends "Origin: null"
// on the page's own form posts. Every form post must still carry its CSRF
// token, and the API its bearer token, which a page of another origin cannot
// read.
func (h *handler) rejectCrossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || isSameOrigin(r) {
			next.ServeHTTP(w, r)
			return
		}
		h.noise.warn(PeerFrom(r.Context()).Source, "cross-origin request rejected",
			"origin", loglimit.Value(r.Header.Get("Origin")),
			"sec_fetch_site", loglimit.Value(r.Header.Get("Sec-Fetch-Site")),
			"path", loglimit.Value(r.URL.Path))
		writeText(w, http.StatusForbidden, "Cross-origin request rejected.")
	})
}

// isSameOrigin reports whether no browser header of the request marks it as
// coming from another origin.
func isSameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "http" && strings.EqualFold(u.Host, r.Host)
}
