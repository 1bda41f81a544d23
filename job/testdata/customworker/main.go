// Command customworker is a user-defined jetmr worker, built by the job
// tests: the built-ins plus a Go map function "initials", run against the
// NATS server named by its first argument.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/mapper"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := mapper.NewRegistry()
	reg.RegisterMap("initials", initials)
	b, err := broker.Open(ctx, broker.Config{URL: os.Args[1]})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	pool, err := mapper.NewPool(mapper.PoolConfig{Broker: b, Registry: reg, Slots: 2})
	if err == nil {
		err = pool.Run(ctx)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// initials counts words by their first letter, lower-cased.
func initials(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
	start := true
	for len(chunk) > 0 {
		r, n := utf8.DecodeRune(chunk)
		chunk = chunk[n:]
		word := unicode.IsLetter(r)
		if word && start {
			if err := emit.Emit([]byte(string(unicode.ToLower(r))), []byte("1")); err != nil {
				return err
			}
		}
		start = !word
	}
	return nil
}
