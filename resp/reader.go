package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

const (
	defaultMaxBulkLen  = 512 << 20 // Redis's proto-max-bulk-len
	defaultMaxElements = 1 << 20
	defaultMaxDepth    = 64
	maxDepthCap        = 1000      // deeper recursion would risk the goroutine stack
	maxElementsCap     = 1<<30 - 1 // keeps 2*n for maps inside a 32-bit int
	growChunk          = 64 << 10  // a bulk body grows by at most this beyond what arrived
	preallocElems      = 32        // an aggregate preallocates at most this many elements
	keepScratch        = 64 << 10  // scratch buffers larger than this are dropped after a call
	lineSlack          = 64        // a line may exceed MaxBulkLen by its prefix and CRLF
)

// Limits bound what a server can make the Reader allocate. A zero (or negative) field
// means its default.
type Limits struct {
	// MaxBulkLen is the largest declared length of a bulk string, bulk error or verbatim
	// string, and the longest line (simple string, error, double, big number) accepted.
	// The default is 512 MiB, Redis's proto-max-bulk-len.
	MaxBulkLen int64
	// MaxElements is the largest declared element count of one array, set or push, or
	// pair count of one map or attribute; it also bounds the attribute pairs gathered
	// before one value. The default is 1<<20 (1,048,576); values above 1<<30-1 are
	// lowered to it.
	MaxElements int64
	// MaxDepth is the deepest nesting of aggregates accepted; a top-level array is at
	// depth 1. The default is 64; values above 1000 are lowered to 1000.
	MaxDepth int
}

// withDefaults returns l with zero fields replaced by their defaults and every field
// clamped to what the reader can honour.
func (l Limits) withDefaults() Limits {
	if l.MaxBulkLen <= 0 {
		l.MaxBulkLen = defaultMaxBulkLen
	}
	l.MaxBulkLen = min(l.MaxBulkLen, math.MaxInt-lineSlack, math.MaxInt64-lineSlack)
	if l.MaxElements <= 0 {
		l.MaxElements = defaultMaxElements
	}
	l.MaxElements = min(l.MaxElements, maxElementsCap)
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	l.MaxDepth = min(l.MaxDepth, maxDepthCap)
	return l
}

// Reader reads RESP2 and RESP3 replies from a bufio.Reader. It is not safe for
// concurrent use; one connection has one Reader.
type Reader struct {
	// Configuration, set once.
	lim  Limits
	push func(Value) // receives push replies; nil drops them

	// Read state.
	br    *bufio.Reader
	begun bool // a byte of the current reply was read, so EOF now means truncation

	// Scratch, reused across calls and dropped when it grew past keepScratch.
	long []byte // a line longer than br's buffer
	buf  []byte // bulk bodies decoded by ReadValue before they become strings
}

// NewReader returns a Reader that reads replies from br within the limits lim (zero
// fields take their defaults).
func NewReader(br *bufio.Reader, lim Limits) *Reader {
	return &Reader{br: br, lim: lim.withDefaults()}
}

// Reset makes r read from br, as after a new connection. It keeps the limits, the push
// handler and the scratch buffers.
func (r *Reader) Reset(br *bufio.Reader) {
	r.br = br
	r.begun = false
}

// SetPushHandler makes r pass every push reply ('>') to f, in the order they arrive,
// while it reads the replies around them. Push replies are never returned as the reply
// to a command; when f is nil they are dropped.
func (r *Reader) SetPushHandler(f func(Value)) { r.push = f }

// ReadValue reads one reply of any type. Attributes before a value are returned in its
// Attrs; push replies go to the push handler and reading goes on. A top-level error
// reply ('-' or '!') returns a zero Value and an Error.
func (r *Reader) ReadValue() (Value, error) { return r.readReply(false) }

// ReadPush reads a reply that must be a push ('>'), such as SUBSCRIBE's
// confirmation on RESP3, and returns it rather than passing it to the push
// handler. Attributes before it are returned in its Attrs; a reply of
// another type is consumed whole and reported as an *UnexpectedError, a
// server error reply as an Error.
func (r *Reader) ReadPush() (Value, error) { return r.readReply(true) }

// readReply reads one reply of any type, or a push when push is set; other
// pushes go to the push handler.
func (r *Reader) readReply(push bool) (Value, error) {
	defer r.trim()
	for {
		r.begun = false
		v, err := r.readValue(1)
		switch {
		case err != nil:
			return Value{}, err
		case v.Type == TypePush && push:
			return v, nil
		case v.Type == TypePush:
			r.deliver(v)
			continue
		case v.Type == TypeError || v.Type == TypeBulkError:
			return Value{}, newError(v.Str)
		case push:
			return Value{}, &UnexpectedError{Got: v.Type, Want: "push"}
		}
		return v, nil
	}
}

