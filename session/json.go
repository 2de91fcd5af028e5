package session

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// plainSession is Session without its JSON methods: encoding/json encodes
// it by reflection, which is the behaviour MarshalJSON reproduces and falls
// back to (and UnmarshalJSON reproduces, without encoding/json).
type plainSession Session

// maxFastDepth bounds the nesting the hand-written encoder follows before
// handing a value to encoding/json, which detects cycles.
const maxFastDepth = 100

// MarshalJSON encodes s exactly as encoding/json encodes the struct by
// reflection: the same bytes for every value, with far fewer allocations.
// Data values of types without a fast path, and every error case, go
// through encoding/json.
func (s Session) MarshalJSON() ([]byte, error) {
	bp := encodeBufs.Get().(*[]byte)
	b, ok := s.appendJSON((*bp)[:0])
	out := finishEncoding(bp, b, ok)
	if !ok {
		return marshalStd(s)
	}
	return out, nil
}

// marshalStd encodes s with encoding/json alone.
func marshalStd(s Session) ([]byte, error) {
	return json.Marshal((*plainSession)(&s))
}

// marshalData returns the same bytes and error as json.Marshal(data), the
// encoding the manager compares to detect changes, by the fast path where
// it can.
func marshalData(data map[string]interface{}) ([]byte, error) {
	if data == nil {
		return []byte("null"), nil
	}
	bp := encodeBufs.Get().(*[]byte)
	b, ok := appendJSONObject((*bp)[:0], data, 0)
	out := finishEncoding(bp, b, ok)
	if !ok {
		return json.Marshal(data)
	}
	return out, nil
}

// finishEncoding returns a copy of b, the encoding made in the pooled
// buffer bp, when ok (nil otherwise), and gives the buffer back to the pool.
func finishEncoding(bp *[]byte, b []byte, ok bool) []byte {
	var out []byte
	if ok {
		out = make([]byte, len(b))
		copy(out, b)
	}
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		encodeBufs.Put(bp)
	}
	return out
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
