// Package socks is the SOCKS5 front of garage-gate: the server side of the RFC 1928
// handshake with RFC 1929 username/password authentication, for CONNECT only.
//
// The server never dials anything. A CONNECT that passes authentication and the
// caller's destination rule gets a success reply, and the client connection is
// handed to the caller, which serves the gate's own virtual host on it. A CONNECT to
// any other destination gets reply 0x02, so the gate is never an open proxy.
//
// An open SOCKS5 port is what scanners probe, so the server also bounds what an
// unauthenticated client can cost. It sets a deadline for the whole handshake and
// for each read, caps concurrent connections overall, per source and without
// authentication, locks a source out after repeated failed logins and
// rate-limits log lines per source.
//
// A source is an IPv4 address or an IPv6 /64 prefix, because one IPv6 host can use
// any address of its /64.
//
// The protocol is written here by hand, in a few hundred lines, rather than taken
// from a SOCKS5 server library. armon/go-socks5 has no tagged release and no
// commit since September 2016. Its maintained fork, things-go/go-socks5 (read at
// its June 2026 head), sets no deadline on any read and has no per-source cap and
// no hook for a lockout. Its Serve takes no context, returns on the first accept
// error and does not wait for its connections. It reads the handshake through a
// bufio.Reader, so bytes it buffered would be lost to a handler given the raw
// connection, and it keeps the client's password in a map allocated for each
// authenticated request.
package socks
