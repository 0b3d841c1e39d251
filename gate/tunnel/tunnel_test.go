package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

type peer struct{ account string }

// TestServeHTTP runs net/http on the listener and checks that each request gets
// the information handed with its connection.
func TestServeHTTP(t *testing.T) {
	l := NewListener[peer](&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80})
	type key struct{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, r.Context().Value(key{}))
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			p, _ := InfoOf[peer](c)
			return context.WithValue(ctx, key{}, p.account)
		},
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	for _, account := range []string{"phone1", "phone2"} {
		t.Run(account, func(t *testing.T) {
			client, server := net.Pipe()
			handed := make(chan error, 1)
			go func() { handed <- l.Hand(server, peer{account}) }()

			fmt.Fprint(client, "GET / HTTP/1.1\r\nHost: garage.gate\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(client), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != account {
				t.Errorf("body = %q, want %q", body, account)
			}
			select {
			case err := <-handed:
				if err != nil {
					t.Errorf("Hand: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Hand did not return after the server closed the connection")
			}
		})
	}
}

func TestHandAfterClose(t *testing.T) {
	l := NewListener[peer](&net.TCPAddr{})
	l.Close()
	client, server := net.Pipe()
	defer client.Close()
	if err := l.Hand(server, peer{}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Hand after Close = %v, want net.ErrClosed", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

func TestInfoOfOtherConn(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	if _, ok := InfoOf[peer](server); ok {
		t.Error("InfoOf(plain conn) = true")
	}
}
