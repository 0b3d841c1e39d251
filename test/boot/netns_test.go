package boot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// dialFrom opens a TCP connection to raddr from the local address source,
// inside the network namespace at nsPath. The socket is made by a thread that
// has entered the namespace, so the connection lives there for good while the
// rest of the test stays in this machine's namespace.
func dialFrom(ctx context.Context, nsPath, source, raddr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The goroutine ends without UnlockOSThread, so the Go runtime
		// ends the thread too, and no other goroutine ever runs in the
		// namespace.
		runtime.LockOSThread()
		conn, err := dialHere(ctx, nsPath, source, raddr)
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}

// dialHere moves the calling thread into the network namespace at nsPath and
// dials from there. The caller must have locked the goroutine to its thread.
func dialHere(ctx context.Context, nsPath, source, raddr string) (net.Conn, error) {
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("enter network namespace %s: %w", nsPath, err)
	}
	local, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(source, "0"))
	if err != nil {
		return nil, err
	}
	d := net.Dialer{LocalAddr: local}
	return d.DialContext(ctx, "tcp", raddr)
}

// sameNetns reports whether the processes behind the two /proc/PID/ns/net
// paths share a network namespace.
func sameNetns(a, b string) (bool, error) {
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		return false, err
	}
	if err := syscall.Stat(b, &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// isTimeout reports whether err means that no response came before the
// deadline, as opposed to a refusal or a reset.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}
