package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/jetmr/jetmr/broker"
	"github.com/jetmr/jetmr/mapper"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slots, err := strconv.Atoi(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	reg := mapper.NewRegistry()
	reg.RegisterMap("sleep20ms", sleep20ms)
	b, err := broker.Open(ctx, broker.Config{URL: os.Args[1]})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	pool, err := mapper.NewPool(mapper.PoolConfig{Broker: b, Registry: reg, Slots: slots, Logger: zerolog.New(os.Stderr).Level(zerolog.InfoLevel)})
	if err == nil {
		err = pool.Run(ctx)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func sleep20ms(ctx context.Context, chunk []byte, emit mapper.Emitter) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(20 * time.Millisecond):
	}
	return emit.Emit([]byte("tasks"), []byte("1"))
}
