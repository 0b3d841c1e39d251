package socks

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Protocol numbers of RFC 1928 (SOCKS5) and RFC 1929 (username/password).
const (
	socksVersion = 0x05
	authVersion  = 0x01

	methodNoAuth       = 0x00
	methodUserPass     = 0x02
	methodNoAcceptable = 0xFF

	cmdConnect = 0x01

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04

	replySucceeded               = 0x00
	replyGeneralFailure          = 0x01
	replyNotAllowed              = 0x02
	replyCommandNotSupported     = 0x07
	replyAddressTypeNotSupported = 0x08

	authSucceeded = 0x00
	authFailed    = 0x01
)

// maxMessage is the size of the longest handshake message, an RFC 1929 request
// with a 255-byte username and password. No read goes past it, so a client
// cannot make the server buffer more.
const maxMessage = 2 + 255 + 1 + 255

// clientConn is the state of one handshake. The server reads each message with
// exact-length reads into in, so no byte the client sends after the handshake
// is consumed before the handler gets the connection.
type clientConn struct {
	srv      *Server
	nc       net.Conn
	src      netip.AddrPort
	key      netip.Prefix
	noAuth   bool // holds a slot of MaxNoAuthConns until the connection ends
	deadline time.Time
	in       [maxMessage]byte
	out      [10]byte
}

// clientConnPool recycles clientConns, so that a handshake allocates little more
// than the strings it hands on.
var clientConnPool = sync.Pool{New: func() any { return new(clientConn) }}

func newClientConn(s *Server, nc net.Conn, src netip.AddrPort, key netip.Prefix) *clientConn {
	c := clientConnPool.Get().(*clientConn)
	c.srv, c.nc, c.src, c.key = s, nc, src, key
	return c
}

// free clears c, the password bytes in it included, and returns it to the pool.
func (c *clientConn) free() {
	*c = clientConn{}
	clientConnPool.Put(c)
}

// handshake runs the server side of the SOCKS5 handshake and returns the
// session. On failure it has sent the reply the protocol calls for, if any, and
// returns a *rejectError with the reason.
func (c *clientConn) handshake() (Session, error) {
	c.deadline = time.Now().Add(c.srv.cfg.HandshakeTimeout)
	if err := c.nc.SetDeadline(c.deadline); err != nil {
		return Session{}, ioReject(err)
	}

	method, err := c.negotiate()
	if err != nil {
		return Session{}, err
	}

	var account string
	if method == methodUserPass {
		if account, err = c.authenticate(); err != nil {
			return Session{}, err
		}
	}

	dest, err := c.request()
	if err != nil {
		return Session{}, err
	}

	if err := c.connect(dest); err != nil {
		return Session{}, err
	}
	return Session{Account: account, Source: c.src, Dest: dest}, nil
}

// negotiate reads the client's greeting and sends the method the server picked.
func (c *clientConn) negotiate() (byte, error) {
	hdr, err := c.read(0, 2)
	if err != nil {
		return 0, err
	}
	if hdr[0] != socksVersion {
		return 0, rejectVersion(hdr[0])
	}

	methods, err := c.read(2, int(hdr[1]))
	if err != nil {
		return 0, err
	}
	method, reason := c.chooseMethod(methods)
	if err := c.send(socksVersion, method); err != nil {
		return 0, err
	}
	if reason != nil {
		return 0, reason
	}
	return method, nil
}

// chooseMethod prefers username/password, so that a client with credentials is
// known by its account. It picks no authentication only when the config allows
// it, the source is not locked out and a slot of MaxNoAuthConns is free. With
// methodNoAcceptable it returns the reason.
func (c *clientConn) chooseMethod(offered []byte) (byte, error) {
	cfg := &c.srv.cfg
	if cfg.Authenticate != nil && bytes.IndexByte(offered, methodUserPass) >= 0 {
		return methodUserPass, nil
	}
	if !cfg.AllowNoAuth || bytes.IndexByte(offered, methodNoAuth) < 0 ||
		c.srv.tracker.lockedOut(c.key) {
		return methodNoAcceptable, rejectNoMethod(offered)
	}
	if !c.srv.tracker.admitNoAuth() {
		return methodNoAcceptable, rejectNoAuthCap
	}
	c.noAuth = true
	return methodNoAuth, nil
}

// authenticate reads the RFC 1929 request and returns the account, or sends
// status 0x01 and returns why not.
func (c *clientConn) authenticate() (string, error) {
	hdr, err := c.read(0, 2)
	if err != nil {
		return "", err
	}
	if hdr[0] != authVersion {
		return "", c.failAuth(rejectAuthVersion(hdr[0]))
	}

	// The username and the password's length byte arrive together.
	userLen := int(hdr[1])
	user, err := c.read(2, userLen+1)
	if err != nil {
		return "", err
	}
	passLen := int(user[userLen])
	user = user[:userLen]
	pass, err := c.read(3+userLen, passLen)
	if err != nil {
		return "", err
	}
	return c.checkPassword(user, pass)
}

