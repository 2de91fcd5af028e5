package session

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonDecoder reads JSON from s. Its methods report false for input that is
// not JSON, with the reason in syntax; values of the wrong type are noted in
// typeErr and decoding goes on, as in encoding/json.
type jsonDecoder struct {
	s       string // a copy of the input, which the decoded strings share
	b       []byte // the input itself, which time.Time's UnmarshalJSON reads
	pos     int
	syntax  *SyntaxError // why the input is not JSON
	typeErr *TypeError   // the first value of the wrong type
}

// fail records a syntax error at the current position and returns false.
func (d *jsonDecoder) fail(msg string) bool {
	if d.syntax == nil {
		d.syntax = &SyntaxError{Offset: int64(d.pos), msg: msg}
	}
	return false
}

// unexpected fails on the byte at the current position, or the end of the
// input, found where context says.
func (d *jsonDecoder) unexpected(context string) bool {
	if d.pos >= len(d.s) {
		return d.fail("unexpected end of input")
	}
	c := d.s[d.pos]
	q := "byte 0x" + string(hexDigits[c>>4]) + string(hexDigits[c&0xf])
	if c < utf8.RuneSelf {
		q = strconv.QuoteRune(rune(c))
	}
	return d.fail("invalid character " + q + " " + context)
}

// mismatch notes a value of the wrong type at start for field, unless an
// earlier one was noted.
func (d *jsonDecoder) mismatch(start int, field string) {
	if d.typeErr == nil {
		d.typeErr = &TypeError{Value: jsonKind(d.s[start]), Field: field, Offset: int64(start)}
	}
}

// jsonKind names the kind of the JSON value starting with c.
func jsonKind(c byte) string {
	switch c {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// enter fails if an array or object inside a value at depth would nest too
// deeply.
func (d *jsonDecoder) enter(depth int) bool {
	if depth >= maxNestingDepth {
		return d.fail("exceeded max depth")
	}
	return true
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

// peek returns the next byte, or 0 at the end of the input.
func (d *jsonDecoder) peek() byte {
	if d.pos < len(d.s) {
		return d.s[d.pos]
	}
	return 0
}

// consume skips c if it comes next.
func (d *jsonDecoder) consume(c byte) bool {
	if d.pos < len(d.s) && d.s[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// literal reads lit, which must come next.
func (d *jsonDecoder) literal(lit string) bool {
	for i := 0; i < len(lit); i++ {
		if !d.consume(lit[i]) {
			return d.unexpected("in literal " + lit)
		}
	}
	return true
}

// value decodes any JSON value inside Data, inside a value at depth, the
// way encoding/json decodes into an empty interface.
func (d *jsonDecoder) value(depth int) (interface{}, bool) {
	switch c := d.peek(); c {
	case '"':
		d.pos++
		return d.stringBody()
	case '{':
		if !d.enter(depth) {
			return nil, false
		}
		d.pos++
		m := make(map[string]interface{})
		return m, d.objectBody(m, depth+1)
	case '[':
		if !d.enter(depth) {
			return nil, false
		}
		d.pos++
		return d.arrayBody(depth + 1)
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return d.number()
		}
		return nil, d.unexpected("looking for beginning of value")
	}
}

// skip checks any JSON value inside a value at depth and moves past it.
func (d *jsonDecoder) skip(depth int) bool {
	switch c := d.peek(); c {
	case '"':
		d.pos++
		_, ok := d.stringBody()
		return ok
	case '{':
		if !d.enter(depth) {
			return false
		}
		d.pos++
		d.skipSpace()
		if d.consume('}') {
			return true
		}
		for {
			if _, ok := d.memberKey(); !ok || !d.skip(depth+1) {
				return false
			}
			d.skipSpace()
			if d.consume('}') {
				return true
			}
			if !d.consume(',') {
				return d.unexpected("after object key:value pair")
			}
			d.skipSpace()
		}
	case '[':
		if !d.enter(depth) {
			return false
		}
		d.pos++
		d.skipSpace()
		if d.consume(']') {
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			d.skipSpace()
			if d.consume(']') {
				return true
			}
			if !d.consume(',') {
				return d.unexpected("after array element")
			}
			d.skipSpace()
		}
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return d.scanNumber()
		}
		return d.unexpected("looking for beginning of value")
	}
}

// objectBody decodes the members of an object at depth whose '{' is read
// into m.
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
			return d.unexpected("after object key:value pair")
		}
		d.skipSpace()
	}
}

// memberKey reads an object member's quoted key and the colon after it,
// leaving the decoder at the member's value.
func (d *jsonDecoder) memberKey() (string, bool) {
	if !d.consume('"') {
		return "", d.unexpected("looking for beginning of object key string")
	}
	key, ok := d.stringBody()
	if !ok {
		return "", false
	}
	d.skipSpace()
	if !d.consume(':') {
		return "", d.unexpected("after object key")
	}
	d.skipSpace()
	return key, true
}

// arrayBody decodes the elements of an array at depth whose '[' is read; an
// empty array is an empty, non-nil slice, as from encoding/json.
func (d *jsonDecoder) arrayBody(depth int) ([]interface{}, bool) {
	a := make([]interface{}, 0, 4)
	d.skipSpace()
	if d.consume(']') {
		return a, true
	}
	for {
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
			return nil, d.unexpected("after array element")
		}
		d.skipSpace()
	}
}

// number decodes a number in Data to a float64. One beyond float64's range
// is a type error and decodes to nil, as in encoding/json.
func (d *jsonDecoder) number() (interface{}, bool) {
	start := d.pos
	if !d.scanNumber() {
		return nil, false
	}
	lit := d.s[start:d.pos]
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		if d.typeErr == nil {
			d.typeErr = &TypeError{Value: "number " + lit, Field: "Data", Offset: int64(start), Err: err}
		}
		return nil, true
	}
	return f, true
}

// scanNumber moves past a number of JSON's grammar, which must come next.
func (d *jsonDecoder) scanNumber() bool {
	d.consume('-')
	if !d.consume('0') && d.digits() == 0 {
		return d.unexpected("in numeric literal")
	}
	if d.consume('.') && d.digits() == 0 {
		return d.unexpected("after decimal point in numeric literal")
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if d.digits() == 0 {
			return d.unexpected("in exponent of numeric literal")
		}
	}
	return true
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
	return "", d.unexpected("in string literal")
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
			return "", d.unexpected("in string literal")
		case c == '\\':
			d.pos++
			e := d.peek()
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
				d.pos++
				r := d.hex4(d.pos)
				if r < 0 {
					for '0' <= d.peek() && d.peek() <= '9' || 'a' <= d.peek()|0x20 && d.peek()|0x20 <= 'f' {
						d.pos++
					}
					return "", d.unexpected(`in \u hexadecimal character escape`)
				}
				d.pos += 3 // the last digit is skipped below
				if utf16.IsSurrogate(r) {
					pair := utf8.RuneError
					if d.pos+2 < len(d.s) && d.s[d.pos+1] == '\\' && d.s[d.pos+2] == 'u' {
						pair = utf16.DecodeRune(r, d.hex4(d.pos+3))
					}
					if pair != utf8.RuneError {
						d.pos += 6
					}
					r = pair
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.unexpected("in string escape code")
			}
			d.pos++
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
	return "", d.unexpected("in string literal")
}

// hex4 returns the value of the four hex digits at d.s[i:], or -1.
func (d *jsonDecoder) hex4(i int) rune {
	if i < 0 || i+4 > len(d.s) {
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
