package session

import (
	"errors"
	"strconv"
	"strings"
)

// ErrNotFound is what a Store's Load error matches (with errors.Is) when no
// session exists under the ID. redisstore.ErrSessionNotFound matches it.
var ErrNotFound = errors.New("session: not found")

// ErrInvalidSession reports a session that cannot be used: a sealed cookie
// that is not valid base64 or too short, or an ID that is not well-formed
// where one is required. A Store may return an error matching it from Load
// for a stored value it cannot decode; the manager then starts a fresh
// session instead of failing the request.
var ErrInvalidSession = errors.New("session: invalid or corrupted session")

// ErrSessionExpired reports a session past its idle timeout (MaxAge) or its
// absolute timeout. Load never returns it: an expired session is replaced
// by a fresh one.
var ErrSessionExpired = errors.New("session: session has expired")

// ErrInvalidSecretKey is returned by NewManager when SecretKey is not 16, 24
// or 32 bytes long.
var ErrInvalidSecretKey = errors.New("session: secret key must be 16, 24, or 32 bytes")

// ErrDecryptionFailed reports a sealed cookie that does not open with the
// key (tampered, sealed under another key or another cookie name).
var ErrDecryptionFailed = errors.New("session: failed to decrypt session data")

// ErrMarshalFailed reports session Data that encoding/json cannot encode.
var ErrMarshalFailed = errors.New("session: failed to marshal session data")

// ErrUnmarshalFailed reports an opened sealed cookie that is not a JSON
// session.
var ErrUnmarshalFailed = errors.New("session: failed to unmarshal session data")

// ErrEncryptionFailed reports a failure to seal a session into a cookie.
var ErrEncryptionFailed = errors.New("session: failed to encrypt session data")

// ErrRandomFailed reports that the random source failed while making a
// session ID or a nonce. The manager returns it rather than fall back to a
// weak ID; it wraps the source's error.
var ErrRandomFailed = errors.New("session: random source failed")

// ErrCookieTooLarge reports a sealed session whose cookie would exceed the
// 4096 bytes browsers keep; it would be dropped silently otherwise. Keep
// less in Data or use a Store.
var ErrCookieTooLarge = errors.New("session: sealed cookie too large")

// SessionError is the error type the manager returns: Op names the
// operation ("NewManager", "Load", "Save", "Destroy", ...) and Err is the
// cause, which errors.Is and errors.As reach through Unwrap.
type SessionError struct {
	Op  string
	Err error
}

// Error returns "session: <Op>: <cause>".
func (e *SessionError) Error() string {
	cause := "<nil>"
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), "session: ")
	}
	return "session: " + e.Op + ": " + cause
}

// Unwrap returns the cause, so errors.Is(err, ErrInvalidSecretKey) and the
// like work on a *SessionError.
func (e *SessionError) Unwrap() error { return e.Err }

// newError wraps err in a *SessionError for op; nil stays nil.
func newError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &SessionError{Op: op, Err: err}
}

// SyntaxError reports input to Session.UnmarshalJSON that is not JSON, or
// nests arrays and objects more than 10000 deep (encoding/json's limit).
// The session is left unchanged.
type SyntaxError struct {
	Offset int64  // where in the input the error is: the offending byte, or the length of the input if it ends early
	msg    string // what is wrong there
}

// Error returns "session: invalid JSON at offset <Offset>: <what is wrong>".
func (e *SyntaxError) Error() string {
	return "session: invalid JSON at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.msg
}

// TypeError reports JSON that Session.UnmarshalJSON cannot store: a value
// of the wrong type for a field ("ID":5, "Data":[1]), a top-level value
// other than an object or null, a number in Data beyond float64's range
// (stored as nil), or a time that time.Time's UnmarshalJSON rejects. As
// with encoding/json, the rest of the input is decoded into the session
// all the same, except after such a time, where decoding stops. The error
// is that time's, or else the first value's.
type TypeError struct {
	Value  string // the JSON value: "string", "number", "bool", "array", "object", or "number 1e400" when out of range
	Field  string // the Session field: "ID", "Data", "CreatedAt", "UpdatedAt" or "RotatedAt"; empty for the top-level value
	Offset int64  // where the value starts in the input
	Err    error  // the cause, if any: time's parse error, strconv's range error
}

// Error returns "session: cannot decode JSON <Value> into Session.<Field>
// at offset <Offset>", followed by ": <cause>" when there is one.
func (e *TypeError) Error() string {
	into := "Session"
	if e.Field != "" {
		into += "." + e.Field
	}
	msg := "session: cannot decode JSON " + e.Value + " into " + into + " at offset " + strconv.FormatInt(e.Offset, 10)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause, or nil.
func (e *TypeError) Unwrap() error { return e.Err }