// checkPassword calls Authenticate with the pair unless the source is locked
// out, and counts a failed login toward the next lockout.
func (c *clientConn) checkPassword(user, pass []byte) (string, error) {
	tr := c.srv.tracker
	// The check reserves one of the source's failures before Authenticate runs,
	// so concurrent logins check no more wrong passwords than LockoutFailures.
	// A source that is locked out, or whose failures left are all reserved, is
	// rejected without calling Authenticate, so neither the reply nor its timing
	// depends on the password.
	if err := tr.beginCheck(c.key); err != nil {
		return "", c.failAuth(err)
	}

	account, ok := c.srv.cfg.Authenticate(string(user), string(pass))
	if d := tr.endCheck(c.key, ok); d > 0 {
		c.srv.logLockout(c.key, d)
	}
	if !ok {
		return "", c.failAuth(rejectAuthFailed(user))
	}
	return account, c.send(authVersion, authSucceeded)
}

// failAuth sends the RFC 1929 failure status and returns reason.
func (c *clientConn) failAuth(reason error) error {
	// The connection is closed next either way, and the log line needs reason
	// more than a write error.
	_ = c.send(authVersion, authFailed)
	return reason
}

// request reads the client's request and returns its destination. It reads the
// whole request before any reply, so the close that follows a rejection finds no
// unread bytes and sends FIN, not a reset that could discard the reply.
func (c *clientConn) request() (Destination, error) {
	hdr, err := c.read(0, 4)
	if err != nil {
		return Destination{}, err
	}
	if hdr[0] != socksVersion {
		return Destination{}, rejectVersion(hdr[0])
	}
	cmd, atyp := hdr[1], hdr[3]

	dest, err := c.readAddress(atyp)
	if err != nil {
		return dest, err
	}
	if cmd != cmdConnect {
		return dest, c.replyFailure(replyCommandNotSupported, rejectCommand(cmd))
	}
	return dest, nil
}

// readAddress reads DST.ADDR and DST.PORT of address type atyp.
func (c *clientConn) readAddress(atyp byte) (Destination, error) {
	var d Destination
	var err error
	switch atyp {
	case atypIPv4:
		d.Addr, err = c.readIP(4)
	case atypIPv6:
		d.Addr, err = c.readIP(16)
	case atypDomain:
		d.Host, err = c.readDomain()
	default:
		// The length of the rest is unknown, so the reply goes out without it.
		return d, c.replyFailure(replyAddressTypeNotSupported, rejectAddressType(atyp))
	}
	if err != nil {
		return d, err
	}

	port, err := c.read(0, 2)
	if err != nil {
		return d, err
	}
	d.Port = binary.BigEndian.Uint16(port)
	if atyp == atypDomain && d.Host == "" {
		return d, c.replyFailure(replyGeneralFailure, rejectEmptyHost)
	}
	return d, nil
}

func (c *clientConn) readIP(size int) (netip.Addr, error) {
	b, err := c.read(0, size)
	if err != nil {
		return netip.Addr{}, err
	}
	ip, _ := netip.AddrFromSlice(b)
	return ip.Unmap(), nil
}

func (c *clientConn) readDomain() (string, error) {
	n, err := c.read(0, 1)
	if err != nil {
		return "", err
	}
	name, err := c.read(1, int(n[0]))
	if err != nil {
		return "", err
	}
	return string(name), nil
}

// connect applies the destination rule and sends the final reply. On success
// it clears the deadlines, because the connection now belongs to the handler.
func (c *clientConn) connect(dest Destination) error {
	if !c.srv.cfg.Allow(dest) {
		return c.replyFailure(replyNotAllowed, rejectNotAllowed(dest))
	}
	if err := c.reply(replySucceeded); err != nil {
		return err
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return ioReject(err)
	}
	return nil
}

// replyFailure sends the SOCKS5 failure reply code and returns reason.
func (c *clientConn) replyFailure(code byte, reason error) error {
	// The connection is closed next either way, and the log line needs reason
	// more than a write error.
	_ = c.reply(code)
	return reason
}

// reply sends a SOCKS5 reply with BND.ADDR 0.0.0.0 and BND.PORT 0. The server
// never binds a socket for the client, so there is no address to report.
func (c *clientConn) reply(code byte) error {
	c.out = [10]byte{socksVersion, code, 0x00, atypIPv4}
	return c.write(c.out[:])
}

func (c *clientConn) send(a, b byte) error {
	c.out[0], c.out[1] = a, b
	return c.write(c.out[:2])
}

func (c *clientConn) write(b []byte) error {
	if _, err := c.nc.Write(b); err != nil {
		return ioReject(err)
	}
	return nil
}

// read reads exactly n bytes into c.in at offset off. The read deadline is the
// handshake's deadline or readTimeout from now, whichever comes first.
func (c *clientConn) read(off, n int) ([]byte, error) {
	deadline := time.Now().Add(c.srv.readTimeout)
	if c.deadline.Before(deadline) {
		deadline = c.deadline
	}
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return nil, ioReject(err)
	}
	b := c.in[off : off+n]
	if _, err := io.ReadFull(c.nc, b); err != nil {
		return nil, ioReject(err)
	}
	return b, nil
}
