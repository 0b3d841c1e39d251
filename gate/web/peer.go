package web

import (
	"context"
	"net/netip"
)

// Peer is the SOCKS5 front's information about a connection.
type Peer struct {
	// Account is the phone that logged in with its SOCKS5 password, or "" for a
	// client that used no authentication (gate.allow_no_auth).
	Account string
	Source  netip.AddrPort
}

type peerKey struct{}

// WithPeer returns a context that carries p, for http.Server.ConnContext.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFrom returns the Peer of a request context, the zero Peer when there is none.
func PeerFrom(ctx context.Context) Peer {
	p, _ := ctx.Value(peerKey{}).(Peer)
	return p
}
