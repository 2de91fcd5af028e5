package resp

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// newTestReader returns a Reader over s with a bufio buffer of the given size (0 for
// the default), recording pushes in *pushes when pushes is not nil.
func newTestReader(s string, bufSize int, lim Limits, pushes *[]Value) *Reader {
	src := strings.NewReader(s)
	var br *bufio.Reader
	if bufSize > 0 {
		br = bufio.NewReaderSize(src, bufSize)
	} else {
		br = bufio.NewReader(src)
	}
	r := NewReader(br, lim)
	if pushes != nil {
		r.SetPushHandler(func(v Value) { *pushes = append(*pushes, v) })
	}
	return r
}

// bufSizes are the bufio buffer sizes every reader test runs with: the smallest bufio
// allows, so lines and bodies cross buffer boundaries, and the default.
var bufSizes = []int{16, 0}

// equalValue reports whether a and b are the same value, treating NaN as equal to NaN
// and nil and empty slices as equal.
func equalValue(a, b Value) bool {
	if a.Type != b.Type || a.Null != b.Null || a.Str != b.Str || a.Format != b.Format ||
		a.Int != b.Int || a.Bool != b.Bool || len(a.Elems) != len(b.Elems) || len(a.Attrs) != len(b.Attrs) {
		return false
	}
	if a.Float != b.Float && !(math.IsNaN(a.Float) && math.IsNaN(b.Float)) {
		return false
	}
	for i := range a.Elems {
		if !equalValue(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	for i := range a.Attrs {
		if !equalValue(a.Attrs[i], b.Attrs[i]) {
			return false
		}
	}
	return true
}

// show renders a value for failure messages.
func show(v Value) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{%s", v.Type)
	if v.Null {
		b.WriteString(" null")
	}
	if v.Str != "" || v.Format != "" {
		fmt.Fprintf(&b, " %q", v.Str)
	}
	if v.Format != "" {
		fmt.Fprintf(&b, " format=%q", v.Format)
	}
	if v.Int != 0 {
		fmt.Fprintf(&b, " int=%d", v.Int)
	}
	if v.Float != 0 {
		fmt.Fprintf(&b, " float=%g", v.Float)
	}
	if v.Bool {
		b.WriteString(" true")
	}
	for _, e := range v.Elems {
		b.WriteString(" " + show(e))
	}
	if len(v.Attrs) > 0 {
		b.WriteString(" attrs:")
		for _, e := range v.Attrs {
			b.WriteString(" " + show(e))
		}
	}
	b.WriteString("}")
	return b.String()
}

// Shorthands for expected values.
func simple(s string) Value { return Value{Type: TypeSimpleString, Str: s} }
func bulk(s string) Value   { return Value{Type: TypeBulkString, Str: s} }
func integer(n int64) Value { return Value{Type: TypeInteger, Int: n} }
func double(s string, f float64) Value {
	return Value{Type: TypeDouble, Str: s, Float: f}
}
func agg(t Type, elems ...Value) Value {
	if elems == nil {
		elems = []Value{}
	}
	return Value{Type: t, Elems: elems}
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
