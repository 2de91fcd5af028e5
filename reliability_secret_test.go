package redisstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	fault "github.com/sessionx-redis/redisstore/redistest"
)

// Scenario 10, continued: a server older than Redis 6 quotes the arguments
// of a command it does not know, the password of HELLO 3 AUTH included.
// With Protocol 3 the handshake error (and its log line) carries that text.
func TestReliabilitySecretQuotedByServer(t *testing.T) {
	const secret = "Pw-UNIQUE-9c1e5d"
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	srv := fault.Start(t, fault.Config{Password: secret})
	srv.Handle(fault.Rule{Command: "HELLO", Reply: fault.ErrorReply("ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default' '" + secret + "'")})
	_, err := NewRedisStore(Options{Addr: srv.Addr(), Password: secret, Protocol: 3, Logger: log})
	out := fmt.Sprintf("%v %+v", err, err) + logged.String()
	n := strings.Count(out, secret)
	t.Logf("figure: the password appears %d times in the error and log of a HELLO the server quoted back", n)
	if err == nil || n != 0 {
		t.Errorf("err = %v; log:\n%s", err, logged.String())
	}
}
