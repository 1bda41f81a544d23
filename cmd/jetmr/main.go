package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	err := newRootCommand().ExecuteContext(ctx)
	stopProfile()
	stop()
	code := exitCode(err)
	if err != nil && code != exitOK {
		if jsonStderr.Load() {
			json.NewEncoder(os.Stderr).Encode(map[string]any{"level": "error", "exit": code, "message": message(err)})
		} else {
			fmt.Fprintln(os.Stderr, "jetmr:", message(err))
		}
	}
	os.Exit(code)
}
