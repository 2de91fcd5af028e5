package session

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// plainSession is Session without its JSON methods: encoding/json encodes
// and decodes it by reflection, which is the behaviour the methods below
// reproduce and fall back to.
type plainSession Session

// maxFastDepth bounds the nesting the hand-written encoder and decoder
// follow before handing a value to encoding/json, which detects cycles and
// enforces its own depth limit.
const maxFastDepth = 100

// MarshalJSON encodes s exactly as encoding/json encodes the struct by
// reflection: the same bytes for every value, with far fewer allocations.
// Data values of types without a fast path, and every error case, go
// through encoding/json.
func (s Session) MarshalJSON() ([]byte, error) {
	bp := encodeBufs.Get().(*[]byte)
	b, ok := s.appendJSON((*bp)[:0])
	var out []byte
	if ok {
		out = make([]byte, len(b))
		copy(out, b)
	}
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		encodeBufs.Put(bp)
	}
	if !ok {
		return marshalStd(s)
	}
	return out, nil
}

// marshalStd encodes s with encoding/json alone.
func marshalStd(s Session) ([]byte, error) {
	return json.Marshal((*plainSession)(&s))
}

// encodeBufs holds the buffers MarshalJSON encodes into before copying the
// result out, so that encoding allocates only the result.
var encodeBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// maxPooledBuf is the capacity above which an encoding buffer is dropped
// rather than kept for reuse.
const maxPooledBuf = 64 << 10

// appendJSON appends the JSON form of s to b; ok is false when some part
// needs encoding/json (an error, or a value the fast path does not know).
func (s *Session) appendJSON(b []byte) (_ []byte, ok bool) {
	b = append(b, `{"ID":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"Data":`...)
	if s.Data == nil {
		b = append(b, "null"...)
	} else if b, ok = appendJSONObject(b, s.Data, 0); !ok {
		return b, false
	}
	for _, f := range [...]struct {
		name string
		t    *time.Time
	}{{`,"CreatedAt":`, &s.CreatedAt}, {`,"UpdatedAt":`, &s.UpdatedAt}, {`,"RotatedAt":`, &s.RotatedAt}} {
		b = append(b, f.name...)
		if b, ok = appendJSONTime(b, *f.t); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendJSONValue appends v as encoding/json would encode it. Types
// without a fast path are encoded by encoding/json itself; ok is false
// when that fails.
func appendJSONValue(b []byte, v interface{}, depth int) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, v), true
	case bool:
		return strconv.AppendBool(b, v), true
	case float64:
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			return appendJSONFloat64(b, v), true
		}
	case float32:
		if !math.IsInf(float64(v), 0) && !math.IsNaN(float64(v)) {
			return appendJSONFloat32(b, v), true
		}
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int8:
		return strconv.AppendInt(b, int64(v), 10), true
	case int16:
		return strconv.AppendInt(b, int64(v), 10), true
	case int32:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), true
	case uint64:
		return strconv.AppendUint(b, v, 10), true
	case uintptr:
		return strconv.AppendUint(b, uint64(v), 10), true
	case time.Time:
		if out, ok := appendJSONTime(b, v); ok {
			return out, true
		}
	case map[string]interface{}:
		if v == nil {
			return append(b, "null"...), true
		}
		if depth < maxFastDepth {
			return appendJSONObject(b, v, depth+1)
		}
	case []interface{}:
		if v == nil {
			return append(b, "null"...), true
		}
		if depth < maxFastDepth {
			return appendJSONArray(b, v, depth+1)
		}
	case []string:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']'), true
	case map[string]string:
		if v == nil {
			return append(b, "null"...), true
		}
		var arr [16]string
		keys := sortedKeys(arr[:0], v)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, v[k])
		}
		return append(b, '}'), true
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	return append(b, enc...), true
}

