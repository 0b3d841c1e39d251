package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiResponse is the JSON body of every API response.
type apiResponse struct {
	Status  string `json:"status,omitempty"` // "sent" on success
	Error   string `json:"error,omitempty"`  // an outcome kind, "unauthorized" or "forbidden"
	Message string `json:"message,omitempty"`
	Device  string `json:"device,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	// RetryAfter is the seconds left in a cooldown, as in the Retry-After header.
	RetryAfter int `json:"retry_after,omitempty"`
}

// apiTrigger serves POST /api/v1/devices/{name}/trigger. It responds with 202
// once the broker acknowledged the command. Errors are 401 without a valid
// bearer token, 403 for the token of a phone other than the SOCKS5 account,
// 404 for an unknown device, 429 during the cooldown, and 503 when the broker
// is unreachable or did not acknowledge in time.
func (h *handler) apiTrigger(w http.ResponseWriter, r *http.Request) {
	device := r.PathValue("name")
	peer := PeerFrom(r.Context())
	phone, ok := h.cfg.Phones.PhoneForToken(bearerToken(r))
	if !ok {
		h.noise.warn(peer.Source, "api token rejected", "account", peer.Account)
		w.Header().Set("WWW-Authenticate", `Bearer realm="garage-gate"`)
		writeJSON(w, http.StatusUnauthorized, apiResponse{Error: "unauthorized",
			Message: "send the phone's token as Authorization: Bearer <token>"})
		return
	}
	if peer.Account != "" && peer.Account != phone {
		h.noise.warn(peer.Source, "api token of another phone rejected",
			"account", peer.Account, "token_phone", phone)
		writeJSON(w, http.StatusForbidden, apiResponse{Error: "forbidden",
			Message: fmt.Sprintf("the token is not the one of %s, the SOCKS5 account", peer.Account)})
		return
	}

	o := h.fire(r, device, phone, "api")
	body := apiResponse{Device: device, Message: apiMessage(o, device)}
	if o.kind == outcomeSent {
		body.Status, body.Seq = o.kind, o.seq
	} else {
		body.Error = o.kind
	}
	if o.kind == outcomeCooldown {
		body.RetryAfter = o.retryAfter()
		w.Header().Set("Retry-After", strconv.Itoa(body.RetryAfter))
	}
	writeJSON(w, o.status(), body)
}

func apiMessage(o outcome, device string) string {
	switch o.kind {
	case outcomeSent:
		return fmt.Sprintf("the broker acknowledged command %d to %s", o.seq, device)
	case outcomeCooldown:
		return fmt.Sprintf("%s is in its cooldown: retry in %d s", device, o.retryAfter())
	case outcomeUnreachable:
		return "the gate is not connected to the broker: nothing was sent"
	case outcomeUnconfirmed:
		return fmt.Sprintf("the broker did not acknowledge the command in time: it may still "+
			"arrive at %s within %d seconds, so wait before you trigger again", device, windowSeconds)
	case outcomeClosed:
		return "the gate is shutting down: retry in a moment"
	case outcomeUnknown:
		return fmt.Sprintf("no device named %q", device)
	}
	return "the gate failed to send the command: see its log"
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func writeJSON(w http.ResponseWriter, status int, body apiResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
