package session

import (
	"errors"
	"time"
)

// maxNestingDepth is how deeply arrays and objects may nest, the top-level
// value counting as one: encoding/json's limit, beyond which its scanner
// reports a syntax error.
const maxNestingDepth = 10000

// errNilSession is UnmarshalJSON's error for a nil receiver.
var errNilSession = errors.New("session: UnmarshalJSON into a nil *Session")

// UnmarshalJSON decodes data exactly as encoding/json decodes it into the
// struct by reflection, without encoding/json: it accepts the same input
// and leaves the same result. Field names match without regard to case (as
// encoding/json folds them), unknown fields are ignored, a later duplicate
// wins, Data is merged into an existing map, null leaves ID and the times
// as they are and sets Data to nil, numbers in Data are float64 and times
// are decoded by time.Time's UnmarshalJSON. Strings in the result share one
// copy of data.
//
// The errors are its own, no longer encoding/json's. Input that is not
// JSON is a *SyntaxError, and s is left unchanged. JSON of the wrong shape
// is a *TypeError; s then holds what encoding/json would leave in it: the
// other members decoded or, after a time that does not decode, the members
// before it.
func (s *Session) UnmarshalJSON(data []byte) error {
	if s == nil {
		return errNilSession
	}
	d := jsonDecoder{s: string(data), b: data}
	var u sessionUpdate
	d.skipSpace()
	start := d.pos
	object := d.consume('{')
	if object {
		u.times = [...]time.Time{s.CreatedAt, s.UpdatedAt, s.RotatedAt}
		d.sessionBody(&u)
	} else if d.skip(0) && d.s[start] != 'n' {
		// null leaves s as it is; a string, number, bool or array does not
		// fit a struct.
		d.mismatch(start, "")
	}
	if d.syntax == nil {
		d.skipSpace()
		if d.pos < len(d.s) {
			d.unexpected("after top-level value")
		}
	}
	switch {
	case d.syntax != nil:
		return d.syntax
	case object:
		u.apply(s)
	}
	switch {
	case u.stopped != nil:
		return u.stopped
	case d.typeErr != nil:
		return d.typeErr
	}
	return nil
}

// sessionUpdate is what a session object decodes to, applied to the
// session once all of the input has proved to be JSON (encoding/json checks
// the whole input before it stores anything).
type sessionUpdate struct {
	id    string
	idSet bool
	// first holds the Data entries before the first null, which encoding/json
	// merges into the existing map; last those after the last null, which
	// replace Data when reset.
	first, last map[string]interface{}
	reset       bool
	// times are CreatedAt, UpdatedAt and RotatedAt, starting as the
	// session's, into which time.Time's UnmarshalJSON decodes each value
	// as encoding/json has it decode into the session.
	times [3]time.Time
	// stopped is the error of a time that did not decode: encoding/json
	// stops there, so the members after it are only checked.
	stopped *TypeError
}

// apply stores u in s.
func (u *sessionUpdate) apply(s *Session) {
	if u.idSet {
		s.ID = u.id
	}
	if u.first != nil {
		if s.Data == nil {
			s.Data = u.first
		} else {
			for k, v := range u.first {
				s.Data[k] = v
			}
		}
	}
	if u.reset {
		s.Data = u.last
	}
	s.CreatedAt, s.UpdatedAt, s.RotatedAt = u.times[0], u.times[1], u.times[2]
}

// Indexes of Session's fields for the decoder.
const (
	fieldUnknown = iota
	fieldID
	fieldData
	fieldCreatedAt
	fieldUpdatedAt
	fieldRotatedAt
)

// fieldNames are the Go names of the fields, for errors.
var fieldNames = [...]string{fieldID: "ID", fieldData: "Data", fieldCreatedAt: "CreatedAt", fieldUpdatedAt: "UpdatedAt", fieldRotatedAt: "RotatedAt"}

// sessionField returns the field a JSON object key names. encoding/json
// matches keys by exact name and then by Unicode simple case folding; for
// these names (no K or S, the only ASCII letters folding with non-ASCII
// ones) that is ASCII case-insensitive equality.
func sessionField(key string) int {
	switch len(key) {
	case 2:
		if equalFoldASCII(key, "ID") {
			return fieldID
		}
	case 4:
		if equalFoldASCII(key, "DATA") {
			return fieldData
		}
	case 9:
		switch {
		case equalFoldASCII(key, "CREATEDAT"):
			return fieldCreatedAt
		case equalFoldASCII(key, "UPDATEDAT"):
			return fieldUpdatedAt
		case equalFoldASCII(key, "ROTATEDAT"):
			return fieldRotatedAt
		}
	}
	return fieldUnknown
}

// equalFoldASCII reports whether key equals upper, an upper-case ASCII
// name, when ASCII lower-case letters in key count as upper case.
func equalFoldASCII(key, upper string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// sessionBody decodes the members of the session object whose '{' is read
// into u.
func (d *jsonDecoder) sessionBody(u *sessionUpdate) {
	d.skipSpace()
	if d.consume('}') {
		return
	}
	for {
		key, ok := d.memberKey()
		if !ok {
			return
		}
		field := fieldUnknown
		if u.stopped == nil {
			field = sessionField(key)
		}
		start := d.pos
		switch field {
		case fieldUnknown:
			ok = d.skip(1)
		case fieldID:
			switch d.peek() {
			case '"':
				d.pos++
				u.id, ok = d.stringBody()
				u.idSet = true
			case 'n':
				ok = d.literal("null") // null leaves ID unchanged
			default:
				if ok = d.skip(1); ok {
					d.mismatch(start, "ID")
				}
			}
		case fieldData:
			switch d.peek() {
			case '{':
				d.pos++
				m := &u.first
				if u.reset {
					m = &u.last
				}
				if *m == nil {
					*m = make(map[string]interface{})
				}
				ok = d.objectBody(*m, 2)
			case 'n':
				if ok = d.literal("null"); ok {
					u.last, u.reset = nil, true
				}
			default:
				if ok = d.skip(1); ok {
					d.mismatch(start, "Data")
				}
			}
		default:
			// encoding/json hands time.Time's UnmarshalJSON the raw bytes of
			// any value, null included, and stops at its error.
			if ok = d.skip(1); ok {
				i := field - fieldCreatedAt
				if err := u.times[i].UnmarshalJSON(d.b[start:d.pos]); err != nil {
					u.stopped = &TypeError{Value: jsonKind(d.s[start]), Field: fieldNames[field], Offset: int64(start), Err: err}
				}
			}
		}
		if !ok {
			return
		}
		d.skipSpace()
		if d.consume('}') {
			return
		}
		if !d.consume(',') {
			d.unexpected("after object key:value pair")
			return
		}
		d.skipSpace()
	}
}
