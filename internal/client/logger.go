package client

// Logger is where the client reports what an operator must see: dial
// failures, reconnects, retries and failovers, as a message with key-value
// pairs. *slog.Logger satisfies it. It is an interface rather than
// *slog.Logger so that a program that logs otherwise does not link log/slog
// (270 KB).
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

// discard is the Logger of a Config without one.
type discard struct{}

func (discard) Info(string, ...any) {}
func (discard) Warn(string, ...any) {}