// ReadBulk reads a bulk string reply, appending it to dst[:0]; null is true for $-1 and
// _. It allocates nothing when cap(dst) holds the string. Attributes are skipped and
// pushes delivered; a reply of another type is consumed whole and reported as an
// *UnexpectedError, a server error reply as an Error.
func (r *Reader) ReadBulk(dst []byte) (b []byte, null bool, err error) {
	defer r.trim()
	dst = dst[:0]
	line, err := r.next()
	if err != nil {
		return dst, false, err
	}
	switch Type(line[0]) {
	case TypeBulkString:
		n, null, err := r.parseCount(line, true, r.lim.MaxBulkLen)
		if err != nil || null {
			return dst, null, err
		}
		dst, err = r.readBody(dst, n)
		if err != nil {
			return dst[:0], false, err
		}
		return dst, false, nil
	case TypeNull:
		if len(line) == 1 {
			return dst, true, nil
		}
	}
	return dst, false, r.mismatch(line, "bulk string")
}

// ReadOK reads a reply that must be the simple string OK. Another simple string, or a
// reply of another type, is an *UnexpectedError; a server error reply is an Error.
// Attributes are skipped and pushes delivered.
func (r *Reader) ReadOK() error {
	defer r.trim()
	line, err := r.next()
	if err != nil {
		return err
	}
	if string(line) == "+OK" {
		return nil
	}
	return r.mismatch(line, "+OK")
}

// ReadInt reads an integer reply (':'). A reply of another type is consumed whole and
// reported as an *UnexpectedError; a server error reply as an Error. Attributes are
// skipped and pushes delivered.
func (r *Reader) ReadInt() (int64, error) {
	defer r.trim()
	line, err := r.next()
	if err != nil {
		return 0, err
	}
	if Type(line[0]) == TypeInteger {
		n, ok := parseInt(line[1:])
		if !ok {
			return 0, protocolErrorf("bad integer %s", quote(line))
		}
		return n, nil
	}
	return 0, r.mismatch(line, "integer")
}

// next reads the first line of the next reply for a fast path, reading and dropping
// attributes and delivering push replies on the way.
func (r *Reader) next() ([]byte, error) {
	r.begun = false
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		switch Type(line[0]) {
		case TypeAttribute:
			// The annotated value follows and belongs to the same reply.
			if _, err := r.readAttrs(line, nil, 1); err != nil {
				return nil, err
			}
			continue
		case TypePush:
			v, err := r.parse(line, 1)
			if err != nil {
				return nil, err
			}
			r.deliver(v)
			r.begun = false
			continue
		}
		return line, nil
	}
}

// mismatch consumes the rest of a reply a fast path did not expect and returns the
// error to report: an Error for a server error reply, an *UnexpectedError otherwise,
// or the *ProtocolError met while consuming it.
func (r *Reader) mismatch(line []byte, want string) error {
	v, err := r.parse(line, 1)
	if err != nil {
		return err
	}
	if v.Type == TypeError || v.Type == TypeBulkError {
		return newError(v.Str)
	}
	return &UnexpectedError{Got: v.Type, Want: want}
}

// deliver passes a push reply to the push handler, if there is one.
func (r *Reader) deliver(v Value) {
	if r.push != nil {
		r.push(v)
	}
}

// trim drops scratch buffers that a large reply grew, so one huge reply does not pin
// its memory for the life of the connection.
func (r *Reader) trim() {
	if cap(r.buf) > keepScratch {
		r.buf = nil
	}
	if cap(r.long) > keepScratch {
		r.long = nil
	}
}

// readValue reads one value at the given nesting depth (1 for a reply), gathering the
// attributes that come before it. A loop rather than recursion handles a chain of
// attributes, so a long chain cannot grow the stack.
func (r *Reader) readValue(depth int) (Value, error) {
	var attrs []Value
	for {
		line, err := r.readLine()
		if err != nil {
			return Value{}, err
		}
		if Type(line[0]) == TypeAttribute {
			if attrs, err = r.readAttrs(line, attrs, depth); err != nil {
				return Value{}, err
			}
			continue
		}
		v, err := r.parse(line, depth)
		if err != nil {
			return Value{}, err
		}
		v.Attrs = attrs
		return v, nil
	}
}

