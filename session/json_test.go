package session

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"runtime/debug"
	"testing"
	"time"
)

// stdMarshal encodes s with encoding/json alone.
func stdMarshal(s *Session) ([]byte, error) {
	return json.Marshal((*plainSession)(s))
}

// stdUnmarshal decodes data into s with encoding/json alone, through a
// method-less type named Session as UnmarshalJSON's fallback uses, so that
// error messages compare equal.
func stdUnmarshal(data []byte, s *Session) error {
	type Session plainSession
	return json.Unmarshal(data, (*Session)(s))
}

// checkMarshal fails t unless MarshalJSON, json.Marshal of a Session and of
// a *Session all agree with encoding/json on the method-less type.
func checkMarshal(t *testing.T, s Session) {
	t.Helper()
	want, wantErr := stdMarshal(&s)
	got, err := s.MarshalJSON()
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("MarshalJSON = %q, %v; encoding/json = %q, %v", got, err, want, wantErr)
	}
	if err != nil {
		return
	}
	viaValue, err1 := json.Marshal(s)
	viaPtr, err2 := json.Marshal(&s)
	if err1 != nil || err2 != nil || !bytes.Equal(viaValue, want) || !bytes.Equal(viaPtr, want) {
		t.Fatalf("json.Marshal(s) = %q, %v; json.Marshal(&s) = %q, %v; want %q", viaValue, err1, viaPtr, err2, want)
	}
}

// checkUnmarshal fails t unless UnmarshalJSON and json.Unmarshal through it
// agree with encoding/json on the method-less type, starting from copies
// of start: the same error or none, and deeply equal results.
func checkUnmarshal(t *testing.T, data []byte, start func() Session) {
	t.Helper()
	want := start()
	wantErr := stdUnmarshal(data, &want)
	got := start()
	err := got.UnmarshalJSON(data)
	if !sameError(err, wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("UnmarshalJSON(%q) = %#v, %v; encoding/json = %#v, %v", data, got, err, want, wantErr)
	}
	via := start()
	viaErr := json.Unmarshal(data, &via)
	if (viaErr != nil) != (wantErr != nil) || !reflect.DeepEqual(via, want) {
		t.Fatalf("json.Unmarshal(%q) = %#v, %v; encoding/json = %#v, %v", data, via, viaErr, want, wantErr)
	}
}

// sameError reports whether two errors are both nil or have the same type
// and text.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return reflect.TypeOf(a) == reflect.TypeOf(b) && a.Error() == b.Error()
}

// testTime is a time with nanoseconds in a fixed zone.
var testTime = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 2*3600+30*60))

// realisticSession is the session the benchmarks encode and decode: six
// Data entries, about 300 bytes of JSON.
func realisticSession() Session {
	t := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	return Session{
		ID: "q1Jx7VbW3kR9mN2pL5sT8uY4zA6cE0gH",
		Data: map[string]interface{}{
			"user_id":  "u-84b2c1",
			"name":     "Ada Lovelace",
			"role":     "admin",
			"score":    42.5,
			"verified": true,
			"prefs":    map[string]interface{}{"theme": "dark", "lang": "en-GB"},
		},
		CreatedAt: t,
		UpdatedAt: t.Add(90 * time.Second),
		RotatedAt: t,
	}
}

type textKey string

type customMarshaler struct{ v int }

func (c customMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(` { "v" : ` + string(rune('0'+c.v)) + ` } `), nil
}

