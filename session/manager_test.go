package session

import (
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestNewManagerKeyLength(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 24, 31, 32, 33, 64} {
		_, err := NewManager(DefaultConfig(make([]byte, n)))
		want := n == 16 || n == 24 || n == 32
		if (err == nil) != want {
			t.Errorf("key of %d bytes: err %v", n, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidSecretKey) {
			t.Errorf("key of %d bytes: %v does not match ErrInvalidSecretKey", n, err)
		}
	}
}

func TestNewManagerCookieName(t *testing.T) {
	if _, err := NewManager(DefaultConfig(testKey, WithCookieName("bad name;"))); err == nil {
		t.Error("accepted an invalid cookie name")
	}
	m, err := NewManager(Config{SecretKey: testKey})
	if err != nil || m.cfg.CookieName != "sessionx" {
		t.Errorf("zero CookieName: %v %q", err, m.cfg.CookieName)
	}
}

func TestConfigDefaults(t *testing.T) {
	store := newMemStore()
	handler := func(http.ResponseWriter, *http.Request, error) {}
	tests := []struct {
		name string
		got  Config
		want Config
	}{
		{"DefaultConfig", DefaultConfig(testKey), Config{CookieName: "sessionx", SecretKey: testKey, MaxAge: 24 * time.Hour,
			Path: "/", Secure: true, HttpOnly: true, SameSite: "Lax", RotationInterval: 15 * time.Minute}},
		{"DevConfig", DevConfig(testKey), Config{CookieName: "sessionx", SecretKey: testKey, MaxAge: 24 * time.Hour,
			Path: "/", HttpOnly: true, SameSite: "Lax", RotationInterval: 15 * time.Minute}},
		{"DevConfig WithSecure", DevConfig(testKey, WithSecure(true), WithRotationInterval(0), WithStore(store),
			WithAbsoluteTimeout(time.Hour)), Config{CookieName: "sessionx", SecretKey: testKey, MaxAge: 24 * time.Hour,
			Path: "/", Secure: true, HttpOnly: true, SameSite: "Lax", Store: store, AbsoluteTimeout: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.ErrorHandler != nil {
				t.Error("ErrorHandler set by default")
			}
			tt.got.ErrorHandler = nil
			if tt.got.CookieName != tt.want.CookieName || string(tt.got.SecretKey) != string(tt.want.SecretKey) ||
				tt.got.MaxAge != tt.want.MaxAge || tt.got.Path != tt.want.Path || tt.got.Domain != tt.want.Domain ||
				tt.got.Secure != tt.want.Secure || tt.got.HttpOnly != tt.want.HttpOnly || tt.got.SameSite != tt.want.SameSite ||
				tt.got.RotationInterval != tt.want.RotationInterval || tt.got.Store != tt.want.Store ||
				tt.got.AbsoluteTimeout != tt.want.AbsoluteTimeout {
				t.Errorf("got  %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
	if DefaultConfig(testKey, WithErrorHandler(handler)).ErrorHandler == nil {
		t.Error("WithErrorHandler not applied")
	}
}

func TestSessionError(t *testing.T) {
	err := newError("Save", ErrMarshalFailed)
	if !errors.Is(err, ErrMarshalFailed) || errors.Is(err, ErrInvalidSession) {
		t.Errorf("errors.Is through SessionError broken: %v", err)
	}
	if got := err.Error(); got != "session: Save: failed to marshal session data" {
		t.Errorf("Error() = %q", got)
	}
	if newError("x", nil) != nil {
		t.Error("newError(nil) is not nil")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := newID()
		if err != nil || len(id) != 22 || !validID(id) || seen[id] {
			t.Fatalf("newID = %q, %v", id, err)
		}
		seen[id] = true
	}
	tests := []struct {
		id   string
		want bool
	}{
		{"AAAAAAAAAAAAAAAAAAAAAA", true},
		{"abcdefghijklmnopqrs-_9", true},
		{"", false},
		{"AAAAAAAAAAAAAAAAAAAAA", false},
		{"AAAAAAAAAAAAAAAAAAAAA+", false},
		{"AAAAAAAAAAAAAAAAAAAAA/", false},
		{"AAAAAAAAAAAAAAAAAAAA\x00A", false},
		{"AAAAAAAAAAAAAAAAAAAAAé", false},
	}
	for _, tt := range tests {
		if got := validID(tt.id); got != tt.want {
			t.Errorf("validID(%q) = %v", tt.id, got)
		}
	}
}

func TestLoadStoreAnswers(t *testing.T) {
	id := strings.Repeat("C", 22)
	tests := []struct {
		name  string
		store Store
	}{
		{"nil, nil", funcStore{load: func(string) (*Session, error) { return nil, nil }}},
		{"invalid session", funcStore{load: func(string) (*Session, error) { return nil, ErrInvalidSession }}},
		{"another ID", funcStore{load: func(string) (*Session, error) {
			return &Session{ID: strings.Repeat("D", 22), Data: map[string]interface{}{"x": 1.0}}, nil
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestManager(t, WithStore(tt.store))
			sess, err := m.Load(httpRequestWithCookie("sessionx", id))
			if err != nil || sess == nil || sess.ID == id || len(sess.Data) != 0 {
				t.Errorf("Load = %+v, %v; want a fresh session", sess, err)
			}
		})
	}
}

// funcStore is a Store whose Load is a function.
type funcStore struct {
	load func(string) (*Session, error)
}

func (s funcStore) Load(id string) (*Session, error) { return s.load(id) }
func (funcStore) Save(*Session) error                { return nil }
func (funcStore) Delete(string) error                { return nil }

func TestIdleTimeout(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		clock := useFakeClock(t)
		var opts []ConfigOption
		if withStore {
			opts = append(opts, WithStore(newMemStore()))
		}
		m := newTestManager(t, append(opts, WithMaxAge(time.Hour), WithRotationInterval(0))...)
		h := appMux(m)
		c := sessionCookie(serve(h, "/set?k=a&v=1"))
		clock.Advance(59 * time.Minute)
		if got := serve(h, "/get?k=a", c).Body.String(); got != "1" {
			t.Errorf("store=%v: within MaxAge: %q", withStore, got)
		}
		c = sessionCookie(serve(h, "/set?k=a&v=1")) // a session left alone
		clock.Advance(61 * time.Minute)
		if got := serve(h, "/get?k=a", c).Body.String(); got != "<nil>" {
			t.Errorf("store=%v: past MaxAge: %q", withStore, got)
		}
	}
}

func TestUnchangedSessionRefreshedAfterTenthOfMaxAge(t *testing.T) {
	clock := useFakeClock(t)
	store := newMemStore()
	m := newTestManager(t, WithStore(store), WithMaxAge(time.Hour), WithRotationInterval(0))
	h := appMux(m)
	c := sessionCookie(serve(h, "/set?k=a&v=1"))
	clock.Advance(5 * time.Minute)
	if sessionCookie(serve(h, "/get?k=a", c)) != nil {
		t.Error("refreshed before a tenth of MaxAge")
	}
	clock.Advance(2 * time.Minute)
	if rec := serve(h, "/get?k=a", c); sessionCookie(rec) == nil {
		t.Error("not refreshed after a tenth of MaxAge")
	}
	// Active reads keep the session alive beyond MaxAge.
	for range 20 {
		clock.Advance(7 * time.Minute)
		serve(h, "/get?k=a", c)
	}
	if got := serve(h, "/get?k=a", c).Body.String(); got != "1" {
		t.Errorf("active session expired: %q", got)
	}
	if _, saves, _ := store.counts(); saves != 22 {
		t.Errorf("saves = %d, want 22 (1 write, 21 refreshes)", saves)
	}
}

func TestExplicitSave(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	sess := m.New()
	rec := newRecorder()
	if err := m.Save(rec, sess); err != nil || sessionCookie(rec) != nil {
		t.Errorf("Save of an empty new session: %v, cookie %v", err, sessionCookie(rec))
	}
	sess.Data["a"] = "b"
	rec = newRecorder()
	if err := m.Save(rec, sess); err != nil || sessionCookie(rec) == nil || !store.has(sess.ID) {
		t.Errorf("Save of a used session: %v, cookie %v", err, sessionCookie(rec))
	}
	// A session the manager did not hand out is always written, and
	// one with a malformed ID is refused.
	own := &Session{ID: strings.Repeat("E", 22), Data: map[string]interface{}{}}
	if err := m.Save(newRecorder(), own); err != nil || !store.has(own.ID) {
		t.Errorf("Save of an untracked session: %v", err)
	}
	bad := &Session{ID: "chosen", Data: map[string]interface{}{"a": 1}}
	if err := m.Save(newRecorder(), bad); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("Save with a malformed ID: %v", err)
	}
	unmarshalable := m.New()
	unmarshalable.Data["c"] = make(chan int)
	if err := m.Save(newRecorder(), unmarshalable); !errors.Is(err, ErrMarshalFailed) {
		t.Errorf("Save of unmarshalable data: %v", err)
	}
}

func TestSealedSessionJSONIsUpstreamShape(t *testing.T) {
	m := newTestManager(t)
	c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
	plain, err := m.open(c.Value)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(plain, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ID", "Data", "CreatedAt", "UpdatedAt", "RotatedAt"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("sealed JSON lacks %s: %s", k, plain)
		}
	}
}

func TestTrackerForgetsDroppedSessions(t *testing.T) {
	m := newTestManager(t, WithStore(newMemStore()))
	for range 100 {
		if _, err := m.Load(httpRequestWithCookie("", "")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.sessions.len() > 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := m.sessions.len(); n != 0 {
		t.Errorf("%d dropped sessions still tracked", n)
	}
}
