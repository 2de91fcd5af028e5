package resp

import (
	"bufio"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

// validReplies holds well-formed wire bytes of every reply type, RESP2 and RESP3, with
// the value ReadValue must return.
var validReplies = []struct {
	name string
	in   string
	want Value
}{
	{"simple string", "+OK\r\n", simple("OK")},
	{"empty simple string", "+\r\n", simple("")},
	{"simple string with spaces", "+hello world\r\n", simple("hello world")},
	{"integer zero", ":0\r\n", integer(0)},
	{"negative integer", ":-42\r\n", integer(-42)},
	{"max integer", ":9223372036854775807\r\n", integer(math.MaxInt64)},
	{"min integer", ":-9223372036854775808\r\n", integer(math.MinInt64)},
	{"bulk string", "$5\r\nhello\r\n", bulk("hello")},
	{"empty bulk string", "$0\r\n\r\n", bulk("")},
	{"binary bulk string", "$6\r\na\r\nb\x00c\r\n", bulk("a\r\nb\x00c")},
	{"null bulk string", "$-1\r\n", Value{Type: TypeBulkString, Null: true}},
	{"empty array", "*0\r\n", agg(TypeArray)},
	{"null array", "*-1\r\n", Value{Type: TypeArray, Null: true}},
	{"array", "*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", agg(TypeArray, bulk("a"), integer(1), Value{Type: TypeBulkString, Null: true})},
	{"nested array with error element", "*2\r\n*1\r\n+a\r\n-ERR x\r\n",
		agg(TypeArray, agg(TypeArray, simple("a")), Value{Type: TypeError, Str: "ERR x"})},
	{"null", "_\r\n", Value{Type: TypeNull, Null: true}},
	{"true", "#t\r\n", Value{Type: TypeBoolean, Bool: true}},
	{"false", "#f\r\n", Value{Type: TypeBoolean}},
	{"double", ",1.5\r\n", double("1.5", 1.5)},
	{"double integral", ",10\r\n", double("10", 10)},
	{"double exponent", ",-0.25e3\r\n", double("-0.25e3", -250)},
	{"double inf", ",inf\r\n", double("inf", math.Inf(1))},
	{"double -inf", ",-inf\r\n", double("-inf", math.Inf(-1))},
	{"double nan", ",nan\r\n", double("nan", math.NaN())},
	{"big number", "(3492890328409238509324850943850943825024385\r\n",
		Value{Type: TypeBigNumber, Str: "3492890328409238509324850943850943825024385"}},
	{"negative big number", "(-1\r\n", Value{Type: TypeBigNumber, Str: "-1"}},
	{"verbatim", "=15\r\ntxt:Some string\r\n", Value{Type: TypeVerbatim, Format: "txt", Str: "Some string"}},
	{"empty verbatim", "=4\r\nmkd:\r\n", Value{Type: TypeVerbatim, Format: "mkd"}},
	{"map", "%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n", agg(TypeMap, simple("a"), integer(1), simple("b"), integer(2))},
	{"empty map", "%0\r\n", agg(TypeMap)},
	{"set", "~2\r\n+a\r\n+b\r\n", agg(TypeSet, simple("a"), simple("b"))},
	{"nested bulk error", "*1\r\n!5\r\nERR x\r\n", agg(TypeArray, Value{Type: TypeBulkError, Str: "ERR x"})},
	{"nested push is a value", "*1\r\n>1\r\n+a\r\n", agg(TypeArray, agg(TypePush, simple("a")))},
	{"attribute before reply",
		"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
		func() Value {
			v := agg(TypeArray, integer(2039123), integer(9543892))
			v.Attrs = []Value{simple("key-popularity"),
				agg(TypeMap, bulk("a"), double("0.1923", 0.1923), bulk("b"), double("0.0012", 0.0012))}
			return v
		}()},
	{"attribute inside array", "*2\r\n|1\r\n+k\r\n+v\r\n:5\r\n:6\r\n",
		agg(TypeArray, Value{Type: TypeInteger, Int: 5, Attrs: []Value{simple("k"), simple("v")}}, integer(6))},
	{"attribute chain", "|1\r\n+a\r\n+1\r\n|1\r\n+b\r\n+2\r\n:7\r\n",
		Value{Type: TypeInteger, Int: 7, Attrs: []Value{simple("a"), simple("1"), simple("b"), simple("2")}}},
	{"long simple string", "+" + strings.Repeat("x", 100) + "\r\n", simple(strings.Repeat("x", 100))},
	{"long bulk string", "$100\r\n" + strings.Repeat("y", 100) + "\r\n", bulk(strings.Repeat("y", 100))},
}

func TestReadValueDecodesEveryType(t *testing.T) {
	for _, size := range bufSizes {
		for _, tc := range validReplies {
			r := newTestReader(tc.in, size, Limits{}, nil)
			got, err := r.ReadValue()
			if err != nil {
				t.Errorf("%s (buf %d): ReadValue(%q) error %v", tc.name, size, tc.in, err)
				continue
			}
			if !equalValue(got, tc.want) {
				t.Errorf("%s (buf %d): ReadValue(%q) = %s, want %s", tc.name, size, tc.in, show(got), show(tc.want))
			}
			if _, err := r.ReadValue(); err != io.EOF {
				t.Errorf("%s (buf %d): read after the reply: %v, want io.EOF", tc.name, size, err)
			}
		}
	}
}

// errorReplies are server error replies, top-level, with the Error they become.
var errorReplies = []struct {
	name string
	in   string
	want Error
}{
	{"simple error", "-ERR unknown command 'FOO'\r\n", Error{Kind: "ERR", Msg: "ERR unknown command 'FOO'"}},
	{"wrongtype", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
		Error{Kind: "WRONGTYPE", Msg: "WRONGTYPE Operation against a key holding the wrong kind of value"}},
	{"moved", "-MOVED 3999 127.0.0.1:6381\r\n", Error{Kind: "MOVED", Msg: "MOVED 3999 127.0.0.1:6381"}},
	{"one word", "-NOAUTH\r\n", Error{Kind: "NOAUTH", Msg: "NOAUTH"}},
	{"empty", "-\r\n", Error{}},
	{"bulk error", "!21\r\nSYNTAX invalid syntax\r\n", Error{Kind: "SYNTAX", Msg: "SYNTAX invalid syntax"}},
	{"bulk error with CRLF", "!9\r\nERR a\r\nbc\r\n", Error{Kind: "ERR", Msg: "ERR a\r\nbc"}},
	{"error after attribute", "|1\r\n+a\r\n+b\r\n-ERR x\r\n", Error{Kind: "ERR", Msg: "ERR x"}},
	{"error after push", ">1\r\n+p\r\n-LOADING Redis is loading\r\n", Error{Kind: "LOADING", Msg: "LOADING Redis is loading"}},
}

func TestReadValueReturnsServerErrorsAsError(t *testing.T) {
	for _, size := range bufSizes {
		for _, tc := range errorReplies {
			r := newTestReader(tc.in, size, Limits{}, nil)
			v, err := r.ReadValue()
			var e Error
			if !errors.As(err, &e) || e != tc.want {
				t.Errorf("%s: ReadValue(%q) error %#v, want %#v", tc.name, tc.in, err, tc.want)
			}
			if !equalValue(v, Value{}) {
				t.Errorf("%s: ReadValue(%q) value %s, want the zero Value", tc.name, tc.in, show(v))
			}
			if !Usable(err) {
				t.Errorf("%s: Usable(%v) = false", tc.name, err)
			}
		}
	}
}

// malformedReplies are inputs every reader must reject with a *ProtocolError.
var malformedReplies = []struct {
	name string
	in   string
}{
	{"bad prefix", "?x\r\n"},
	{"bad prefix letter", "hello\r\n"},
	{"missing CR", "+OK\n"},
	{"missing CRLF then EOF", "+OK"},
	{"CR then EOF", "+OK\r"},
	{"empty line", "\r\n"},
	{"bare LF", "\n"},
	{"CR inside line", "+a\rb\r\n"},
	{"integer letters", ":abc\r\n"},
	{"integer empty", ":\r\n"},
	{"integer sign only", ":-\r\n"},
	{"integer plus sign", ":+1\r\n"},
	{"integer fraction", ":1.5\r\n"},
	{"integer overflow", ":9223372036854775808\r\n"},
	{"integer underflow", ":-9223372036854775809\r\n"},
	{"integer huge", ":99999999999999999999\r\n"},
	{"bulk length uint64 max", "$18446744073709551615\r\n"},
	{"bulk length overflow", "$99999999999999999999\r\n"},
	{"bulk length -2", "$-2\r\n"},
	{"bulk length -0", "$-0\r\n"},
	{"bulk length empty", "$\r\n"},
	{"bulk length letters", "$abc\r\n"},
	{"bulk length space", "$1 \r\n"},
	{"bulk length over limit", "$536870913\r\n"},
	{"bulk truncated", "$5\r\nhel"},
	{"bulk truncated before CRLF", "$5\r\nhello"},
	{"bulk truncated after CR", "$5\r\nhello\r"},
	{"bulk bad terminator", "$5\r\nhelloXX"},
	{"bulk too long for length", "$3\r\nhello\r\n"},
	{"array length -2", "*-2\r\n"},
	{"array length overflow", "*99999999999999999999\r\n"},
	{"array length uint64 max", "*18446744073709551615\r\n"},
	{"array over element limit", "*1048577\r\n"},
	{"array truncated", "*2\r\n+a\r\n"},
	{"array bad element", "*1\r\n?\r\n"},
	{"map negative", "%-1\r\n"},
	{"map over element limit", "%1048577\r\n"},
	{"map truncated", "%1\r\n+a\r\n"},
	{"set negative", "~-1\r\n"},
	{"push negative", ">-1\r\n"},
	{"push truncated", ">2\r\n+a\r\n"},
	{"attribute negative", "|-1\r\n"},
	{"attribute truncated", "|1\r\n+a\r\n"},
	{"attribute without value", "|1\r\n+a\r\n+b\r\n"},
	{"bulk error negative", "!-1\r\n"},
	{"bulk error truncated", "!10\r\nERR\r\n"},
	{"verbatim negative", "=-1\r\n"},
	{"verbatim without format", "=3\r\ntxt\r\n"},
	{"verbatim without colon", "=5\r\ntxtab\r\n"},
	{"null with payload", "_x\r\n"},
	{"boolean letter", "#x\r\n"},
	{"boolean empty", "#\r\n"},
	{"boolean long", "#tt\r\n"},
	{"boolean upper", "#T\r\n"},
	{"double empty", ",\r\n"},
	{"double letters", ",abc\r\n"},
	{"double trailing junk", ",1.5x\r\n"},
	{"double Inf", ",Inf\r\n"},
	{"double infinity", ",infinity\r\n"},
	{"double hex", ",0x1p3\r\n"},
	{"double two dots", ",1..5\r\n"},
	{"big number empty", "(\r\n"},
	{"big number sign only", "(-\r\n"},
	{"big number letters", "(12a\r\n"},
	{"nesting over 64", strings.Repeat("*1\r\n", 65) + ":1\r\n"},
	{"map nesting over 64", strings.Repeat("%1\r\n+k\r\n", 65) + ":1\r\n"},
	{"attribute nesting over 64", strings.Repeat("*1\r\n", 64) + "|1\r\n+k\r\n+v\r\n:1\r\n"},
	{"nesting 10000 deep", strings.Repeat("*1\r\n", 10000)},
}

// truncatedReplies names the malformedReplies that become well-formed when more input
// follows them, so the desync test cannot append to them.
var truncatedReplies = map[string]bool{
	"missing CRLF then EOF": true, "CR then EOF": true, "bulk truncated": true,
	"bulk truncated before CRLF": true, "bulk truncated after CR": true,
	"array truncated": true, "map truncated": true, "push truncated": true,
	"attribute truncated": true, "attribute without value": true, "bulk error truncated": true,
}

func TestReadValueRejectsMalformedInput(t *testing.T) {
	for _, size := range bufSizes {
		for _, tc := range malformedReplies {
			r := newTestReader(tc.in, size, Limits{}, nil)
			v, err := r.ReadValue()
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Errorf("%s (buf %d): ReadValue(%q) = %s, %v; want a *ProtocolError", tc.name, size, tc.in, show(v), err)
				continue
			}
			if !strings.HasPrefix(err.Error(), "resp: protocol error: ") {
				t.Errorf("%s: error text %q lacks the package prefix", tc.name, err)
			}
			if Usable(err) {
				t.Errorf("%s: Usable(%v) = true", tc.name, err)
			}
		}
	}
}