func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	str := "x"
	cyclic := map[string]interface{}{}
	cyclic["self"] = cyclic
	tests := []struct {
		name string
		sess Session
	}{
		{"zero", Session{}},
		{"empty data", Session{ID: "a", Data: map[string]interface{}{}}},
		{"realistic", realisticSession()},
		{"zoned times", Session{CreatedAt: testTime, UpdatedAt: testTime.Local(), RotatedAt: time.Unix(0, 1)}},
		{"escapes", Session{ID: "<a&b>\"\\/\b\f\n\r\t\x00\x1f\x7f", Data: map[string]interface{}{
			"\u2028\u2029": "bad\xffutf8\xe2\x80", "é😀": "ok", "<k>": "\xed\xa0\x80",
		}}},
		{"floats", Session{Data: map[string]interface{}{
			"a": 0.0, "b": math.Copysign(0, -1), "c": 1e-6, "d": 9.99e-7, "e": 1e21, "f": 1e20,
			"g": 5e-324, "h": math.MaxFloat64, "i": -1.5e-9, "j": 123456789.125, "k": 1e-10,
			"l": float32(1e-6), "m": float32(9.99e-7), "n": float32(1e21), "o": float32(3.4e38),
			"p": float32(0.1), "q": float32(math.Copysign(0, -1)),
		}}},
		{"integers", Session{Data: map[string]interface{}{
			"a": int(-1), "b": int8(-128), "c": int16(300), "d": int32(-7), "e": int64(math.MinInt64),
			"f": uint(1), "g": uint8(255), "h": uint16(65535), "i": uint32(1 << 31), "j": uint64(math.MaxUint64),
			"k": uintptr(9),
		}}},
		{"nested", Session{Data: map[string]interface{}{
			"m":      map[string]interface{}{"z": nil, "a": []interface{}{1.0, "s", false, nil, []interface{}{}, map[string]interface{}{}}},
			"nilmap": map[string]interface{}(nil), "nilslice": []interface{}(nil),
			"ss": []string{"a", "<"}, "nilss": []string(nil), "ms": map[string]string{"b": "1", "a": "2"},
			"nilms": map[string]string(nil), "t": testTime, "b": true,
		}}},
		{"fallback kinds", Session{Data: map[string]interface{}{
			"bytes": []byte("hi"), "num": json.Number("12.50"), "ptr": &str, "struct": struct{ A int }{1},
			"custom": customMarshaler{3}, "textkey": map[textKey]int{"b": 1, "a": 2},
			"intkeys": map[int]string{10: "x", 9: "y"}, "raw": json.RawMessage(` [1, 2] `),
			"sess": &Session{ID: "inner"}, "ints": []int{1, 2},
		}}},
		{"deep", Session{Data: map[string]interface{}{"d": deepValue(150)}}},
		{"nan", Session{Data: map[string]interface{}{"x": math.NaN()}}},
		{"inf32", Session{Data: map[string]interface{}{"x": float32(math.Inf(-1))}}},
		{"cycle", Session{Data: cyclic}},
		{"unsupported", Session{Data: map[string]interface{}{"c": make(chan int)}}},
		{"year 10000", Session{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"year -1", Session{UpdatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"offset 24h", Session{RotatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))}},
		{"offset -23:59", Session{RotatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", -(23*3600+59*60)))}},
		{"offset 100h", Session{RotatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", 100*3600))}},
		{"time in data out of range", Session{Data: map[string]interface{}{"t": time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkMarshal(t, tt.sess) })
	}
}

// deepValue returns n nested one-element arrays around a map.
func deepValue(n int) interface{} {
	var v interface{} = map[string]interface{}{"leaf": 1.0}
	for range n {
		v = []interface{}{v}
	}
	return v
}

func TestUnmarshalJSONMatchesEncodingJSON(t *testing.T) {
	realistic, _ := stdMarshal(new(realisticSession()))
	tests := []struct {
		name string
		data string
	}{
		{"realistic", string(realistic)},
		{"empty object", `{}`},
		{"white space", " \t\r\n{ \"ID\" : \"a\" , \"Data\" : { \"k\" : [ 1 , 2 ] } } \n"},
		{"null", `null`},
		{"case-insensitive names", `{"id":"a","DATA":{"x":1},"createdat":"2024-01-02T03:04:05Z","uPdAtEdAt":"2024-01-02T03:04:05.5+01:00","ROTATEDAT":"2024-01-02T03:04:05-07:30"}`},
		{"escaped name", `{"\u0049D":"a"}`},
		{"non-ASCII look-alike names", `{"İD":"a","ıd":"b","ID\u0000":"c"}`},
		{"unknown fields", `{"Other":{"a":[1,{"b":null}]},"ID":"a","x":true}`},
		{"duplicates last wins", `{"ID":"a","ID":"b","id":"c","CreatedAt":"2024-01-02T03:04:05Z","CreatedAt":"2025-01-02T03:04:05Z"}`},
		{"data merged", `{"Data":{"a":1,"b":2},"Data":{"b":3,"c":4}}`},
		{"data null then object", `{"Data":{"a":1},"Data":null,"Data":{"c":4}}`},
		{"data null", `{"Data":null}`},
		{"nulls keep fields", `{"ID":null,"CreatedAt":null,"UpdatedAt":null,"RotatedAt":null}`},
		{"empty data", `{"Data":{}}`},
		{"values", `{"Data":{"s":"x","t":true,"f":false,"n":null,"a":[],"o":{},"num":-0.5e+3,"z":-0,"e":1E-400,"big":12345678901234567890}}`},
		{"string escapes", `{"ID":"a\"\\\/\b\f\n\r\t\u00e9\u2028\ud83d\ude00","Data":{"lone":"\ud800x","low":"\udc00","pair bad":"\ud800\u0041","two high":"\ud800\ud800\udc00"}}`},
		{"invalid utf-8", "{\"ID\":\"a\xffb\",\"Data\":{\"k\xc3\":\"\xed\xa0\x80\"}}"},
		{"raw separators", "{\"ID\":\"\u2028\"}"},
		{"deep", `{"Data":{"d":` + deepJSON(300) + `}}`},
		// Errors.
		{"number too large", `{"Data":{"x":1e400}}`},
		{"wrong type ID", `{"ID":5,"Data":{"a":1}}`},
		{"wrong type data", `{"Data":[1],"ID":"b"}`},
		{"wrong type time", `{"ID":"a","CreatedAt":5}`},
		{"bad time", `{"ID":"a","CreatedAt":"2024-13-01T00:00:00Z","Data":{"a":1}}`},
		{"escaped time", `{"CreatedAt":"2024-01-02T03:04:05\u005a"}`},
		{"array", `[]`},
		{"string", `"x"`},
		{"empty", ``},
		{"trailing garbage", `{}x`},
		{"two objects", `{}{}`},
		{"trailing comma", `{"ID":"a",}`},
		{"missing colon", `{"ID" "a"}`},
		{"unterminated", `{"ID":"a`},
		{"control character", "{\"ID\":\"a\nb\"}"},
		{"bad escape", `{"ID":"\x"}`},
		{"short unicode escape", `{"ID":"\u12"}`},
		{"leading zero", `{"Data":{"x":01}}`},
		{"bare dot", `{"Data":{"x":1.}}`},
		{"plus sign", `{"Data":{"x":+1}}`},
		{"bad literal", `{"Data":{"x":tru}}`},
		{"single quotes", `{'ID':'a'}`},
		{"too deep", `{"Data":{"d":` + deepJSON(10001) + `}}`},
	}
	starts := map[string]func() Session{
		"zero": func() Session { return Session{} },
		"filled": func() Session {
			return Session{ID: "old", Data: map[string]interface{}{"keep": "me", "b": "old"}, CreatedAt: testTime}
		},
	}
	for _, tt := range tests {
		for name, start := range starts {
			t.Run(tt.name+"/"+name, func(t *testing.T) { checkUnmarshal(t, []byte(tt.data), start) })
		}
	}
}

// deepJSON returns n nested arrays around an object.
func deepJSON(n int) string {
	return string(bytes.Repeat([]byte("["), n)) + `{"a":1}` + string(bytes.Repeat([]byte("]"), n))
}

func TestUnmarshalJSONErrorTypes(t *testing.T) {
	var s Session
	var syntax *json.SyntaxError
	if err := s.UnmarshalJSON([]byte(`{"ID":}`)); !errors.As(err, &syntax) {
		t.Errorf("invalid JSON: error %T %v, want *json.SyntaxError", err, err)
	}
	var typ *json.UnmarshalTypeError
	if err := s.UnmarshalJSON([]byte(`{"ID":1}`)); !errors.As(err, &typ) || typ.Field != "ID" || typ.Struct != "Session" {
		t.Errorf("number for ID: error %T %v, want *json.UnmarshalTypeError on Session.ID", err, err)
	}
}

func TestUnmarshalJSONDoesNotAliasInput(t *testing.T) {
	data := []byte(`{"ID":"abc","Data":{"k":"v"}}`)
	var s Session
	if err := s.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	if s.ID != "abc" || s.Data["k"] != "v" {
		t.Fatalf("decoded session changed with its input: %#v", s)
	}
}

func TestJSONAllocations(t *testing.T) {
	if raceBuild() {
		t.Log("allocation counts differ under the race detector: scripts/test.sh runs this test again without it")
		return
	}
	s := realisticSession()
	data, _ := s.MarshalJSON()
	enc := testing.AllocsPerRun(100, func() { _, _ = s.MarshalJSON() })
	dec := testing.AllocsPerRun(100, func() {
		var d Session
		_ = d.UnmarshalJSON(data)
	})
	// The result is the one allocation of an encoding; a decoding allocates
	// its copy of the input, the maps and the boxed values.
	if enc > 1 || dec > 12 {
		t.Errorf("allocations: encode %v (want <= 1), decode %v (want <= 12)", enc, dec)
	}
}

// raceBuild reports whether the test binary runs with the race detector,
// under which sync.Pool drops items and allocation counts rise.
func raceBuild() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// fuzzReader turns fuzz bytes into Go values for FuzzSessionJSON.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) uint64() uint64 {
	var buf [8]byte
	n := copy(buf[:], r.b)
	r.b = r.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

func (r *fuzzReader) string() string {
	n := min(int(r.byte()%32), len(r.b))
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// interestingFloats are values at encoding/json's format boundaries.
var interestingFloats = []float64{
	0, math.Copysign(0, -1), 1e-6, math.Nextafter(1e-6, 0), 1e21, math.Nextafter(1e21, 0),
	5e-324, math.MaxFloat64, -1e-7, 1e-9, 1.5e300, 0.1, 100, math.Inf(1), math.NaN(),
}

func (r *fuzzReader) time() time.Time {
	t := time.Unix(int64(r.uint64()%(1<<38))-1<<37, int64(r.uint64()%1e9))
	switch r.byte() % 4 {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("", int(int16(r.uint64()))*60))
	case 2:
		return t.Local()
	}
	return t
}

func (r *fuzzReader) value(depth int) interface{} {
	op := r.byte()
	if depth > 4 {
		op %= 8
	}
	switch op % 20 {
	case 0:
		return nil
	case 1:
		return op&0x80 != 0
	case 2, 3:
		return r.string()
	case 4:
		return math.Float64frombits(r.uint64())
	case 5:
		return interestingFloats[int(r.byte())%len(interestingFloats)] * float64(int(r.byte()%5)-2)
	case 6:
		return math.Float32frombits(uint32(r.uint64()))
	case 7:
		return int64(r.uint64())
	case 8:
		return uint64(r.uint64())
	case 9:
		return int(int32(r.uint64()))
	case 10, 11:
		return r.object(depth + 1)
	case 12:
		n := int(r.byte() % 5)
		a := make([]interface{}, n)
		for i := range a {
			a[i] = r.value(depth + 1)
		}
		if n == 0 && op&0x80 != 0 {
			return []interface{}(nil)
		}
		return a
	case 13:
		return []string{r.string(), r.string()}
	case 14:
		return map[string]string{r.string(): r.string(), r.string(): r.string()}
	case 15:
		return r.time()
	case 16:
		return json.Number(r.string())
	case 17:
		return []byte(r.string())
	case 18:
		return uint8(r.byte())
	}
	return float32(interestingFloats[int(r.byte())%len(interestingFloats)])
}

func (r *fuzzReader) object(depth int) map[string]interface{} {
	n := int(r.byte() % 7)
	if n == 6 {
		return nil
	}
	m := make(map[string]interface{}, n)
	for range n {
		m[r.string()] = r.value(depth)
	}
	return m
}

// FuzzSessionJSON checks the hand-written JSON methods against
// encoding/json: a Session built from the fuzz bytes must encode to the
// same bytes (or fail alike), and the fuzz bytes read as JSON, as well as
// the encoding, must decode to the same value and error.
func FuzzSessionJSON(f *testing.F) {
	realistic, _ := stdMarshal(new(realisticSession()))
	for _, seed := range []string{
		string(realistic), `{}`, `null`, `{"id":"a","data":{"x":[1,"\ud83d\ude00",{"y":null}]}}`,
		`{"Data":{"a":1},"Data":null,"Data":{"b":-0.0e-7}}`, `{"ID":"\u00e9\ud800"}`, "{\"ID\":\"\xff\"}",
		`{"CreatedAt":"2024-01-02T03:04:05.123+05:30"}`, `{"ID":5}`, `{"Data":{"x":1e400}}`,
		"\x0a\x03abc\x05\x00\x00\x00\x00\x00\x00\xf0\x7f", "\x0b\x04\x02\x03<&>\x0f\x01\x02\x03\x04\x05",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		starts := [...]func() Session{
			func() Session { return Session{} },
			func() Session { return Session{ID: "old", Data: map[string]interface{}{"b": 1.0}} },
		}
		for _, start := range starts {
			checkUnmarshal(t, raw, start)
		}

		r := &fuzzReader{b: raw}
		s := Session{ID: r.string(), CreatedAt: r.time(), UpdatedAt: r.time(), RotatedAt: r.time()}
		s.Data = r.object(0)
		checkMarshal(t, s)
		if enc, err := s.MarshalJSON(); err == nil {
			for _, start := range starts {
				checkUnmarshal(t, enc, start)
			}
		}
	})
}

func BenchmarkSessionJSON(b *testing.B) {
	s := realisticSession()
	data, _ := s.MarshalJSON()
	b.Logf("%d bytes: %s", len(data), data)
	b.Run("Encode/fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Encode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stdMarshal(&s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Encode/json.Marshal-via-method", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode/fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d Session
			if err := d.UnmarshalJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d Session
			if err := json.Unmarshal(data, (*plainSession)(&d)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode/json.Unmarshal-via-method", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d Session
			if err := json.Unmarshal(data, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
