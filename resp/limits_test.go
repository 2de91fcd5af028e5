package resp

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hostileInputs declare far more than they send, then end.
var hostileInputs = []string{
	"$536870911\r\n",
	"$536870912\r\n",
	"$536870911\r\n" + strings.Repeat("x", 100<<10),
	"!536870911\r\n",
	"=536870911\r\n",
	"*1048576\r\n",
	"%1048576\r\n",
	"~1048576\r\n",
	">1048576\r\n",
	"|1048576\r\n",
	strings.Repeat("*1048576\r\n", 64),
	strings.Repeat("%1048576\r\n+k\r\n", 63),
	"*1048576\r\n" + strings.Repeat("$536870911\r\n", 1),
	"+" + strings.Repeat("a", 1<<20),
	"$18446744073709551615\r\n",
	"$99999999999999999999\r\n",
}

// TestHostileLengthsCostKilobytes checks that a declared length is not allocated up
// front: each hostile input followed by EOF may allocate at most a few MiB in total.
func TestHostileLengthsCostKilobytes(t *testing.T) {
	const bound = 4 << 20
	readers := map[string]func(r *Reader) error{
		"ReadValue": func(r *Reader) error { _, err := r.ReadValue(); return err },
		"ReadBulk":  func(r *Reader) error { _, _, err := r.ReadBulk(nil); return err },
	}
	for name, read := range readers {
		for _, in := range hostileInputs {
			r := newTestReader(in, 0, Limits{}, nil)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := read(r)
			runtime.ReadMemStats(&after)
			if Usable(err) {
				t.Errorf("%s(%.30q): %v, want an unusable error", name, in, err)
			}
			// The 1 MiB line is itself read into the line buffer; allow for it.
			limit := uint64(bound)
			if strings.HasPrefix(in, "+") {
				limit += uint64(len(in)) * 3
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > limit {
				t.Errorf("%s(%.30q): allocated %d bytes, want at most %d", name, in, grew, limit)
			}
		}
	}
}

func TestDeepNestingFailsFastWithoutRecursing(t *testing.T) {
	in := strings.Repeat("*1\r\n", 10000) + ":1\r\n"
	start := time.Now()
	_, err := newTestReader(in, 0, Limits{}, nil).ReadValue()
	var pe *ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "nesting deeper than 64") {
		t.Fatalf("10,000-deep arrays: %v, want a nesting *ProtocolError", err)
	}
	// Generous: the work is 65 lines; only a pathological implementation takes seconds.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("10,000-deep arrays took %v", d)
	}
	// A configured depth above the cap is lowered to it, keeping the stack bounded.
	in = strings.Repeat("*1\r\n", 100000)
	_, err = newTestReader(in, 0, Limits{MaxDepth: 1 << 30}, nil).ReadValue()
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "nesting deeper than 1000") {
		t.Fatalf("100,000-deep arrays with MaxDepth 1<<30: %v", err)
	}
}

func TestLongAttributeChainsDoNotRecurse(t *testing.T) {
	in := strings.Repeat("|0\r\n", 200000) + ":1\r\n"
	v, err := newTestReader(in, 0, Limits{}, nil).ReadValue()
	if err != nil || v.Int != 1 {
		t.Fatalf("ReadValue = %s, %v", show(v), err)
	}
	n, err := newTestReader(in, 0, Limits{}, nil).ReadInt()
	if err != nil || n != 1 {
		t.Fatalf("ReadInt = %d, %v", n, err)
	}
}

func TestScratchIsReleasedAfterAHugeReply(t *testing.T) {
	in := "$1000000\r\n" + strings.Repeat("x", 1000000) + "\r\n+" + strings.Repeat("y", 100000) + "\r\n+OK\r\n"
	r := newTestReader(in, 0, Limits{}, nil)
	if v, err := r.ReadValue(); err != nil || len(v.Str) != 1000000 {
		t.Fatalf("ReadValue: %v", err)
	}
	if v, err := r.ReadValue(); err != nil || len(v.Str) != 100000 {
		t.Fatalf("ReadValue: %v", err)
	}
	if cap(r.buf) > keepScratch || cap(r.long) > keepScratch {
		t.Errorf("scratch kept: buf %d, long %d bytes", cap(r.buf), cap(r.long))
	}
	if err := r.ReadOK(); err != nil {
		t.Fatalf("ReadOK: %v", err)
	}
}
