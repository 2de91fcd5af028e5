package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchmarkMiddleware serves path through appMux, sending cookie if set.
func benchmarkMiddleware(b *testing.B, m *Manager, path string, cookie *http.Cookie) {
	h := appMux(m)
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func BenchmarkMiddlewareCookieless(b *testing.B) {
	m, _ := NewManager(DevConfig(testKey, WithStore(newMemStore())))
	benchmarkMiddleware(b, m, "/none", nil)
}

func BenchmarkMiddlewareReadStored(b *testing.B) {
	m, _ := NewManager(DevConfig(testKey, WithStore(newMemStore()), WithRotationInterval(0)))
	c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
	benchmarkMiddleware(b, m, "/get?k=a", c)
}

func BenchmarkMiddlewareReadSealed(b *testing.B) {
	m, _ := NewManager(DevConfig(testKey, WithRotationInterval(0)))
	c := sessionCookie(serve(appMux(m), "/set?k=a&v=1"))
	benchmarkMiddleware(b, m, "/get?k=a", c)
}

func BenchmarkMiddlewareWriteSealed(b *testing.B) {
	m, _ := NewManager(DevConfig(testKey, WithRotationInterval(0)))
	benchmarkMiddleware(b, m, "/set?k=a&v=1", nil)
}
