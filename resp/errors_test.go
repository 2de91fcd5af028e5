package resp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestRedirectParsesMovedAndAsk(t *testing.T) {
	tests := []struct {
		msg  string
		slot int
		addr string
		ok   bool
	}{
		{"MOVED 3999 127.0.0.1:6381", 3999, "127.0.0.1:6381", true},
		{"ASK 0 [::1]:7000", 0, "[::1]:7000", true},
		{"MOVED 16383 :6380", 16383, ":6380", true},
		{"MOVED 16384 127.0.0.1:6381", 0, "", false},
		{"MOVED -1 127.0.0.1:6381", 0, "", false},
		{"MOVED x 127.0.0.1:6381", 0, "", false},
		{"MOVED 3999", 0, "", false},
		{"MOVED 3999 a b", 0, "", false},
		{"ERR MOVED 3999 127.0.0.1:6381", 0, "", false},
		{"TRYAGAIN Multiple keys request during rehashing of slot", 0, "", false},
		{"", 0, "", false},
	}
	for _, tc := range tests {
		slot, addr, ok := newError(tc.msg).Redirect()
		if slot != tc.slot || addr != tc.addr || ok != tc.ok {
			t.Errorf("Redirect(%q) = %d, %q, %v; want %d, %q, %v", tc.msg, slot, addr, ok, tc.slot, tc.addr, tc.ok)
		}
	}
}

func TestErrorKindIsTheFirstWord(t *testing.T) {
	for _, kind := range []string{"ERR", "WRONGTYPE", "MOVED", "ASK", "NOAUTH", "WRONGPASS", "NOPERM",
		"READONLY", "LOADING", "OOM", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "MISCONF", "NOPROTO"} {
		msg := kind + " something happened"
		e := newError(msg)
		if e.Kind != kind || e.Msg != msg || e.Error() != msg {
			t.Errorf("newError(%q) = %#v", msg, e)
		}
	}
}

func TestUsableSaysWhetherTheStreamIsInSync(t *testing.T) {
	proto := &ProtocolError{Reason: "bad"}
	tests := []struct {
		err  error
		want bool
	}{
		{nil, true},
		{Error{Kind: "ERR", Msg: "ERR x"}, true},
		{fmt.Errorf("store: %w", Error{Kind: "ERR"}), true},
		{&UnexpectedError{Got: TypeArray, Want: "integer"}, true},
		{fmt.Errorf("store: %w", &UnexpectedError{Got: TypeArray}), true},
		{proto, false},
		{fmt.Errorf("store: %w", proto), false},
		{io.EOF, false},
		{context.DeadlineExceeded, false},
		{errors.New("other"), false},
	}
	for _, tc := range tests {
		if got := Usable(tc.err); got != tc.want {
			t.Errorf("Usable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorTypesWorkWithErrorsAs(t *testing.T) {
	var err error = fmt.Errorf("wrapped: %w", Error{Kind: "OOM", Msg: "OOM command not allowed"})
	var e Error
	if !errors.As(err, &e) || e.Kind != "OOM" {
		t.Errorf("errors.As(Error) failed: %#v", e)
	}
	err = fmt.Errorf("wrapped: %w", &ProtocolError{Reason: "bad prefix"})
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Reason != "bad prefix" || pe.Error() != "resp: protocol error: bad prefix" {
		t.Errorf("errors.As(*ProtocolError) failed: %v", pe)
	}
	err = fmt.Errorf("wrapped: %w", &UnexpectedError{Got: TypeMap, Want: "+OK"})
	var ue *UnexpectedError
	if !errors.As(err, &ue) || ue.Got != TypeMap {
		t.Errorf("errors.As(*UnexpectedError) failed: %v", ue)
	}
}

func TestTypeStringNamesEveryType(t *testing.T) {
	types := []Type{TypeSimpleString, TypeError, TypeInteger, TypeBulkString, TypeArray, TypeNull,
		TypeBoolean, TypeDouble, TypeBigNumber, TypeBulkError, TypeVerbatim, TypeMap, TypeSet,
		TypeAttribute, TypePush}
	seen := map[string]bool{}
	for _, typ := range types {
		s := typ.String()
		if seen[s] || len(s) < 3 {
			t.Errorf("Type(%q).String() = %q, duplicate or too short", byte(typ), s)
		}
		seen[s] = true
	}
	if got := Type('Z').String(); got != `type "Z"` {
		t.Errorf("unknown type String() = %q", got)
	}
}
