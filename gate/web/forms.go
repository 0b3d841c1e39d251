package web

import (
	"net/http"
	"time"

	"github.com/garagectl/garagectl/gate/auth"
)

// Cookies. Both are HttpOnly, so no script can read them, and SameSite=Strict,
// so no request from another site's page carries them.
const (
	// sessionCookie is set by a token login and names the phone.
	sessionCookie = "garage_session"
	// loginCookie binds the login form's CSRF token to the browser that loaded
	// the form, so that another site cannot sign a browser in.
	loginCookie = "garage_login"
)

// loginCookieLifetime is how long a loaded login form stays usable.
const loginCookieLifetime = time.Hour

// loginNonce returns the browser's login nonce, and sets a new login cookie when
// the browser has none.
func (h *handler) loginNonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && c.Value != "" {
		return c.Value
	}
	nonce := auth.NewLoginNonce()
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: nonce, Path: "/", MaxAge: int(loginCookieLifetime.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return nonce
}

// identify returns the phone of a page request: the SOCKS5 account when the
// connection logged in, else the phone of a valid session cookie. cookie reports
// whether the cookie decided it.
func (h *handler) identify(r *http.Request) (phone string, cookie, ok bool) {
	if account := PeerFrom(r.Context()).Account; account != "" {
		return account, false, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false, false
	}
	phone, ok = h.cfg.Signer.CheckSession(c.Value, h.now())
	return phone, ok, ok
}

// login serves POST /login: a phone's token in, a session cookie out.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	peer := PeerFrom(r.Context())
	nonce := ""
	if c, err := r.Cookie(loginCookie); err == nil {
		nonce = c.Value
	}
	if !h.cfg.Signer.CheckLogin(nonce, r.PostFormValue("csrf")) {
		h.noise.warn(peer.Source, "login form without a valid CSRF token rejected")
		writeText(w, http.StatusForbidden, "The form has expired: reload the page and sign in again.")
		return
	}
	phone, ok := h.cfg.Phones.PhoneForToken(r.PostFormValue("token"))
	if !ok || peer.Account != "" && peer.Account != phone {
		h.noise.warn(peer.Source, "login rejected", "account", peer.Account)
		redirect(w, "/?result=badtoken")
		return
	}

	lifetime := h.cfg.SessionLifetime
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    h.cfg.Signer.Session(phone, h.now().Add(lifetime)),
		Path:     "/",
		MaxAge:   int(lifetime.Seconds()),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	h.log.Info("phone signed in", "phone", phone, "source", peer.Source)
	redirect(w, "/")
}

// logout serves POST /logout: it deletes the session cookie.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	redirect(w, "/?result=signedout")
}

// formTrigger serves the page's button: POST /devices/{name}/trigger with the
// CSRF token, then a redirect to the page with the outcome (POST-redirect-GET).
func (h *handler) formTrigger(w http.ResponseWriter, r *http.Request) {
	device := r.PathValue("name")
	phone, _, ok := h.identify(r)
	if !ok {
		redirect(w, "/?result=signin")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormSize)
	if !h.cfg.Signer.CheckCSRF(phone, r.PostFormValue("csrf")) {
		h.noise.warn(PeerFrom(r.Context()).Source, "form without a valid CSRF token rejected",
			"phone", phone)
		writeText(w, http.StatusForbidden, "The form has expired: reload the page and press again.")
		return
	}

	o := h.fire(r, device, phone, "page")
	if o.kind == outcomeUnknown {
		writeText(w, http.StatusNotFound, "No such device.")
		return
	}
	redirect(w, "/?"+o.query(device))
}

// redirect responds to a POST with 303 See Other, so that reloading the page
// that follows does not send the form again.
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}
