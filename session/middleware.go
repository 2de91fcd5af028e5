package session

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
)

// ContextKey is the type of Key.
type ContextKey string

// Key is the request-context key under which the middleware stores the
// request's *Session, as in sessionx (the innermost middleware's, when
// managers are nested).
const Key ContextKey = "sessionx"

// errResponseReplaced is returned by writes after the error handler has
// answered the request in the handler's place.
var errResponseReplaced = errors.New("session: response replaced by the session error handler")

// Get returns the request's session, stored by Middleware, or nil outside
// it. With managers nested, it returns the innermost one's session; each
// Manager's Load and Destroy still act on their own.
func Get(r *http.Request) *Session {
	sess, _ := r.Context().Value(Key).(*Session)
	return sess
}

// Middleware loads the request's session (Get returns it in next), and saves
// it when it needs saving (see Save) just before the response starts: at the
// first Write, WriteHeader, Flush, ReadFrom or Hijack, or when next returns
// having written nothing. Every response varies on Cookie; one that sets the
// cookie also carries Cache-Control: no-cache="Set-Cookie".
//
// If the store fails on Load, the error handler answers (503 by default),
// next is not called and the cookie is left alone. If the save (or the
// delete of a rotated ID) fails before the response started, the error
// handler answers instead of next's response, whose later writes fail; the
// headers next set are dropped and the answer carries Cache-Control:
// no-store.
// Changes made after the response started reach the store only when the
// client's cookie already names the session; errors then go to the error
// handler with a writer that discards the answer (the status is gone).
//
// The writer given to next keeps http.Flusher, http.Hijacker and
// io.ReaderFrom working and has Unwrap, so http.ResponseController reaches
// the underlying writer's deadlines and full-duplex mode.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addVary(w.Header())
		sess, err := m.Load(r)
		if err != nil {
			m.HandleError(w, r, err)
			return
		}
		r = r.WithContext(&sessionContext{Context: r.Context(), m: m, sess: sess})
		sw := &sessionWriter{ResponseWriter: w, m: m, r: r, sess: sess}
		next.ServeHTTP(sw, r)
		sw.finish()
		m.sessions.forget(sess)
	})
}

// sessionWriter saves the session before the response starts. It is used
// by the request's goroutine only, like any ResponseWriter.
type sessionWriter struct {
	http.ResponseWriter
	m    *Manager
	r    *http.Request
	sess *Session

	committed bool  // the pre-response save ran
	err       error // its error, if any
	answered  bool  // the error handler wrote the response
	hijacked  bool  // the connection was taken over
}

// commit runs the pre-response save once and returns its error; a
// session that ended meanwhile (ErrSessionEnded) is not one. hijacked
// means the connection is being taken over, so nothing rotates.
func (w *sessionWriter) commit(hijacked bool) error {
	if !w.committed {
		w.committed = true
		h := w.ResponseWriter.Header()
		w.err = ignoreEnded(w.m.save(w.r.Context(), h, w.sess, hijacked))
		guardCaching(h, w.m.cfg.CookieName)
	}
	return w.err
}

// ignoreEnded returns err unless it reports a session that ended: its
// changes are dropped and no cookie is set, which is all there is to do.
func ignoreEnded(err error) error {
	if errors.Is(err, ErrSessionEnded) {
		return nil
	}
	return err
}

// start commits and reports whether next's response may go out; on failure
// the error handler answers, once.
func (w *sessionWriter) start() bool {
	err := w.commit(false)
	if err == nil {
		return true
	}
	if !w.answered {
		w.answered = true
		// The headers next set (caching, Location, Content-Encoding...)
		// belong to the response the error replaces.
		h := w.ResponseWriter.Header()
		clear(h)
		addVary(h)
		h.Set("Cache-Control", "no-store")
		w.m.HandleError(w.ResponseWriter, w.r, err)
	}
	return false
}

// finish saves after next returned: the pre-response save if nothing was
// written, else any change made after the response started.
func (w *sessionWriter) finish() {
	switch {
	case w.hijacked:
	case !w.committed:
		w.start()
	case w.err == nil:
		if err := ignoreEnded(w.m.save(w.r.Context(), nil, w.sess, false)); err != nil {
			w.m.HandleError(discardWriter{}, w.r, err)
		}
	}
}

// WriteHeader saves the session, then writes the header; an informational
// status other than 101 passes through without saving.
func (w *sessionWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.start() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write saves the session before the first byte, then writes p.
func (w *sessionWriter) Write(p []byte) (int, error) {
	if !w.start() {
		return 0, errResponseReplaced
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom saves the session, then copies src with the underlying writer's
// ReadFrom (sendfile) when it has one.
func (w *sessionWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.start() {
		return 0, errResponseReplaced
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}

// FlushError saves the session, then flushes the underlying writer; it is
// what http.ResponseController.Flush calls.
func (w *sessionWriter) FlushError() error {
	if !w.start() {
		return errResponseReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for http.Flusher, which cannot report errors.
func (w *sessionWriter) Flush() { _ = w.FlushError() }

// Hijack saves the session (the cookie can no longer be sent, but the store
// is written) and hands over the connection. Since no cookie can follow,
// a session due for automatic rotation keeps its ID, and one rotated
// explicitly (Rotate) is not saved: Hijack fails with that error. A save
// error is returned and the connection is not hijacked.
func (w *sessionWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := w.commit(true); err != nil {
		return nil, nil, err
	}
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *sessionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discardWriter is handed to the error handler once the response has
// started: it may log, but what it writes goes nowhere.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
