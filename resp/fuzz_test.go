package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// fuzzLimits are small, so fuzzed inputs reach every limit.
var fuzzLimits = Limits{MaxBulkLen: 1 << 12, MaxElements: 16, MaxDepth: 6}

// addSeeds seeds the corpus with every reply type, every error and malformed form from
// the tables, the hostile lengths and the writer's output.
func addSeeds(f *testing.F) {
	for _, tc := range validReplies {
		f.Add([]byte(tc.in))
	}
	for _, tc := range errorReplies {
		f.Add([]byte(tc.in))
	}
	for _, tc := range malformedReplies {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	for _, in := range hostileInputs {
		if len(in) < 1000 {
			f.Add([]byte(in))
		}
	}
	for _, v := range roundTripValues {
		if wire := AppendValue(nil, v); len(wire) < 1000 {
			f.Add(wire)
		}
	}
	f.Add(AppendCommand(nil, "SET", "k", "v", "EX", "60"))
	f.Add([]byte(">2\r\n+message\r\n$2\r\nhi\r\n$5\r\nhello\r\n"))
	f.Add([]byte("|1\r\n+a\r\n+b\r\n$5\r\nhello\r\n"))
}

// fuzzReader returns a Reader over data with a tiny buffer, the source, the bufio
// reader (to count consumed bytes) and the pushes it delivers.
func fuzzReader(data []byte) (*Reader, *bytes.Reader, *bufio.Reader, *[]Value) {
	src := bytes.NewReader(data)
	br := bufio.NewReaderSize(src, 16)
	r := NewReader(br, fuzzLimits)
	pushes := new([]Value)
	r.SetPushHandler(func(v Value) { *pushes = append(*pushes, v) })
	return r, src, br, pushes
}

// consumed reports how many bytes of data the reader has taken.
func consumed(data []byte, src *bytes.Reader, br *bufio.Reader) int {
	return len(data) - src.Len() - br.Buffered()
}

// checkLimits fails when v breaks fuzzLimits at the given depth.
func checkLimits(t *testing.T, v Value, depth int) {
	t.Helper()
	switch v.Type {
	case TypeArray, TypeSet, TypePush, TypeMap:
		if !v.Null && depth > fuzzLimits.MaxDepth {
			t.Fatalf("aggregate at depth %d beyond MaxDepth %d", depth, fuzzLimits.MaxDepth)
		}
	}
	maxElems := int(fuzzLimits.MaxElements)
	if v.Type == TypeMap {
		maxElems *= 2
	}
	if len(v.Elems) > maxElems {
		t.Fatalf("%s with %d elements beyond the limit", v.Type, len(v.Elems))
	}
	if int64(len(v.Attrs)) > 2*fuzzLimits.MaxElements {
		t.Fatalf("%d attribute elements beyond the limit", len(v.Attrs))
	}
	if int64(len(v.Str)) > fuzzLimits.MaxBulkLen+lineSlack {
		t.Fatalf("string of %d bytes beyond the limit", len(v.Str))
	}
	for _, e := range v.Elems {
		checkLimits(t, e, depth+1)
	}
	for _, e := range v.Attrs {
		checkLimits(t, e, depth+1)
	}
}

// checkErrorKind fails when err is not one of the errors the Reader may return.
func checkErrorKind(t *testing.T, err error) {
	t.Helper()
	var pe *ProtocolError
	var se Error
	var ue *UnexpectedError
	inSync := false
	switch {
	case err == nil, errors.As(err, &se), errors.As(err, &ue):
		inSync = true
	case err == io.EOF, errors.As(err, &pe):
	default:
		t.Fatalf("unexpected error %T: %v", err, err)
	}
	if Usable(err) != inSync {
		t.Fatalf("Usable(%v) = %v, want %v", err, !inSync, inSync)
	}
}

func FuzzReadValue(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, src, br, pushes := fuzzReader(data)
		v, err := r.ReadValue()
		checkErrorKind(t, err)
		checkLimits(t, v, 1)
		for _, p := range *pushes {
			checkLimits(t, p, 1)
		}
		var ue *UnexpectedError
		if errors.As(err, &ue) {
			t.Fatalf("ReadValue returned %v", err)
		}
		if !Usable(err) {
			return
		}
		// Resync: the same reply followed by +NEXT reads the same, then NEXT.
		n := consumed(data, src, br)
		again := append(bytes.Clone(data[:n]), "+NEXT\r\n"...)
		r2, _, _, pushes2 := fuzzReader(again)
		v2, err2 := r2.ReadValue()
		if err2 != err || !equalValue(v2, v) || len(*pushes2) != len(*pushes) {
			t.Fatalf("re-read of %q: %s, %v; first read %s, %v", data[:n], show(v2), err2, show(v), err)
		}
		if next, err := r2.ReadValue(); err != nil || !equalValue(next, simple("NEXT")) {
			t.Fatalf("after %q: %s, %v; want NEXT", data[:n], show(next), err)
		}
		if err != nil {
			return
		}
		// Round trip: what the writer makes of v reads back to the same wire bytes.
		wire := AppendValue(nil, v)
		r3 := NewReader(bufio.NewReader(bytes.NewReader(wire)), Limits{})
		v3, err := r3.ReadValue()
		if err != nil {
			t.Fatalf("re-reading AppendValue output %q: %v", wire, err)
		}
		if wire2 := AppendValue(nil, v3); !bytes.Equal(wire, wire2) {
			t.Fatalf("round trip changed %q into %q", wire, wire2)
		}
	})
}

func FuzzReadBulk(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, src, br, pushes := fuzzReader(data)
		dst := make([]byte, 0, 64)
		b, null, err := r.ReadBulk(dst)
		checkErrorKind(t, err)
		if int64(len(b)) > fuzzLimits.MaxBulkLen {
			t.Fatalf("ReadBulk returned %d bytes beyond the limit", len(b))
		}
		if err != nil && len(b) != 0 {
			t.Fatalf("ReadBulk returned %d bytes with error %v", len(b), err)
		}
		if null && len(b) != 0 {
			t.Fatalf("null with %d bytes", len(b))
		}
		for _, p := range *pushes {
			checkLimits(t, p, 1)
		}
		if !Usable(err) {
			return
		}
		n := consumed(data, src, br)
		again := append(bytes.Clone(data[:n]), "+NEXT\r\n"...)
		r2, _, _, _ := fuzzReader(again)
		b2, null2, err2 := r2.ReadBulk(nil)
		if !bytes.Equal(b, b2) || null != null2 || Usable(err2) != Usable(err) {
			t.Fatalf("re-read of %q: %q, %v, %v; first read %q, %v, %v", data[:n], b2, null2, err2, b, null, err)
		}
		if next, err := r2.ReadValue(); err != nil || !equalValue(next, simple("NEXT")) {
			t.Fatalf("after %q: %s, %v; want NEXT", data[:n], show(next), err)
		}
		// ReadValue agrees with the fast path on the same bytes.
		if err == nil {
			r3, _, _, _ := fuzzReader(data[:n])
			v, err3 := r3.ReadValue()
			if err3 == nil && (v.Null != null || (!null && (v.Type != TypeBulkString || v.Str != string(b)))) {
				t.Fatalf("ReadValue of %q = %s, ReadBulk = %q, null %v", data[:n], show(v), b, null)
			}
		}
	})
}