func TestNestingAtTheLimitIsAccepted(t *testing.T) {
	in := strings.Repeat("*1\r\n", 64) + ":1\r\n"
	v, err := newTestReader(in, 0, Limits{}, nil).ReadValue()
	if err != nil {
		t.Fatalf("64 nested arrays: %v", err)
	}
	for range 64 {
		if v.Type != TypeArray || len(v.Elems) != 1 {
			t.Fatalf("got %s", show(v))
		}
		v = v.Elems[0]
	}
	if !equalValue(v, integer(1)) {
		t.Fatalf("innermost %s, want :1", show(v))
	}
}

func TestLimitsAreConfigurable(t *testing.T) {
	lim := Limits{MaxBulkLen: 10, MaxElements: 2, MaxDepth: 2}
	tests := []struct {
		in string
		ok bool
	}{
		{"$10\r\n0123456789\r\n", true},
		{"$11\r\n01234567890\r\n", false},
		{"!11\r\n01234567890\r\n", false},
		{"=11\r\ntxt:4567890\r\n", false},
		{"+" + strings.Repeat("a", 20) + "\r\n", true}, // fits the line slack
		{"+" + strings.Repeat("a", 100) + "\r\n", false},
		{"*2\r\n:1\r\n:2\r\n", true},
		{"*3\r\n:1\r\n:2\r\n:3\r\n", false},
		{"~3\r\n:1\r\n:2\r\n:3\r\n", false},
		{"%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", true},
		{"%3\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n", false},
		{"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n:1\r\n", true},
		{"|1\r\n+a\r\n+b\r\n|2\r\n+c\r\n+d\r\n+e\r\n+f\r\n:1\r\n", false},
		{"*1\r\n*1\r\n:1\r\n", true},
		{"*1\r\n*1\r\n*0\r\n", false},
	}
	for _, tc := range tests {
		_, err := newTestReader(tc.in, 16, lim, nil).ReadValue()
		if tc.ok && err != nil {
			t.Errorf("ReadValue(%q) with %+v: %v", tc.in, lim, err)
		}
		var pe *ProtocolError
		if !tc.ok && !errors.As(err, &pe) {
			t.Errorf("ReadValue(%q) with %+v: %v, want a *ProtocolError", tc.in, lim, err)
		}
	}
}

