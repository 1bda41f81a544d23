package broker_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/internal/nettest"
)

// TestHurry: a connection to a server that went silent, while the
// connection stays up or once the client is reconnecting to a process
// that takes connections and never answers (a suspended server), is seen
// as not answering within the probe's timeout; once hurried, calls on the
// connection return within their contexts' deadline, not the connect
// timeout (an attempt to reconnect holds the connection's lock that long),
// the connection still comes back to the server once it answers again,
// and Close returns within a second or two when it falls silent again.
func TestHurry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		drop bool // the relayed connections are dropped: the client reconnects
		fill bool // the client writes until its socket is full
	}{
		{"connection up", false, false},
		{"connection up, socket full", false, true},
		{"reconnecting", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, broker.ServerConfig{Token: "tok"})
			relay := nettest.StartRelay(t, srv.ClientURL())
			// A long connect timeout: an attempt to reconnect that is not
			// hurried holds the connection's lock that long.
			const connectTimeout = 10 * time.Second
			b, err := open(t, broker.Config{URL: "nats://tok@" + relay.Addr(), ConnectTimeout: connectTimeout})
			if err != nil {
				t.Fatal(err)
			}
			if !b.Answering(time.Second) {
				t.Fatal("Answering is false with the server up")
			}
			relay.Silence(tt.drop)
			var fill *filler
			if tt.fill {
				fill = startFiller(t, b)
				fill.waitBlocked(t)
			}
			deadline := time.Now().Add(10 * time.Second)
			for b.Answering(500 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("Answering is still true 10s after the server went silent")
				}
			}
			b.Hurry()
			if fill != nil {
				// A write blocked on the full socket holds the
				// connection's lock for a minute (nats.go's flusher
				// timeout) unless Hurry cuts the connection.
				fill.stop(t, 2*time.Second)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			for i := range 5 {
				start := time.Now()
				_, err := b.JS.Publish(ctx, "jetmr.hurry", []byte("x"))
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("publish %d took %s once hurried (err %v), want its context's second", i, took.Round(time.Millisecond), err)
				}
			}

			relay.Speak()
			deadline = time.Now().Add(20 * time.Second)
			for !b.Answering(time.Second) {
				if time.Now().After(deadline) {
					t.Fatal("Answering is still false 20s after the server answers again")
				}
				time.Sleep(100 * time.Millisecond)
			}
			relay.Silence(true)
			for b.Answering(500 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("Answering is still true after the server went silent again")
				}
			}
			start := time.Now()
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Close took %s with the server silent, want a second or two", took.Round(time.Millisecond))
			}
		})
	}
}

// filler publishes 64 KiB messages on a broker's connection until
// stopped, so that a server that reads nothing fills its socket.
type filler struct {
	done chan struct{}
	wg   sync.WaitGroup
	last atomic.Int64 // when a publish last returned, in Unix nanoseconds
}

func startFiller(t *testing.T, b *broker.Broker) *filler {
	f := &filler{done: make(chan struct{})}
	f.last.Store(time.Now().UnixNano())
	data := make([]byte, 64<<10)
	f.wg.Go(func() {
		for {
			select {
			case <-f.done:
				return
			default:
			}
			err := b.NC.Publish("jetmr.fill", data)
			f.last.Store(time.Now().UnixNano())
			if err != nil {
				return // the reconnect buffer is full
			}
		}
	})
	t.Cleanup(func() { f.stop(t, time.Minute) })
	return f
}

// waitBlocked waits until a publish has not returned for a second.
func (f *filler) waitBlocked(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Since(time.Unix(0, f.last.Load())) < time.Second {
		if time.Now().After(deadline) {
			t.Fatal("the publishes to a silent server still return after 20s: its socket never fills")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the filler and fails the test when its publish under way
// does not return within timeout.
func (f *filler) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-f.done:
	default:
		close(f.done)
	}
	stopped := make(chan struct{})
	go func() { f.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(timeout):
		t.Errorf("a publish blocked on the full socket still waits %s after Hurry", timeout)
		<-stopped
	}
}
