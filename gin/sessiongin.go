package sessiongin

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionx-redis/redisstore/session"
)

// ContextKey is the key under which SessionMiddleware stores the request's
// *session.Session in the gin.Context, as sessionx's adapter does.
const ContextKey = "sessionx"

// SessionMiddleware returns Gin middleware that loads the request's session
// with m, makes it available to the rest of the chain through Get, and
// saves it before the response starts (see the package documentation). If
// the store fails on Load, m's error handler answers and the chain is
// aborted.
func SessionMiddleware(m *session.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Writer
		defer func() { c.Writer = orig }() // also when a handler panics: Recovery must not save through the session writer
		origReq := c.Request
		ran := false
		chain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = true
			c.Request = r
			c.Set(ContextKey, session.Get(r))
			c.Writer = &responseWriter{ResponseWriter: orig, sw: w}
			c.Next()
		})
		m.Middleware(chain).ServeHTTP(orig, c.Request)
		if !ran {
			c.Request = origReq
			c.Abort()
		}
	}
}

// Get returns the request's session stored by SessionMiddleware, or nil
// outside it.
func Get(c *gin.Context) *session.Session {
	if v, ok := c.Get(ContextKey); ok {
		if sess, ok := v.(*session.Session); ok {
			return sess
		}
	}
	return session.Get(c.Request)
}

// responseWriter is the gin.ResponseWriter handed to the chain: calls that
// start the response go through sw, the manager's session-saving writer
// (which writes to the Gin writer underneath); the others go to Gin's.
type responseWriter struct {
	gin.ResponseWriter                     // Gin's writer: Status, Size, Written, CloseNotify, Pusher
	sw                 http.ResponseWriter // the manager's writer wrapping it
}

// Compile-time check that the chain still gets a full gin.ResponseWriter.
var _ gin.ResponseWriter = (*responseWriter)(nil)

// WriteHeader saves the session, then records code as Gin does.
func (w *responseWriter) WriteHeader(code int) { w.sw.WriteHeader(code) }

// WriteHeaderNow saves the session, then writes the status and headers.
func (w *responseWriter) WriteHeaderNow() {
	if !w.ResponseWriter.Written() {
		// The manager's writer saves here; if that fails its error handler
		// has answered and the call below does nothing.
		w.sw.WriteHeader(w.ResponseWriter.Status())
	}
	w.ResponseWriter.WriteHeaderNow()
}

// Write saves the session before the first byte, then writes p.
func (w *responseWriter) Write(p []byte) (int, error) { return w.sw.Write(p) }

// WriteString saves the session before the first byte, then writes s.
func (w *responseWriter) WriteString(s string) (int, error) { return io.WriteString(w.sw, s) }

// Flush saves the session, then flushes.
func (w *responseWriter) Flush() {
	if f, ok := w.sw.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack saves the session without rotating it (no cookie can follow),
// then hands over the connection; a save error is returned and the
// connection is not hijacked.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.sw).Hijack()
}

// Unwrap returns the manager's writer, so http.ResponseController reaches
// the connection through it.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.sw }