func TestEOFBeforeAReplyIsIOEOF(t *testing.T) {
	r := newTestReader("", 0, Limits{}, nil)
	if _, err := r.ReadValue(); err != io.EOF {
		t.Errorf("ReadValue on an empty stream: %v, want io.EOF", err)
	}
	if _, _, err := r.ReadBulk(nil); err != io.EOF {
		t.Errorf("ReadBulk on an empty stream: %v, want io.EOF", err)
	}
	if err := r.ReadOK(); err != io.EOF {
		t.Errorf("ReadOK on an empty stream: %v, want io.EOF", err)
	}
	if _, err := r.ReadInt(); err != io.EOF {
		t.Errorf("ReadInt on an empty stream: %v, want io.EOF", err)
	}
	if Usable(io.EOF) {
		t.Error("Usable(io.EOF) = true")
	}
	// EOF after an attribute is mid-reply: truncated.
	err := newTestReader("|1\r\n+a\r\n+b\r\n", 0, Limits{}, nil).ReadOK()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadOK after a lone attribute: %v, want io.ErrUnexpectedEOF inside", err)
	}
}

// failingReader returns its data and then err.
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestIOErrorsAreWrappedAndUnusable(t *testing.T) {
	boom := errors.New("i/o timeout")
	for _, data := range []string{"", "+O", "$5\r\nhe"} {
		r := NewReader(bufioReader(&failingReader{data: data, err: boom}), Limits{})
		_, err := r.ReadValue()
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "resp: ") || Usable(err) {
			t.Errorf("after %q: err %v, want %v wrapped, unusable", data, err, boom)
		}
	}
}

