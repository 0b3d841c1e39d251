package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/garagectl/garagectl/gate/command"
	"github.com/garagectl/garagectl/gate/mqttclient"
)

var (
	//go:embed style.css
	style string
	//go:embed page.html
	pageSource string

	pageTemplate = template.Must(template.New("page").Parse(pageSource))

	// styleHash lets the Content-Security-Policy allow the page's one style block
	// and nothing else.
	styleHash = func() string {
		sum := sha256.Sum256([]byte(style))
		return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	}()
)

// pageData is the data of the page template.
type pageData struct {
	Style     template.CSS
	Phone     string // empty: show the login form
	Cookie    bool   // signed in with the token, so a sign-out button is shown
	CSRF      string // CSRF token of the phone's forms, or of the login form
	Connected bool
	Devices   []deviceView
	Notice    *notice
}

type deviceView struct {
	Name                        string
	Avail, AvailClass, AvailAge string
	State, StateAge             string
}

type notice struct {
	Class, Text string
}

// page serves GET /: the login form, or the devices with a button each.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	data := pageData{Style: template.CSS(style), Notice: h.notice(r.URL.Query())}
	phone, cookie, ok := h.identify(r)
	if !ok {
		data.CSRF = h.cfg.Signer.LoginToken(h.loginNonce(w, r))
	}
	if ok {
		data.Phone, data.Cookie = phone, cookie
		data.CSRF = h.cfg.Signer.CSRFToken(phone)
		data.Connected = h.cfg.Status.Connected()
		now := h.now()
		for _, name := range h.cfg.Trigger.Devices() {
			st, _ := h.cfg.Status.Status(name)
			data.Devices = append(data.Devices, viewDevice(name, st, now))
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, data); err != nil {
		h.log.Warn("render page failed", "error", err)
	}
}

func viewDevice(name string, st mqttclient.DeviceStatus, now time.Time) deviceView {
	v := deviceView{Name: name, Avail: "availability unknown", State: "no state reported yet"}
	if st.Avail.Known() {
		v.Avail, v.AvailAge = st.Avail.Value, "since "+age(now.Sub(st.Avail.Since))
		v.AvailClass = "bad"
		if st.Avail.Value == "online" {
			v.AvailClass = "ok"
		}
	}
	if st.State.Known() {
		v.State, v.StateAge = describeState(st.State.Value), age(now.Sub(st.State.Since))
	}
	return v
}

// describeState turns a state report into a line for people.
func describeState(payload string) string {
	s, err := command.ParseState([]byte(payload))
	if err != nil {
		return "unreadable state report"
	}
	switch s.Reason {
	case "ok":
		return fmt.Sprintf("%s, accepted command %d", s.Status, s.LastSeq)
	case "boot":
		return fmt.Sprintf("%s, restarted (last command %d)", s.Status, s.LastSeq)
	}
	return fmt.Sprintf("%s, rejected a command: %s (last accepted %d)", s.Status, s.Reason, s.LastSeq)
}

// age returns how long ago something happened, rounded for a phone screen.
func age(d time.Duration) string {
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// notice turns the query of a redirect after a form into the message on top of
// the page. It shows only configured device names, so a crafted link cannot put
// other text on the page.
func (h *handler) notice(q url.Values) *notice {
	device := q.Get("device")
	known := false
	for _, d := range h.cfg.Trigger.Devices() {
		known = known || d == device
	}
	switch result := q.Get("result"); {
	case result == "signin":
		return &notice{"bad", "Sign in with the phone's token first."}
	case result == "badtoken":
		return &notice{"bad", "That token is not valid here."}
	case result == "signedout":
		return &notice{"ok", "Signed out."}
	case !known:
		return nil
	case result == outcomeSent:
		seq, _ := strconv.ParseUint(q.Get("seq"), 10, 64)
		return &notice{"ok", fmt.Sprintf("Sent to %s: command %d.", device, seq)}
	case result == outcomeCooldown:
		left, _ := strconv.Atoi(q.Get("left"))
		return &notice{"bad", fmt.Sprintf("%s is cooling down: try again in %d s.", device, max(left, 1))}
	case result == outcomeUnreachable:
		return &notice{"bad", fmt.Sprintf("Broker unreachable: nothing was sent to %s.", device)}
	case result == outcomeUnconfirmed:
		return &notice{"bad", fmt.Sprintf("The broker did not confirm the command to %s. "+
			"It may still arrive within %d seconds, so wait before you press again.",
			device, windowSeconds)}
	case result == outcomeClosed:
		return &notice{"bad", "The gate is restarting: try again in a moment."}
	case result == outcomeFailed:
		return &notice{"bad", fmt.Sprintf("The gate failed to send the command to %s.", device)}
	}
	return nil
}
