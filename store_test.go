package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/sessionx-redis/redisstore/resp"
	"github.com/sessionx-redis/redisstore/session"
)

// newMini starts a miniredis and a RedisStore on it.
func newMini(t *testing.T, opts Options) (*miniredis.Miniredis, *RedisStore) {
	t.Helper()
	mr := miniredis.RunT(t)
	opts.Addr = mr.Addr()
	s, err := NewRedisStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return mr, s
}

func testSession(id string) *session.Session {
	now := time.Date(2026, 11, 26, 10, 30, 0, 123456789, time.UTC)
	return &session.Session{
		ID:        id,
		Data:      map[string]interface{}{"user": "alice", "visits": 3.0, "admin": true},
		CreatedAt: now, UpdatedAt: now.Add(time.Minute), RotatedAt: now,
	}
}

func TestSaveLoadDeleteRoundTrip(t *testing.T) {
	mr, s := newMini(t, Options{})
	in := testSession("abc")
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	out, err := s.Load("abc")
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != in.ID || out.Data["user"] != "alice" || out.Data["visits"] != 3.0 || !out.CreatedAt.Equal(in.CreatedAt) {
		t.Errorf("loaded %+v, saved %+v", out, in)
	}
	if ttl := mr.TTL("sessionx:abc"); ttl != 24*time.Hour {
		t.Errorf("TTL = %v, want 24h", ttl)
	}
	if err := s.Delete("abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("abc"); !errors.Is(err, ErrSessionNotFound) || !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load after Delete: %v", err)
	}
	if err := s.Delete("abc"); err != nil {
		t.Errorf("Delete of a missing session: %v", err)
	}
}

func TestSessionExpiresWithTTL(t *testing.T) {
	mr, s := newMini(t, Options{TTL: time.Minute, Prefix: "app:"})
	if err := s.Save(testSession("x")); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists("app:x") {
		t.Fatal("key app:x missing")
	}
	mr.FastForward(59 * time.Second)
	if _, err := s.Load("x"); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	mr.FastForward(2 * time.Second)
	if _, err := s.Load("x"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestSetTTLChangesLaterSaves(t *testing.T) {
	mr, s := newMini(t, Options{})
	s.SetTTL(90 * time.Second)
	s.Save(testSession("a"))
	if ttl := mr.TTL("sessionx:a"); ttl != 90*time.Second {
		t.Errorf("TTL = %v, want 90s", ttl)
	}
	s.SetTTL(0) // back to the configured TTL, never "forever"
	s.Save(testSession("b"))
	if ttl := mr.TTL("sessionx:b"); ttl != 24*time.Hour {
		t.Errorf("TTL after SetTTL(0) = %v, want 24h", ttl)
	}
}

func TestInvalidIDsCauseNoRedisCommand(t *testing.T) {
	mr, s := newMini(t, Options{})
	before := mr.CommandCount()
	for _, id := range []string{"", "a b", "a\nb", "\x00", "tab\t", "del\x7f", strings.Repeat("x", MaxIDLength+1)} {
		if _, err := s.Load(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Load(%q) = %v", id, err)
		}
		if err := s.Delete(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Delete(%q) = %v", id, err)
		}
		if err := s.Save(&session.Session{ID: id}); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Save(%q) = %v", id, err)
		}
	}
	if n := mr.CommandCount() - before; n != 0 {
		t.Errorf("%d commands sent for invalid IDs", n)
	}
	if _, err := s.Load(strings.Repeat("x", MaxIDLength)); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("longest valid ID: %v", err)
	}
}

