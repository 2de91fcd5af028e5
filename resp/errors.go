package resp

import (
	"errors"
	"strconv"
	"strings"
)

// Error is a server error reply ('-' or '!'). The stream is still in sync after it, so
// the connection can be reused. It has value receivers: match it with
//
//	var e resp.Error
//	if errors.As(err, &e) { ... e.Kind ... }
type Error struct {
	// Kind is the first word of the message: "ERR", "WRONGTYPE", "MOVED", "ASK",
	// "NOAUTH", "WRONGPASS", "NOPERM", "READONLY", "LOADING", "OOM", "BUSY", "TRYAGAIN",
	// "CLUSTERDOWN", "MASTERDOWN", "MISCONF", "NOPROTO", ...
	Kind string
	// Msg is the whole message as the server sent it, Kind included.
	Msg string
}

// newError builds an Error from a server message, taking its first word as the kind.
func newError(msg string) Error {
	kind, _, _ := strings.Cut(msg, " ")
	return Error{Kind: kind, Msg: msg}
}

// Error returns the message as the server sent it.
func (e Error) Error() string { return e.Msg }

// Redirect parses a MOVED or ASK error ("MOVED 3999 127.0.0.1:6381") into the hash slot
// and the address of the node to ask. The address is returned as sent; Redis may send it
// with an empty host (":6381") when it does not know the node's endpoint, meaning the
// host of the node that sent the error. ok is false for other kinds and for malformed
// messages.
func (e Error) Redirect() (slot int, addr string, ok bool) {
	if e.Kind != "MOVED" && e.Kind != "ASK" {
		return 0, "", false
	}
	fields := strings.Fields(e.Msg)
	if len(fields) != 3 || fields[0] != e.Kind {
		return 0, "", false
	}
	slot, err := strconv.Atoi(fields[1])
	if err != nil || slot < 0 || slot > 16383 || fields[2] == "" {
		return 0, "", false
	}
	return slot, fields[2], true
}

// UnexpectedError reports a well-formed reply of a type the caller did not ask for, for
// example an array where ReadInt expected an integer. The reply was consumed whole, so
// the stream is still in sync. It has pointer receivers: match it with
//
//	var ue *resp.UnexpectedError
//	if errors.As(err, &ue) { ... }
type UnexpectedError struct {
	// Got is the type of the reply that arrived.
	Got Type
	// Want describes what the caller expected, e.g. "bulk string" or "+OK".
	Want string
}

// Error describes the mismatch.
func (e *UnexpectedError) Error() string {
	return "resp: unexpected " + e.Got.String() + " reply, want " + e.Want
}

// ProtocolError reports malformed or hostile input: a bad prefix, a missing CRLF, a bad
// or oversized length, nesting past the limit or a stream that ended mid-reply. The
// stream is out of sync and the connection must be closed. It has pointer receivers:
// match it with
//
//	var pe *resp.ProtocolError
//	if errors.As(err, &pe) { ... }
type ProtocolError struct {
	// Reason says what was wrong with the input.
	Reason string

	err error // the underlying cause, such as io.ErrUnexpectedEOF, if any
}

// Error returns "resp: protocol error: " followed by the reason.
func (e *ProtocolError) Error() string { return "resp: protocol error: " + e.Reason }

// Unwrap returns the underlying cause, such as io.ErrUnexpectedEOF, or nil.
func (e *ProtocolError) Unwrap() error { return e.err }

// Usable reports whether the stream is still in sync after err, so that the connection
// may be reused: true for nil, an Error (server error reply) and an *UnexpectedError,
// also when wrapped; false for a *ProtocolError, I/O errors, timeouts and anything else.
func Usable(err error) bool {
	if err == nil {
		return true
	}
	if _, ok := errors.AsType[*ProtocolError](err); ok {
		return false
	}
	if _, ok := errors.AsType[Error](err); ok {
		return true
	}
	_, ok := errors.AsType[*UnexpectedError](err)
	return ok
}

// quote renders a piece of input for an error message, cut to a readable length.
func quote(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
