package resp

import (
	"math"
	"strings"
	"testing"
)

func TestAppendWritesExactBytes(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"command", AppendCommand(nil, "SET", "key", "value", "EX", "60"),
			"*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n$2\r\nEX\r\n$2\r\n60\r\n"},
		{"command without args", AppendCommand(nil), "*0\r\n"},
		{"command with empty arg", AppendCommand(nil, "GET", ""), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"},
		{"appends to dst", AppendCommand([]byte("x"), "PING"), "x*1\r\n$4\r\nPING\r\n"},
		{"array", AppendArray(nil, 3), "*3\r\n"},
		{"bulk string", AppendBulkString(nil, "a\r\nb"), "$4\r\na\r\nb\r\n"},
		{"bulk", AppendBulk(nil, []byte("hello")), "$5\r\nhello\r\n"},
		{"nil bulk", AppendBulk(nil, nil), "$0\r\n\r\n"},
		{"bulk int", AppendBulkInt(nil, 60), "$2\r\n60\r\n"},
		{"bulk int zero", AppendBulkInt(nil, 0), "$1\r\n0\r\n"},
		{"bulk int negative", AppendBulkInt(nil, -5), "$2\r\n-5\r\n"},
		{"bulk int min", AppendBulkInt(nil, math.MinInt64), "$20\r\n-9223372036854775808\r\n"},
		{"null bulk", AppendValue(nil, Value{Type: TypeBulkString, Null: true}), "$-1\r\n"},
		{"null array", AppendValue(nil, Value{Type: TypeArray, Null: true}), "*-1\r\n"},
		{"null", AppendValue(nil, Value{Type: TypeNull, Null: true}), "_\r\n"},
		{"unknown type", AppendValue(nil, Value{Type: 'Z'}), "_\r\n"},
		{"simple string with CRLF", AppendValue(nil, simple("a\r\nb")), "+a  b\r\n"},
		{"error", AppendValue(nil, Value{Type: TypeError, Str: "ERR x\ny"}), "-ERR x y\r\n"},
		{"double", AppendValue(nil, double("", 1.5)), ",1.5\r\n"},
		{"double inf", AppendValue(nil, double("", math.Inf(1))), ",inf\r\n"},
		{"double -inf", AppendValue(nil, double("", math.Inf(-1))), ",-inf\r\n"},
		{"double nan", AppendValue(nil, double("", math.NaN())), ",nan\r\n"},
		{"verbatim default format", AppendValue(nil, Value{Type: TypeVerbatim, Str: "hi"}), "=6\r\ntxt:hi\r\n"},
		{"map odd elems", AppendValue(nil, agg(TypeMap, simple("k"), simple("v"), simple("x"))), "%1\r\n+k\r\n+v\r\n"},
		{"attrs first", AppendValue(nil, Value{Type: TypeInteger, Int: 1, Attrs: []Value{simple("a"), simple("b")}}),
			"|1\r\n+a\r\n+b\r\n:1\r\n"},
	}
	for _, tc := range tests {
		if string(tc.got) != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// roundTripValues are values AppendValue writes and ReadValue must read back unchanged.
// Doubles carry the text AppendValue writes, since Str is what arrived on the wire.
var roundTripValues = []Value{
	simple("OK"),
	simple(""),
	integer(0),
	integer(math.MaxInt64),
	integer(math.MinInt64),
	bulk(""),
	bulk("binary\r\n\x00\xff"),
	bulk(strings.Repeat("z", 70000)),
	{Type: TypeBulkString, Null: true},
	{Type: TypeArray, Null: true},
	{Type: TypeNull, Null: true},
	{Type: TypeBoolean, Bool: true},
	{Type: TypeBoolean},
	double("1.5", 1.5),
	double("-0.001", -0.001),
	double("1e+300", 1e300),
	double("inf", math.Inf(1)),
	double("-inf", math.Inf(-1)),
	double("nan", math.NaN()),
	{Type: TypeBigNumber, Str: "-3492890328409238509324850943850943825024385"},
	{Type: TypeVerbatim, Format: "mkd", Str: "# title\r\nbody"},
	{Type: TypeSet, Elems: []Value{simple("a"), integer(2)}},
	agg(TypeArray),
	agg(TypeMap),
	agg(TypeArray, bulk("a"), agg(TypeArray, integer(1), Value{Type: TypeError, Str: "ERR nested"}),
		Value{Type: TypeBulkError, Str: "ERR bulk\r\nnested"}, Value{Type: TypeBulkString, Null: true}),
	agg(TypeMap, simple("k1"), agg(TypeSet, integer(1)), bulk("k2"), Value{Type: TypeNull, Null: true}),
	{Type: TypeInteger, Int: 7, Attrs: []Value{simple("ttl"), integer(3)}},
	agg(TypeArray, Value{Type: TypeBoolean, Bool: true, Attrs: []Value{bulk("a"), agg(TypeMap, bulk("b"), double("2", 2))}}),
}

func TestAppendValueRoundTrips(t *testing.T) {
	for _, size := range bufSizes {
		for _, want := range roundTripValues {
			wire := AppendValue(nil, want)
			got, err := newTestReader(string(wire), size, Limits{}, nil).ReadValue()
			if err != nil || !equalValue(got, want) {
				t.Errorf("round trip of %q: got %s, %v; want %s", wire, show(got), err, show(want))
			}
		}
	}
}

func TestAppendValueOfPushAndErrorsRoundTrip(t *testing.T) {
	push := agg(TypePush, simple("message"), bulk("ch"), bulk("payload"))
	wire := AppendValue(nil, push)
	wire = AppendValue(wire, Value{Type: TypeError, Str: "MOVED 1 h:1"})
	wire = AppendValue(wire, Value{Type: TypeBulkError, Str: "ASK 2 h:2"})
	wire = AppendValue(wire, simple("NEXT"))
	var pushes []Value
	r := newTestReader(string(wire), 0, Limits{}, &pushes)
	for _, want := range []Error{{Kind: "MOVED", Msg: "MOVED 1 h:1"}, {Kind: "ASK", Msg: "ASK 2 h:2"}} {
		if _, err := r.ReadValue(); err != want {
			t.Errorf("ReadValue: %#v, want %#v", err, want)
		}
	}
	if v, err := r.ReadValue(); err != nil || v.Str != "NEXT" {
		t.Errorf("ReadValue = %s, %v; want NEXT", show(v), err)
	}
	if len(pushes) != 1 || !equalValue(pushes[0], push) {
		t.Errorf("pushes = %v, want [%s]", pushes, show(push))
	}
}

func TestAppendCommandRoundTrips(t *testing.T) {
	commands := [][]string{
		{"PING"},
		{"SET", "sessionx:abc", `{"id":"abc","values":{"k":"v"}}`, "EX", "86400"},
		{"GET", ""},
		{"HELLO", "3", "AUTH", "user", "p\r\nass"},
		{},
	}
	for _, args := range commands {
		wire := AppendCommand(nil, args...)
		got, err := newTestReader(string(wire), 16, Limits{}, nil).ReadValue()
		if err != nil || got.Type != TypeArray || len(got.Elems) != len(args) {
			t.Errorf("AppendCommand(%q) read back as %s, %v", args, show(got), err)
			continue
		}
		for i, a := range args {
			if !equalValue(got.Elems[i], bulk(a)) {
				t.Errorf("AppendCommand(%q) arg %d read back as %s", args, i, show(got.Elems[i]))
			}
		}
	}
}
