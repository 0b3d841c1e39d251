// Package tunnel lets a net/http server serve connections that arrive through
// the SOCKS5 front instead of from a socket of its own: a [Listener] whose Accept
// returns the connections passed to [Listener.Hand], each carrying what the front
// learned about it.
package tunnel

import (
	"net"
	"sync"
)

// Listener is a net.Listener fed by Hand. It is safe for concurrent use.
type Listener[T any] struct {
	addr      net.Addr
	conns     chan *Conn[T]
	done      chan struct{}
	closeOnce sync.Once
}

// Conn is a connection handed to a Listener, with the information passed along.
type Conn[T any] struct {
	net.Conn
	Info T

	closed    chan struct{}
	closeOnce sync.Once
}

// NewListener returns an open Listener that reports addr as its address.
func NewListener[T any](addr net.Addr) *Listener[T] {
	return &Listener[T]{addr: addr, conns: make(chan *Conn[T]), done: make(chan struct{})}
}

// Hand passes conn to the next Accept and blocks until the server that accepted
// it closes it, so that a caller that closes conn on return does not cut a
// request short. It returns net.ErrClosed, without taking conn, when the listener
// is closed before a server accepts it.
func (l *Listener[T]) Hand(conn net.Conn, info T) error {
	c := &Conn[T]{Conn: conn, Info: info, closed: make(chan struct{})}
	select {
	case l.conns <- c:
	case <-l.done:
		return net.ErrClosed
	}
	<-c.closed
	return nil
}

// Accept returns the next connection passed to Hand, or net.ErrClosed after Close.
func (l *Listener[T]) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Hand. Connections already accepted stay open.
func (l *Listener[T]) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address given to NewListener.
func (l *Listener[T]) Addr() net.Addr { return l.addr }

// Close closes the connection and releases the Hand call that passed it.
func (c *Conn[T]) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { close(c.closed) })
	return err
}

// InfoOf returns the information handed along with c, when c came from a Listener[T].
func InfoOf[T any](c net.Conn) (T, bool) {
	tc, ok := c.(*Conn[T])
	if !ok {
		var zero T
		return zero, false
	}
	return tc.Info, true
}
