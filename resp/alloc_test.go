package resp

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// replayReader serves the same bytes forever, so a benchmark or allocation test can
// read one reply per iteration from a single bufio.Reader.
type replayReader struct {
	data []byte
	off  int
}

func (r *replayReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

// replaying returns a Reader that reads reply again and again.
func replaying(reply string) *Reader {
	return NewReader(bufio.NewReader(&replayReader{data: []byte(reply)}), Limits{})
}

var bulk400 = "$400\r\n" + strings.Repeat("v", 400) + "\r\n"

func TestHotPathsAllocateNothing(t *testing.T) {
	buf := make([]byte, 0, 512)
	value := []byte(strings.Repeat("j", 200))
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendCommand(buf[:0], "SET", "sessionx:0123456789abcdef", "value", "EX", "86400")
	}); n != 0 {
		t.Errorf("AppendCommand: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendArray(buf[:0], 5)
		buf = AppendBulkString(buf, "SET")
		buf = AppendBulkString(buf, "sessionx:0123456789abcdef")
		buf = AppendBulk(buf, value)
		buf = AppendBulkString(buf, "EX")
		buf = AppendBulkInt(buf, 86400)
	}); n != 0 {
		t.Errorf("AppendArray+AppendBulk*: %v allocs, want 0", n)
	}

	r := replaying(bulk400)
	dst := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		b, null, err := r.ReadBulk(dst)
		if err != nil || null || len(b) != 400 {
			t.Fatalf("ReadBulk = %d bytes, %v, %v", len(b), null, err)
		}
	}); n != 0 {
		t.Errorf("ReadBulk of 400 bytes: %v allocs, want 0", n)
	}

	r = replaying("+OK\r\n")
	if n := testing.AllocsPerRun(100, func() {
		if err := r.ReadOK(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadOK: %v allocs, want 0", n)
	}

	r = replaying(":1234567\r\n")
	if n := testing.AllocsPerRun(100, func() {
		if v, err := r.ReadInt(); err != nil || v != 1234567 {
			t.Fatal(v, err)
		}
	}); n != 0 {
		t.Errorf("ReadInt: %v allocs, want 0", n)
	}

	r = replaying("$-1\r\n")
	if n := testing.AllocsPerRun(100, func() {
		if _, null, err := r.ReadBulk(dst); err != nil || !null {
			t.Fatal(null, err)
		}
	}); n != 0 {
		t.Errorf("ReadBulk of $-1: %v allocs, want 0", n)
	}
}

func BenchmarkAppendSetEx(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	value := []byte(strings.Repeat("j", 200))
	for b.Loop() {
		buf = AppendArray(buf[:0], 5)
		buf = AppendBulkString(buf, "SET")
		buf = AppendBulkString(buf, "sessionx:0123456789abcdef")
		buf = AppendBulk(buf, value)
		buf = AppendBulkString(buf, "EX")
		buf = AppendBulkInt(buf, 86400)
	}
}

func BenchmarkAppendCommandSetEx(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	value := strings.Repeat("j", 200)
	for b.Loop() {
		buf = AppendCommand(buf[:0], "SET", "sessionx:0123456789abcdef", value, "EX", "86400")
	}
}

func BenchmarkReadBulk400(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(bulk400)))
	r := replaying(bulk400)
	dst := make([]byte, 0, 512)
	for b.Loop() {
		var err error
		if dst, _, err = r.ReadBulk(dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadOK(b *testing.B) {
	b.ReportAllocs()
	r := replaying("+OK\r\n")
	for b.Loop() {
		if err := r.ReadOK(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadValueBulk400(b *testing.B) {
	b.ReportAllocs()
	r := replaying(bulk400)
	for b.Loop() {
		if _, err := r.ReadValue(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadValueMap(b *testing.B) {
	b.ReportAllocs()
	wire := AppendValue(nil, agg(TypeMap, bulk("server"), bulk("redis"), bulk("version"), bulk("7.2.4"),
		bulk("proto"), integer(3), bulk("id"), integer(12), bulk("mode"), bulk("standalone")))
	r := NewReader(bufio.NewReader(&replayReader{data: bytes.Clone(wire)}), Limits{})
	for b.Loop() {
		if _, err := r.ReadValue(); err != nil {
			b.Fatal(err)
		}
	}
}
