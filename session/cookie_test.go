package session

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSealedCookieRoundTrip(t *testing.T) {
	m := newTestManager(t)
	h := appMux(m)
	c := sessionCookie(serve(h, "/set?k=user&v=alice"))
	if c == nil {
		t.Fatal("no cookie")
	}
	if validID(c.Value) || strings.Contains(c.Value, "alice") {
		t.Errorf("cookie %q does not look sealed", c.Value)
	}
	if _, err := base64.RawStdEncoding.DecodeString(c.Value); err != nil {
		t.Errorf("cookie is not unpadded standard base64: %v", err)
	}
	if got := serve(h, "/get?k=user", c).Body.String(); got != "alice" {
		t.Errorf("round trip: %q, want alice", got)
	}
}

func TestSealedCookieTamperRejected(t *testing.T) {
	m := newTestManager(t)
	c := sessionCookie(serve(appMux(m), "/set?k=user&v=alice"))
	raw, _ := base64.RawStdEncoding.DecodeString(c.Value)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawStdEncoding.EncodeToString(b)
	}
	other, err := NewManager(DevConfig([]byte("another key of 32 bytes length!!")))
	if err != nil {
		t.Fatal(err)
	}
	renamed := newTestManager(t, WithCookieName("other"))
	tests := []struct {
		name  string
		m     *Manager
		value string
	}{
		{"nonce bit", m, flip(0)},
		{"ciphertext bit", m, flip(len(raw) / 2)},
		{"tag bit", m, flip(len(raw) - 1)},
		{"truncated", m, c.Value[:len(c.Value)-4]},
		{"not base64", m, "!!" + c.Value},
		{"too short", m, "AAAA"},
		{"other key", other, c.Value},
		{"other cookie name", renamed, c.Value},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.m.open(tt.value); err == nil {
				t.Fatal("open accepted a tampered cookie")
			}
			sess, err := tt.m.Load(httpRequestWithCookie(tt.m.cfg.CookieName, tt.value))
			if err != nil || sess == nil || len(sess.Data) != 0 {
				t.Errorf("Load = %v, %v; want a fresh session", sess, err)
			}
		})
	}
}

func TestSealedCookieTooLarge(t *testing.T) {
	m := newTestManager(t)
	sess := m.New()
	sess.Data["blob"] = strings.Repeat("x", 4000)
	rec := newRecorder()
	if err := m.Save(rec, sess); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Save of a 4000-byte session: %v, want ErrCookieTooLarge", err)
	}
	if sessionCookie(rec) != nil {
		t.Error("cookie set anyway")
	}
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want http.Cookie
	}{
		{"default", DefaultConfig(testKey), http.Cookie{Name: "sessionx", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 86400}},
		{"dev", DevConfig(testKey), http.Cookie{Name: "sessionx", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 86400}},
		{"options", DefaultConfig(testKey, WithCookieName("sid"), WithDomain("example.com"), WithPath("/app"),
			WithSecure(false), WithHttpOnly(false), WithSameSite("Strict"), WithMaxAge(30*time.Minute)),
			http.Cookie{Name: "sid", Domain: "example.com", Path: "/app", SameSite: http.SameSiteStrictMode, MaxAge: 1800}},
		{"none", DefaultConfig(testKey, WithSameSite("none")), http.Cookie{Name: "sessionx", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode, MaxAge: 86400}},
		{"unknown samesite", DefaultConfig(testKey, WithSameSite("bogus")), http.Cookie{Name: "sessionx", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 86400}},
		{"session cookie", DefaultConfig(testKey, WithMaxAge(0)), http.Cookie{Name: "sessionx", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Store = newMemStore()
			m, err := NewManager(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := serve(appMux(m), "/set?k=a&v=1")
			got := cookieNamed(rec, tt.want.Name)
			if got == nil {
				t.Fatalf("no cookie %q in %q", tt.want.Name, rec.Header().Values("Set-Cookie"))
			}
			if !validID(got.Value) || got.Domain != tt.want.Domain || got.Path != tt.want.Path ||
				got.Secure != tt.want.Secure || got.HttpOnly != tt.want.HttpOnly ||
				got.SameSite != tt.want.SameSite || got.MaxAge != tt.want.MaxAge {
				t.Errorf("cookie %s\nwant       %s", got, &tt.want)
			}
		})
	}
}

func TestSetCookieReplacesEarlierOne(t *testing.T) {
	h := http.Header{}
	h.Add("Set-Cookie", "other=1")
	h.Add("Set-Cookie", "sessionx=old")
	setCookie(h, &http.Cookie{Name: "sessionx", Value: "new"})
	setCookie(h, &http.Cookie{Name: "sessionx", Value: "newer"})
	got := h.Values("Set-Cookie")
	if len(got) != 2 || got[0] != "other=1" || got[1] != "sessionx=newer" {
		t.Errorf("Set-Cookie = %q", got)
	}
	if len(h.Values("Cache-Control")) != 1 || len(h.Values("Vary")) != 1 {
		t.Errorf("duplicated headers: %q", h)
	}
}