func TestPushesGoToTheHandler(t *testing.T) {
	in := ">3\r\n+message\r\n+chan\r\n$2\r\nhi\r\n" +
		"+OK\r\n" +
		">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n" +
		"|1\r\n+a\r\n+b\r\n>1\r\n+x\r\n" +
		":5\r\n" +
		">1\r\n+y\r\n$1\r\nv\r\n" +
		">1\r\n+z\r\n-ERR x\r\n" +
		">1\r\n+w\r\n_\r\n"
	var pushes []Value
	r := newTestReader(in, 16, Limits{}, &pushes)
	if v, err := r.ReadValue(); err != nil || !equalValue(v, simple("OK")) {
		t.Fatalf("ReadValue = %s, %v; want +OK", show(v), err)
	}
	if n, err := r.ReadInt(); err != nil || n != 5 {
		t.Fatalf("ReadInt = %d, %v; want 5", n, err)
	}
	if b, null, err := r.ReadBulk(nil); err != nil || null || string(b) != "v" {
		t.Fatalf("ReadBulk = %q, %v, %v; want v", b, null, err)
	}
	var e Error
	if err := r.ReadOK(); !errors.As(err, &e) || e.Msg != "ERR x" {
		t.Fatalf("ReadOK = %v, want ERR x", err)
	}
	if _, null, err := r.ReadBulk(nil); err != nil || !null {
		t.Fatalf("ReadBulk of _ = %v, %v; want null", null, err)
	}
	want := []Value{
		agg(TypePush, simple("message"), simple("chan"), bulk("hi")),
		agg(TypePush, simple("invalidate"), agg(TypeArray, bulk("k"))),
		agg(TypePush, simple("x")),
		agg(TypePush, simple("y")),
		agg(TypePush, simple("z")),
		agg(TypePush, simple("w")),
	}
	if len(pushes) != len(want) {
		t.Fatalf("got %d pushes, want %d", len(pushes), len(want))
	}
	for i := range want {
		if !equalValue(pushes[i], want[i]) {
			t.Errorf("push %d = %s, want %s", i, show(pushes[i]), show(want[i]))
		}
	}
	// Without a handler pushes are dropped, never returned.
	r = newTestReader(">1\r\n+p\r\n+OK\r\n", 0, Limits{}, nil)
	if v, err := r.ReadValue(); err != nil || !equalValue(v, simple("OK")) {
		t.Fatalf("without a handler ReadValue = %s, %v; want +OK", show(v), err)
	}
}

