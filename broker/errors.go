package broker

import "errors"

var (
	// ErrUnreachable means the NATS server could not be reached, refused the
	// credentials, or has JetStream disabled: infrastructure, not input.
	ErrUnreachable = errors.New("NATS unreachable")
	// ErrStoreBusy means another jetmr process holds the store directory.
	ErrStoreBusy = errors.New("store directory in use")
)