// readAttrs reads the pairs of the attribute whose header is line and appends them to
// attrs, bounding the pairs gathered before one value by MaxElements.
func (r *Reader) readAttrs(line []byte, attrs []Value, depth int) ([]Value, error) {
	n, _, err := r.parseCount(line, false, r.lim.MaxElements)
	if err != nil {
		return nil, err
	}
	if int64(len(attrs)/2+n) > r.lim.MaxElements {
		return nil, protocolErrorf("attribute pairs before one value over limit %d", r.lim.MaxElements)
	}
	if depth > r.lim.MaxDepth {
		return nil, protocolErrorf("nesting deeper than %d", r.lim.MaxDepth)
	}
	return r.readElems(attrs, 2*n, depth+1)
}

// readElems reads count values at the given depth and appends them to dst. It
// preallocates a bounded number, so a declared count costs memory only as elements
// actually arrive.
func (r *Reader) readElems(dst []Value, count, depth int) ([]Value, error) {
	if dst == nil {
		dst = make([]Value, 0, min(count, preallocElems))
	}
	for range count {
		v, err := r.readValue(depth)
		if err != nil {
			return nil, err
		}
		dst = append(dst, v)
	}
	return dst, nil
}

// parse decodes the value whose first line (prefix included, CRLF excluded) is line,
// reading its body or elements from the stream.
func (r *Reader) parse(line []byte, depth int) (Value, error) {
	t := Type(line[0])
	body := line[1:]
	switch t {
	case TypeSimpleString, TypeError:
		return Value{Type: t, Str: string(body)}, nil
	case TypeInteger:
		n, ok := parseInt(body)
		if !ok {
			return Value{}, protocolErrorf("bad integer %s", quote(line))
		}
		return Value{Type: t, Int: n}, nil
	case TypeNull:
		if len(body) != 0 {
			return Value{}, protocolErrorf("bad null %s", quote(line))
		}
		return Value{Type: t, Null: true}, nil
	case TypeBoolean:
		if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
			return Value{}, protocolErrorf("bad boolean %s", quote(line))
		}
		return Value{Type: t, Bool: body[0] == 't'}, nil
	case TypeDouble:
		f, ok := parseDouble(body)
		if !ok {
			return Value{}, protocolErrorf("bad double %s", quote(line))
		}
		return Value{Type: t, Str: string(body), Float: f}, nil
	case TypeBigNumber:
		if !validBigNumber(body) {
			return Value{}, protocolErrorf("bad big number %s", quote(line))
		}
		return Value{Type: t, Str: string(body)}, nil
	case TypeBulkString, TypeBulkError, TypeVerbatim:
		n, null, err := r.parseCount(line, t == TypeBulkString, r.lim.MaxBulkLen)
		if err != nil {
			return Value{}, err
		}
		if null {
			return Value{Type: t, Null: true}, nil
		}
		b, err := r.readBody(r.buf[:0], n)
		r.buf = b
		if err != nil {
			return Value{}, err
		}
		if t != TypeVerbatim {
			return Value{Type: t, Str: string(b)}, nil
		}
		if len(b) < 4 || b[3] != ':' {
			return Value{}, protocolErrorf("verbatim string %s without a format", quote(b))
		}
		return Value{Type: t, Format: string(b[:3]), Str: string(b[4:])}, nil
	case TypeArray, TypeSet, TypePush, TypeMap:
		n, null, err := r.parseCount(line, t == TypeArray, r.lim.MaxElements)
		if err != nil {
			return Value{}, err
		}
		if null {
			return Value{Type: t, Null: true}, nil
		}
		if depth > r.lim.MaxDepth {
			return Value{}, protocolErrorf("nesting deeper than %d", r.lim.MaxDepth)
		}
		if t == TypeMap {
			n *= 2
		}
		elems, err := r.readElems(nil, n, depth+1)
		if err != nil {
			return Value{}, err
		}
		return Value{Type: t, Elems: elems}, nil
	}
	return Value{}, protocolErrorf("bad reply prefix %s", quote(line[:1]))
}

// readLine reads one line and returns it without its CRLF. The slice is valid until the
// next read. A line is at least a prefix byte; a bare LF or a CR inside the line is a
// protocol error.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		line, err = r.readLongLine(line)
	}
	if err != nil {
		return nil, r.readErr(err, len(line) > 0)
	}
	r.begun = true
	n := len(line)
	if int64(n) > r.lim.MaxBulkLen+lineSlack {
		return nil, protocolErrorf("line longer than %d bytes", r.lim.MaxBulkLen+lineSlack)
	}
	if n < 2 || line[n-2] != '\r' {
		return nil, protocolErrorf("line %s not terminated by CRLF", quote(line))
	}
	if n == 2 {
		return nil, protocolErrorf("empty line")
	}
	line = line[:n-2]
	if slices.Contains(line, '\r') {
		return nil, protocolErrorf("CR inside line %s", quote(line))
	}
	return line, nil
}