func TestFastPaths(t *testing.T) {
	type result struct {
		val  string // bulk bytes, or the integer in decimal
		null bool
		err  string // "", "Error", "Unexpected", "Protocol"
	}
	tests := []struct {
		method string
		in     string
		want   result
	}{
		{"bulk", "$5\r\nhello\r\n", result{val: "hello"}},
		{"bulk", "$0\r\n\r\n", result{}},
		{"bulk", "$-1\r\n", result{null: true}},
		{"bulk", "_\r\n", result{null: true}},
		{"bulk", "|1\r\n+a\r\n+b\r\n$1\r\nx\r\n", result{val: "x"}},
		{"bulk", "+OK\r\n", result{err: "Unexpected"}},
		{"bulk", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", result{err: "Unexpected"}},
		{"bulk", "=5\r\ntxt:x\r\n", result{err: "Unexpected"}},
		{"bulk", "-ERR no\r\n", result{err: "Error"}},
		{"bulk", "!6\r\nERR no\r\n", result{err: "Error"}},
		{"bulk", "$99999999999999999999\r\n", result{err: "Protocol"}},
		{"bulk", "$536870913\r\n", result{err: "Protocol"}},
		{"bulk", "$5\r\nhel", result{err: "Protocol"}},
		{"bulk", "_x\r\n", result{err: "Protocol"}},
		{"bulk", "*1\r\n?\r\n", result{err: "Protocol"}},
		{"ok", "+OK\r\n", result{}},
		{"ok", "+QUEUED\r\n", result{err: "Unexpected"}},
		{"ok", "+OKAY\r\n", result{err: "Unexpected"}},
		{"ok", "$2\r\nOK\r\n", result{err: "Unexpected"}},
		{"ok", "-READONLY You can't write against a read only replica.\r\n", result{err: "Error"}},
		{"ok", "+OK\n", result{err: "Protocol"}},
		{"ok", "+OK", result{err: "Protocol"}},
		{"int", ":42\r\n", result{val: "42"}},
		{"int", ":-9223372036854775808\r\n", result{val: "-9223372036854775808"}},
		{"int", ":9223372036854775808\r\n", result{err: "Protocol"}},
		{"int", ":x\r\n", result{err: "Protocol"}},
		{"int", "$1\r\n1\r\n", result{err: "Unexpected"}},
		{"int", "%1\r\n+a\r\n:1\r\n", result{err: "Unexpected"}},
		{"int", "-WRONGTYPE x\r\n", result{err: "Error"}},
		{"int", strings.Repeat("*1\r\n", 100), result{err: "Protocol"}},
	}
	for _, size := range bufSizes {
		for _, tc := range tests {
			r := newTestReader(tc.in, size, Limits{}, nil)
			var got result
			var err error
			switch tc.method {
			case "bulk":
				var b []byte
				b, got.null, err = r.ReadBulk(make([]byte, 3, 8))
				got.val = string(b)
			case "ok":
				err = r.ReadOK()
			case "int":
				var n int64
				n, err = r.ReadInt()
				if n != 0 {
					got.val = formatInt(n)
				}
			}
			var (
				se Error
				ue *UnexpectedError
				pe *ProtocolError
			)
			switch {
			case err == nil:
			case errors.As(err, &se):
				got.err = "Error"
			case errors.As(err, &ue):
				got.err = "Unexpected"
			case errors.As(err, &pe):
				got.err = "Protocol"
			default:
				got.err = err.Error()
			}
			if tc.want.val == "0" {
				tc.want.val = ""
			}
			if got != tc.want {
				t.Errorf("%s(%q) (buf %d) = %+v (err %v), want %+v", tc.method, tc.in, size, got, err, tc.want)
			}
		}
	}
}

func TestUnexpectedErrorNamesBothTypes(t *testing.T) {
	err := newTestReader(":1\r\n", 0, Limits{}, nil).ReadOK()
	var ue *UnexpectedError
	if !errors.As(err, &ue) || ue.Got != TypeInteger || ue.Want != "+OK" {
		t.Fatalf("ReadOK(:1) = %#v", err)
	}
	if got, want := err.Error(), "resp: unexpected integer reply, want +OK"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestStreamStaysInSyncOrIsReportedUnusable is the desync test: after each error reply
// or mismatched reply followed by +NEXT, the next read is NEXT; after each malformed
// input, the error says the connection is unusable.
func TestStreamStaysInSyncOrIsReportedUnusable(t *testing.T) {
	const next = "+NEXT\r\n"
	readers := map[string]func(r *Reader) error{
		"ReadValue": func(r *Reader) error { _, err := r.ReadValue(); return err },
		"ReadBulk":  func(r *Reader) error { _, _, err := r.ReadBulk(nil); return err },
		"ReadOK":    func(r *Reader) error { return r.ReadOK() },
		"ReadInt":   func(r *Reader) error { _, err := r.ReadInt(); return err },
	}
	var inputs []string
	for _, tc := range errorReplies {
		inputs = append(inputs, tc.in)
	}
	for _, tc := range validReplies {
		inputs = append(inputs, tc.in)
	}
	for _, size := range bufSizes {
		for name, read := range readers {
			for _, in := range inputs {
				r := newTestReader(in+next, size, Limits{}, nil)
				err := read(r)
				if !Usable(err) {
					t.Errorf("%s(%q): %v reported unusable", name, in, err)
					continue
				}
				if v, err := r.ReadValue(); err != nil || !equalValue(v, simple("NEXT")) {
					t.Errorf("%s(%q) then ReadValue = %s, %v; want NEXT", name, in, show(v), err)
				}
			}
			for _, tc := range malformedReplies {
				if truncatedReplies[tc.name] {
					continue
				}
				r := newTestReader(tc.in+next, size, Limits{}, nil)
				if err := read(r); Usable(err) {
					t.Errorf("%s(%q) (%s): %v reported usable", name, tc.in, tc.name, err)
				}
			}
		}
	}
}

func TestResetReadsAnotherStream(t *testing.T) {
	r := newTestReader("+partial", 0, Limits{MaxDepth: 1}, nil)
	if err := r.ReadOK(); Usable(err) {
		t.Fatalf("truncated reply: %v", err)
	}
	r.Reset(bufioReader(strings.NewReader("+OK\r\n*1\r\n*1\r\n:1\r\n")))
	if err := r.ReadOK(); err != nil {
		t.Fatalf("ReadOK after Reset: %v", err)
	}
	var pe *ProtocolError
	if _, err := r.ReadValue(); !errors.As(err, &pe) {
		t.Fatalf("Reset lost the depth limit: %v", err)
	}
}

// A map's element count, twice its declared pair count, fits in an int on
// 32-bit platforms too, whatever MaxElements is set to.
func TestMaxElementsCapFitsMapsIn32Bits(t *testing.T) {
	if 2*maxElementsCap > math.MaxInt32 {
		t.Fatalf("2*maxElementsCap = %d overflows int32", 2*maxElementsCap)
	}
	r := NewReader(bufio.NewReader(strings.NewReader("%1073741824\r\n")), Limits{MaxElements: 1<<31 - 1})
	if _, err := r.ReadValue(); !errors.As(err, new(*ProtocolError)) {
		t.Fatalf("map of 1<<30 pairs then EOF: %v, want a protocol error", err)
	}
}