// sortedKeys appends m's keys to keys in byte order, the order in which
// encoding/json writes map entries.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendJSONObject appends the non-nil map m with its keys sorted.
func appendJSONObject(b []byte, m map[string]interface{}, depth int) ([]byte, bool) {
	var arr [16]string
	keys := sortedKeys(arr[:0], m)
	b = append(b, '{')
	ok := true
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if b, ok = appendJSONValue(b, m[k], depth); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendJSONArray appends the non-nil slice a.
func appendJSONArray(b []byte, a []interface{}, depth int) ([]byte, bool) {
	b = append(b, '[')
	ok := true
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = appendJSONValue(b, v, depth); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// hexDigits are the digits of \u escapes, lower case as encoding/json
// writes them.
const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted the way encoding/json quotes strings
// with HTML escaping on: ", \ and control characters escaped (\b, \f, \n,
// \r and \t by name, the rest as \u00XX), <, > and & as \u003c, \u003e and
// \u0026, U+2028 and U+2029 as \u2028 and \u2029, and each byte of invalid
// UTF-8 replaced by \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	b = append(b, s[done:]...)
	return append(b, '"')
}

// appendJSONFloat64 appends the finite f as encoding/json does: like
// JavaScript's Number.toString, plain decimal for magnitudes in [1e-6,
// 1e21) and exponent form otherwise, shortest digits that round-trip.
func appendJSONFloat64(b []byte, f float64) []byte {
	a := math.Abs(f)
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		return trimExponent(strconv.AppendFloat(b, f, 'e', -1, 64))
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// appendJSONFloat32 is appendJSONFloat64 for float32, whose cut-offs
// encoding/json compares in float32 and whose digits are float32's.
func appendJSONFloat32(b []byte, f float32) []byte {
	a := float32(math.Abs(float64(f)))
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		return trimExponent(strconv.AppendFloat(b, float64(f), 'e', -1, 32))
	}
	return strconv.AppendFloat(b, float64(f), 'f', -1, 32)
}

// trimExponent drops the padding zero of a two-digit negative exponent,
// turning e-07 into e-7 as encoding/json does (positive exponents of
// exponent-form numbers here always have two or more digits).
func trimExponent(b []byte) []byte {
	n := len(b)
	if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b
}

// appendJSONTime appends t quoted in RFC 3339 with nanoseconds, as
// time.Time's MarshalJSON writes it; ok is false for the times that method
// rejects (a year outside [0,9999] or a zone offset of 24 hours or more).
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	start := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if len(b)-start < len("2006-01-02T15:04:05Z") || b[start+4] != '-' {
		return b, false
	}
	if b[len(b)-1] != 'Z' {
		// The offset is the last six bytes, ±hh:mm; a digit in place of
		// the sign means the hours took three digits.
		z := b[len(b)-6:]
		if z[0] >= '0' && z[0] <= '9' || (z[1]-'0')*10+(z[2]-'0') >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

// UnmarshalJSON decodes data exactly as encoding/json decodes it into the
// struct by reflection, field names matched without regard to case,
// unknown fields ignored, a later duplicate winning and Data merged into an
// existing map. Well-formed input takes a hand-written path that allocates
// little; anything else, including every error, is left to encoding/json,
// so errors are its own (*json.SyntaxError, *json.UnmarshalTypeError, ...).
// Strings in the result share one copy of data.
func (s *Session) UnmarshalJSON(data []byte) error {
	if s == nil || !s.decodeFast(data) {
		return s.decodeStd(data)
	}
	return nil
}

// decodeStd decodes data with encoding/json alone, into s as it stands.
func (s *Session) decodeStd(data []byte) error {
	// The method-less type is named Session so that error messages name
	// the struct as they did before Session had JSON methods.
	type Session plainSession
	return json.Unmarshal(data, (*Session)(s))
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

// decodeFast decodes well-formed data into s, touching s only when all of
// data decoded; it reports false, leaving s alone, for anything it does not
// handle or cannot prove valid.
func (s *Session) decodeFast(data []byte) bool {
	d := jsonDecoder{s: string(data)}
	var (
		id                  string
		idSet               bool
		times               [3]time.Time
		timeSet             [3]bool
		data1               map[string]interface{} // Data entries since the last null
		dataSeen, dataReset bool
	)
	d.skipSpace()
	if !d.consume('{') {
		return false
	}
	d.skipSpace()
	if !d.consume('}') {
		for {
			key, ok := d.memberKey()
			if !ok {
				return false
			}
			field := sessionField(key)
			switch {
			case field == fieldUnknown:
				if _, ok := d.value(0); !ok {
					return false
				}
			case d.literal("null"):
				// null leaves a string or time unchanged and clears Data.
				if field == fieldData {
					dataSeen, dataReset, data1 = true, true, nil
				}
			case field == fieldID:
				if !d.consume('"') {
					return false
				}
				if id, ok = d.stringBody(); !ok {
					return false
				}
				idSet = true
			case field == fieldData:
				if !d.consume('{') {
					return false
				}
				if data1 == nil {
					data1 = make(map[string]interface{})
				}
				if !d.objectBody(data1, 0) {
					return false
				}
				dataSeen = true
			default:
				i := field - fieldCreatedAt
				if !d.time(&times[i]) {
					return false
				}
				timeSet[i] = true
			}
			d.skipSpace()
			if d.consume('}') {
				break
			}
			if !d.consume(',') {
				return false
			}
			d.skipSpace()
		}
	}
	d.skipSpace()
	if d.pos != len(d.s) {
		return false
	}

	if idSet {
		s.ID = id
	}
	switch {
	case !dataSeen:
	case dataReset || s.Data == nil:
		s.Data = data1
	default:
		for k, v := range data1 {
			s.Data[k] = v
		}
	}
	for i, t := range [...]*time.Time{&s.CreatedAt, &s.UpdatedAt, &s.RotatedAt} {
		if timeSet[i] {
			*t = times[i]
		}
	}
	return true
}

// jsonDecoder reads JSON from s, a copy of the input that the decoded
// strings share. Its methods report false for input they do not accept.
type jsonDecoder struct {
	s   string
	pos int
}

// skipSpace skips JSON white space.
func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// consume skips c if it comes next.
func (d *jsonDecoder) consume(c byte) bool {
	if d.pos < len(d.s) && d.s[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// literal skips lit if it comes next.
func (d *jsonDecoder) literal(lit string) bool {
	if len(d.s)-d.pos >= len(lit) && d.s[d.pos:d.pos+len(lit)] == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

// value decodes any JSON value the way encoding/json decodes into an
// empty interface.
func (d *jsonDecoder) value(depth int) (interface{}, bool) {
	if d.pos >= len(d.s) || depth > maxFastDepth {
		return nil, false
	}
	switch c := d.s[d.pos]; {
	case c == '"':
		d.pos++
		return d.stringBody()
	case c == '{':
		d.pos++
		m := make(map[string]interface{})
		return m, d.objectBody(m, depth+1)
	case c == '[':
		d.pos++
		return d.arrayBody(depth + 1)
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case d.literal("true"):
		return true, true
	case d.literal("false"):
		return false, true
	case d.literal("null"):
		return nil, true
	}
	return nil, false
}

// objectBody decodes the members of an object whose '{' is read into m.
func (d *jsonDecoder) objectBody(m map[string]interface{}, depth int) bool {
	d.skipSpace()
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.memberKey()
		if !ok {
			return false
		}
		v, ok := d.value(depth)
		if !ok {
			return false
		}
		m[key] = v
		d.skipSpace()
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
		d.skipSpace()
	}
}

// memberKey reads an object member's quoted key and the colon after it,
// leaving the decoder at the member's value.
func (d *jsonDecoder) memberKey() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	key, ok := d.stringBody()
	if !ok {
		return "", false
	}
	d.skipSpace()
	if !d.consume(':') {
		return "", false
	}
	d.skipSpace()
	return key, true
}

// arrayBody decodes the elements of an array whose '[' is read; an empty
// array is an empty, non-nil slice, as from encoding/json.
func (d *jsonDecoder) arrayBody(depth int) ([]interface{}, bool) {
	a := make([]interface{}, 0, 4)
	d.skipSpace()
	if d.consume(']') {
		return a, true
	}
	for {
		d.skipSpace()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		d.skipSpace()
		if d.consume(']') {
			return a, true
		}
		if !d.consume(',') {
			return nil, false
		}
	}
}

// number decodes a number of JSON's grammar to a float64; one beyond
// float64's range is left to encoding/json, which reports it.
func (d *jsonDecoder) number() (interface{}, bool) {
	start := d.pos
	d.consume('-')
	switch {
	case d.consume('0'):
	case d.digits() == 0:
		return nil, false
	}
	if d.consume('.') && d.digits() == 0 {
		return nil, false
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if d.digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(d.s[start:d.pos], 64)
	return f, err == nil
}

// digits skips decimal digits and returns how many.
func (d *jsonDecoder) digits() int {
	start := d.pos
	for d.pos < len(d.s) && '0' <= d.s[d.pos] && d.s[d.pos] <= '9' {
		d.pos++
	}
	return d.pos - start
}

// stringBody decodes a string whose opening quote is read. A string
// without escapes and with valid UTF-8 is a substring of d.s; others are
// unquoted into a new string.
func (d *jsonDecoder) stringBody() (string, bool) {
	start := d.pos
	for d.pos < len(d.s) {
		c := d.s[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.s[start : d.pos-1], true
		case c == '\\' || c < 0x20:
			return d.unquote(start)
		case c < utf8.RuneSelf:
			d.pos++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return d.unquote(start)
			}
			d.pos += size
		}
	}
	return "", false
}

// unquote decodes the string from start, the byte after its opening quote,
// resolving escapes as encoding/json does: a \u escape of a surrogate
// pairs with a following \u escape or becomes U+FFFD, and each byte of
// invalid UTF-8 becomes U+FFFD.
func (d *jsonDecoder) unquote(start int) (string, bool) {
	buf := make([]byte, 0, d.pos-start+16)
	d.pos = start
	for d.pos < len(d.s) {
		c := d.s[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if d.pos+1 >= len(d.s) {
				return "", false
			}
			e := d.s[d.pos+1]
			d.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r := d.hex4(d.pos)
				if r < 0 {
					return "", false
				}
				d.pos += 4
				if utf16.IsSurrogate(r) {
					pair := utf8.RuneError
					if d.pos+1 < len(d.s) && d.s[d.pos] == '\\' && d.s[d.pos+1] == 'u' {
						pair = utf16.DecodeRune(r, d.hex4(d.pos+2))
					}
					if pair != utf8.RuneError {
						d.pos += 6
					}
					r = pair
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.pos:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d.s[d.pos:d.pos+size]...)
			}
			d.pos += size
		}
	}
	return "", false
}

// hex4 returns the value of the four hex digits at d.s[i:], or -1.
func (d *jsonDecoder) hex4(i int) rune {
	if i+4 > len(d.s) {
		return -1
	}
	var r rune
	for _, c := range []byte(d.s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// time decodes a string holding an RFC 3339 time into t through
// time.Time's UnmarshalJSON, which encoding/json calls with the same raw
// bytes. Strings with escapes, which that method rejects, are not handled.
func (d *jsonDecoder) time(t *time.Time) bool {
	start := d.pos
	if !d.consume('"') {
		return false
	}
	for d.pos < len(d.s) && d.s[d.pos] != '"' {
		if d.s[d.pos] == '\\' {
			return false
		}
		d.pos++
	}
	if !d.consume('"') {
		return false
	}
	return t.UnmarshalJSON([]byte(d.s[start:d.pos])) == nil
}