// readLongLine finishes a line that did not fit in the bufio.Reader's buffer, gathering
// it in r.long up to the bulk length limit.
func (r *Reader) readLongLine(first []byte) ([]byte, error) {
	r.begun = true
	r.long = append(r.long[:0], first...)
	for {
		if int64(len(r.long)) > r.lim.MaxBulkLen+lineSlack {
			return r.long, protocolErrorf("line longer than %d bytes", r.lim.MaxBulkLen+lineSlack)
		}
		line, err := r.br.ReadSlice('\n')
		r.long = append(r.long, line...)
		if err != bufio.ErrBufferFull {
			return r.long, err
		}
	}
}

// readBody reads a bulk body of n bytes and its CRLF, appending the bytes to dst. When
// dst lacks room it grows by at most what has already arrived or growChunk, whichever
// is larger, so a declared length costs memory only as the bytes arrive.
func (r *Reader) readBody(dst []byte, n int) ([]byte, error) {
	for n > 0 {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, min(n, max(len(dst), growChunk)))
		}
		k := min(n, cap(dst)-len(dst))
		m, err := io.ReadFull(r.br, dst[len(dst):len(dst)+k])
		dst = dst[:len(dst)+m]
		n -= m
		if err != nil {
			return dst, r.readErr(err, true)
		}
	}
	cr, err := r.br.ReadByte()
	if err != nil {
		return dst, r.readErr(err, true)
	}
	lf, err := r.br.ReadByte()
	if err != nil {
		return dst, r.readErr(err, true)
	}
	if cr != '\r' || lf != '\n' {
		return dst, protocolErrorf("bulk body not terminated by CRLF")
	}
	return dst, nil
}

// readErr turns an error from the underlying reader into the one to report: io.EOF
// before the first byte of a reply is a clean close and stays io.EOF; EOF after it is a
// truncated reply, a *ProtocolError; other errors (timeouts, resets) are wrapped.
func (r *Reader) readErr(err error, partial bool) error {
	if _, ok := err.(*ProtocolError); ok {
		return err
	}
	if err == io.EOF && !partial && !r.begun {
		return io.EOF
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &ProtocolError{Reason: "truncated reply: unexpected EOF", err: io.ErrUnexpectedEOF}
	}
	return fmt.Errorf("resp: read: %w", err)
}

// parseCount parses the length in a header line such as "$5" or "*-1". null reports
// -1, accepted only when nullable; any other negative, a malformed or overflowing
// number and a length over limit are protocol errors.
func (r *Reader) parseCount(line []byte, nullable bool, limit int64) (n int, null bool, err error) {
	digits := line[1:]
	if nullable && string(digits) == "-1" {
		return 0, true, nil
	}
	if len(digits) == 0 {
		return 0, false, protocolErrorf("bad %s length %s", Type(line[0]), quote(line))
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, protocolErrorf("bad %s length %s", Type(line[0]), quote(line))
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false, protocolErrorf("%s length %s overflows", Type(line[0]), quote(line))
		}
		v = v*10 + d
	}
	if v > limit {
		return 0, false, protocolErrorf("%s length %d over limit %d", Type(line[0]), v, limit)
	}
	return int(v), false, nil
}

// parseInt parses a signed decimal int64 with overflow checks; it accepts the whole
// range, math.MinInt64 included.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (limit-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	if neg {
		return int64(-u), true
	}
	return int64(u), true
}

// parseDouble parses a RESP3 double: a decimal number with optional sign, fraction and
// exponent, or inf, -inf or nan. A magnitude beyond float64 becomes ±Inf or 0.
func parseDouble(b []byte) (float64, bool) {
	switch string(b) {
	case "inf", "+inf":
		return math.Inf(1), true
	case "-inf":
		return math.Inf(-1), true
	case "nan":
		return math.NaN(), true
	case "":
		return 0, false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

// validBigNumber reports whether b is an optionally signed run of decimal digits.
func validBigNumber(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// protocolErrorf returns a *ProtocolError with a formatted reason.
func protocolErrorf(format string, args ...any) error {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}
