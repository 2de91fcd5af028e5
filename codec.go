package redisstore

import (
	"encoding/json"

	"github.com/sessionx-redis/redisstore/session"
)

// encode returns the JSON of sess. session.Session's own MarshalJSON is
// called directly: through json.Marshal, encoding/json would validate and
// copy its output again. Its output is byte-identical to encoding/json's.
func encode[S any](sess *S) ([]byte, error) {
	if s, ok := any(sess).(*session.Session); ok {
		return s.MarshalJSON()
	}
	return json.Marshal(sess)
}

// decode fills sess from JSON. session.Session's UnmarshalJSON is called
// directly; it validates its input itself (and leaves anything unusual to
// encoding/json), so it accepts exactly what json.Unmarshal accepts.
func decode[S any](b []byte, sess *S) error {
	if s, ok := any(sess).(*session.Session); ok {
		return s.UnmarshalJSON(b)
	}
	return json.Unmarshal(b, sess)
}
