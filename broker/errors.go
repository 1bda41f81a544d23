package broker

import "errors"

var (
	// ErrUnreachable means the NATS server could not be reached, refused the
	// credentials, or has JetStream disabled: infrastructure, not input.
	ErrUnreachable = errors.New("NATS unreachable")
	// ErrAuthentication means the server refused the client's credentials,
	// or asked for some and got none. It comes wrapped with ErrUnreachable.
	ErrAuthentication = errors.New("NATS authentication failed")
	// ErrTLS means the TLS handshake failed: an untrusted certificate, or
	// TLS asked of a server without it. It comes wrapped with ErrUnreachable.
	ErrTLS = errors.New("NATS TLS failed")
	// ErrStoreBusy means another jetmr process holds the store directory.
	ErrStoreBusy = errors.New("store directory in use")
	// ErrConfig means a [Config] or [ServerConfig] is not valid: the message
	// names the setting and the fix.
	ErrConfig = errors.New("bad broker configuration")
)

// ErrNoStore means a directory given as a store holds no jetmr store.
var ErrNoStore = errors.New("no jetmr store")
