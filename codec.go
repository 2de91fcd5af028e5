package redisstore

import (
	"bytes"
	"encoding/json"

	"github.com/sessionx-redis/redisstore/session"
)

// codec turns sessions of type S into JSON and back. A Store made by
// NewRedisStore uses sessionCodec, which does not reach encoding/json's
// decoder nor its reflection-based paths for other types, so a program that
// never calls New links none of them; New uses jsonCodec.
type codec[S any] struct {
	encode func(*S) ([]byte, error)
	decode func([]byte, *S) error
}

// sessionCodec is session.Session's own JSON methods.
var sessionCodec = codec[session.Session]{
	encode: (*session.Session).MarshalJSON,
	decode: func(b []byte, s *session.Session) error { return s.UnmarshalJSON(b) },
}

// jsonCodec is encoding/json, with the fast paths below.
func jsonCodec[S any]() codec[S] { return codec[S]{encode: encode[S], decode: decode[S]} }

// encode returns the JSON of sess. session.Session's own MarshalJSON is
// called directly: through json.Marshal, encoding/json would validate and
// copy its output again. Its output is byte-identical to encoding/json's.
// A json.RawMessage that is valid JSON is stored as it is, without the
// copy, compaction and HTML escaping json.Marshal would apply; a nil one
// is null, as from json.Marshal.
func encode[S any](sess *S) ([]byte, error) {
	switch s := any(sess).(type) {
	case *session.Session:
		return s.MarshalJSON()
	case *json.RawMessage:
		if *s == nil {
			return []byte("null"), nil
		}
		if json.Valid(*s) {
			return *s, nil
		}
	}
	return json.Marshal(sess)
}

// decode fills sess from JSON. session.Session's UnmarshalJSON is called
// directly; it validates its input itself and accepts exactly what
// json.Unmarshal accepts (its errors are session.SyntaxError and
// session.TypeError). A
// json.RawMessage gets a copy of valid JSON without the white space around
// it, as from json.Unmarshal, but without its second pass over the value.
func decode[S any](b []byte, sess *S) error {
	switch s := any(sess).(type) {
	case *session.Session:
		return s.UnmarshalJSON(b)
	case *json.RawMessage:
		if json.Valid(b) {
			*s = append((*s)[:0], bytes.Trim(b, " \t\r\n")...)
			return nil
		}
	}
	return json.Unmarshal(b, sess) // the error encoding/json gives
}
