package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzLoadCookie feeds arbitrary cookie values to Load, with a store and
// with sealed cookies: Load never panics or fails on a bad cookie (it starts
// a fresh session with a new random ID), and the store is only asked for
// well-formed IDs.
func FuzzLoadCookie(f *testing.F) {
	sealed := func() string {
		sm, _ := NewManager(DevConfig(testKey))
		v, _ := sm.seal([]byte(`{"ID":"AAAAAAAAAAAAAAAAAAAAAA","Data":{"a":1}}`))
		return v
	}()
	for _, seed := range []string{"", "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAA", "a b", "\x00\xff", sealed, sealed[:len(sealed)-1], "%00", "====", "AAAAAAAAAAAAAAAAAAAAA+", "AAAAAAAAAAAAAAAAAAAAA/"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		store := newMemStore()
		withStore, err := NewManager(DevConfig(testKey, WithStore(store)))
		if err != nil {
			t.Fatal(err)
		}
		sealedOnly, err := NewManager(DevConfig(testKey))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*Manager{withStore, sealedOnly} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", "sessionx="+value)
			sess, err := m.Load(r)
			if err != nil {
				t.Fatalf("Load(%q): %v", value, err)
			}
			if sess == nil || !validID(sess.ID) {
				t.Fatalf("Load(%q) = %+v", value, sess)
			}
		}
		for _, id := range store.loadedIDs {
			if !validID(id) {
				t.Fatalf("store asked for malformed ID %q", id)
			}
		}
	})
}
