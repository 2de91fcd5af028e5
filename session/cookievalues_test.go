package session

import (
	"net/http"
	"testing"
)

// A request stuffed with cookies of the session's name costs a bounded
// number of store lookups.
func TestCookieValuesTriedAreBounded(t *testing.T) {
	store := newMemStore()
	m := newTestManager(t, WithStore(store))
	var cookies []*http.Cookie
	for range 100 {
		cookies = append(cookies, &http.Cookie{Name: "sessionx", Value: mustID(t)})
	}
	serve(appMux(m), "/none", cookies...)
	if loads, _, _ := store.counts(); loads > maxCookieValues {
		t.Errorf("store loads = %d for 100 cookies, want at most %d", loads, maxCookieValues)
	}
}
