package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// argLogger keeps every warning with its arguments.
type argLogger struct {
	mu    sync.Mutex
	warns []string
}

func (l *argLogger) Info(string, ...any) {}
func (l *argLogger) Warn(msg string, args ...any) {
	l.mu.Lock()
	l.warns = append(l.warns, fmt.Sprint(append([]any{msg}, args...)...))
	l.mu.Unlock()
}

func (l *argLogger) scriptWarnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, w := range l.warns {
		if strings.Contains(w, "refuses scripts") {
			out = append(out, w)
		}
	}
	return out
}

// Many requests hit a server that refuses scripts at once: every save goes
// through (plainly) and the warning is logged once.
func TestAttackFaultsScriptRefusalWarnsOnceUnderConcurrency(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -@scripting"}})
	var log argLogger
	s := openStore(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &log, PoolSize: 8})
	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("Concurrent%012d", i)
			v := []byte(`{"ID":"` + id + `"}`)
			if _, ok, err := attackSave(s, context.Background(), id, v, nil, time.Minute); !ok || err != nil {
				errs <- fmt.Errorf("%s: ok=%v err=%v", id, ok, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if w := log.scriptWarnings(); len(w) != 1 {
		t.Errorf("%d warnings, want 1: %q", len(w), w)
	}
	if n := dbsize(t, srv.Addr); n != 64 {
		t.Errorf("%d keys, want 64", n)
	}
}

// An ACL user who may run EVAL but not EVALSHA: the client already knows
// how to send EVAL with the script's source (it does after NOSCRIPT), yet
// the store gives up conditional saves, and a logout raced by a slow writer
// brings the session back.
func TestAttackFaultsEvalOnlyUserKeepsConditionalSaves(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all -evalsha"}})
	var log argLogger
	a := newApp(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &log})
	logoutRacedBy(t, a, a.login("alice"), "/set?cart=1")
	if attackPlainWrites(a.s) {
		t.Errorf("the store writes plainly for a user allowed EVAL; warnings: %q", log.scriptWarnings())
	}
}

// A server where EVALSHA is renamed away (rename-command, as managed Redis
// services and proxies do) answers "unknown command 'evalsha', with args
// beginning with: <sha> 1 <key> <value>": the one warning then writes a
// live session ID (a bearer credential) and the start of the session's data
// to the operator's log.
func TestAttackFaultsScriptRefusalWarningLeaksSessionID(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{Args: []string{"--rename-command", "EVALSHA", ""}})
	var log argLogger
	a := newApp(t, Options{Addr: srv.Addr, Logger: &log})
	id := a.login("alice")
	w := log.scriptWarnings()
	if len(w) != 1 {
		t.Fatalf("warnings: %q", w)
	}
	if strings.Contains(w[0], id) || strings.Contains(w[0], "alice") {
		t.Errorf("the warning logs the session ID %s or its data:\n%s", id, w[0])
	}
}

// The fallback must not be for ever: an ACL that refused scripts for a
// moment (a deploy, an ACL LOAD in the wrong order) would leave the store
// writing plainly until the process restarts, and logouts raced by slow
// writers undone long after scripting came back. The store tries the
// script again after scriptRetryInterval (shortened here).
func TestAttackFaultsScriptRefusalIsNotForever(t *testing.T) {
	defer func(d time.Duration) { scriptRetryInterval = d }(scriptRetryInterval)
	scriptRetryInterval = time.Millisecond
	srv := redisserver.Start(t, redisserver.Config{Users: []string{"app on >apppw ~* +@all"}})
	var log argLogger
	a := newApp(t, Options{Addr: srv.Addr, Username: "app", Password: "apppw", Logger: &log})
	srv.Do(t, "ACL", "SETUSER", "app", "-@scripting")
	id := a.login("alice")
	srv.Do(t, "ACL", "SETUSER", "app", "+@scripting")
	time.Sleep(10 * time.Millisecond)
	logoutRacedBy(t, a, id, "/set?cart=1")
	if attackPlainWrites(a.s) {
		t.Errorf("scripting is allowed again, the store still writes plainly")
	}
}