func TestCorruptValueIsErrInvalidSession(t *testing.T) {
	mr, s := newMini(t, Options{})
	for _, v := range []string{"not json", `{"ID": 5}`, `[1,2]`, `{"Data": "x"}`, "\xff\xfe"} {
		mr.Set("sessionx:bad", v)
		_, err := s.Load("bad")
		var je *session.SyntaxError
		var te *session.TypeError
		if !errors.Is(err, ErrInvalidSession) || !errors.Is(err, session.ErrInvalidSession) || !(errors.As(err, &je) || errors.As(err, &te)) {
			t.Errorf("value %q: err = %v", v, err)
		}
	}
	// The store still works: the connection stayed in sync.
	if err := s.Save(testSession("ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("ok"); err != nil {
		t.Fatal(err)
	}
}

func TestWrongTypeIsServerError(t *testing.T) {
	mr, s := newMini(t, Options{})
	mr.Lpush("sessionx:list", "x")
	_, err := s.Load("list")
	var se resp.Error
	if !errors.As(err, &se) || se.Kind != "WRONGTYPE" {
		t.Fatalf("err = %v, want WRONGTYPE", err)
	}
	if errors.Is(err, ErrSessionNotFound) {
		t.Error("a server error reported as not found")
	}
	if st := s.Stats(); st.Errors["WRONGTYPE"] != 1 {
		t.Errorf("Stats.Errors = %v", st.Errors)
	}
}

func TestClosedStoreReturnsErrClosed(t *testing.T) {
	_, s := newMini(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Load("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Load: %v", err)
	}
	if err := s.Save(testSession("a")); !errors.Is(err, ErrClosed) {
		t.Errorf("Save: %v", err)
	}
	if err := s.Delete("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Delete: %v", err)
	}
}

func TestCancelledContextFailsWithContextError(t *testing.T) {
	_, s := newMini(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.LoadContext(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load: %v", err)
	}
	if err := s.SaveContext(ctx, testSession("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("Save: %v", err)
	}
}

func TestNewFailsFastWhenRedisIsDown(t *testing.T) {
	mr := miniredis.RunT(t)
	addr := mr.Addr()
	mr.Close()
	start := time.Now()
	_, err := NewRedisStore(Options{Addr: addr, DialTimeout: time.Second})
	if err == nil {
		t.Fatal("New succeeded with no server")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("New took %v", time.Since(start))
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("err = %v does not name the address", err)
	}
}

func TestPasswordWithMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireAuth(marker)
	if _, err := NewRedisStore(Options{Addr: mr.Addr(), Password: "wrong"}); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v", err)
	}
	s, err := NewRedisStore(Options{Addr: mr.Addr(), Password: marker})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Save(testSession("p")); err != nil {
		t.Fatal(err)
	}
}

// upstreamSession is shaped exactly like sessionx's pkg/session.Session.
type upstreamSession struct {
	ID        string
	Data      map[string]interface{}
	CreatedAt time.Time
	UpdatedAt time.Time
	RotatedAt time.Time
}

// upstreamStore is sessionx's Store interface, for upstreamSession.
type upstreamStore interface {
	Load(id string) (*upstreamSession, error)
	Save(sess *upstreamSession) error
	Delete(id string) error
}

func TestNewFitsSessionxStoreByMethodSet(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := New(Options{Addr: mr.Addr()}, func(s *upstreamSession) string { return s.ID })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var store upstreamStore = s
	if err := store.Save(&upstreamSession{ID: "u1", Data: map[string]interface{}{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load("u1")
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("Load = %+v, %v", got, err)
	}
}

func TestValuesAreByteCompatibleWithUpstream(t *testing.T) {
	mr, s := newMini(t, Options{})
	in := testSession("compat")
	up := upstreamSession(*in)
	// Upstream: json.Marshal of its Session, SET prefix+id value EX ttl.
	want, _ := json.Marshal(&up)
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	got, _ := mr.Get("sessionx:compat")
	if got != string(want) {
		t.Errorf("stored %s\nupstream %s", got, want)
	}
	// The reverse: a value written the upstream way loads in ours.
	up.ID = "written-upstream"
	b, _ := json.Marshal(&up)
	mr.Set("sessionx:written-upstream", string(b))
	loaded, err := s.Load("written-upstream")
	if err != nil || loaded.ID != "written-upstream" || !loaded.UpdatedAt.Equal(in.UpdatedAt) {
		t.Fatalf("Load = %+v, %v", loaded, err)
	}
}
