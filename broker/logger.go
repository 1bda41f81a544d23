package broker

import (
	"github.com/rs/zerolog"
)

// serverLogger routes nats-server logs to zerolog, notices at level
// notice (zero value: debug). Messages are formatted only when logged.
type serverLogger struct {
	log    zerolog.Logger
	notice zerolog.Level
}

func (l serverLogger) Noticef(format string, v ...any) {
	l.log.WithLevel(l.notice).Str("component", "nats-server").Msgf(format, v...)
}
func (l serverLogger) Warnf(format string, v ...any) {
	l.log.Warn().Str("component", "nats-server").Msgf(format, v...)
}
func (l serverLogger) Fatalf(format string, v ...any) {
	l.log.Error().Str("component", "nats-server").Msgf(format, v...)
}
func (l serverLogger) Errorf(format string, v ...any) {
	l.log.Error().Str("component", "nats-server").Msgf(format, v...)
}
func (l serverLogger) Debugf(format string, v ...any) {
	l.log.Trace().Str("component", "nats-server").Msgf(format, v...)
}
func (l serverLogger) Tracef(format string, v ...any) {
	l.log.Trace().Str("component", "nats-server").Msgf(format, v...)
}
