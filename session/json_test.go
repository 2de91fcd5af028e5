package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stdMarshal encodes s with encoding/json alone.
func stdMarshal(s *Session) ([]byte, error) {
	return json.Marshal((*plainSession)(s))
}

// stdUnmarshal decodes data into s with encoding/json alone, the behaviour
// UnmarshalJSON reproduces.
func stdUnmarshal(data []byte, s *Session) error {
	return json.Unmarshal(data, (*plainSession)(s))
}

// checkMarshal fails t unless MarshalJSON, json.Marshal of a Session and of
// a *Session all agree with encoding/json on the method-less type, and the
// encoding of Data the manager compares agrees with json.Marshal of Data.
// That json.Marshal(&s) returns MarshalJSON's bytes unchanged is what lets
// the manager call MarshalJSON instead.
func checkMarshal(t *testing.T, s Session) {
	t.Helper()
	checkMarshalData(t, s.Data)
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

// checkMarshalData fails t unless marshalData returns json.Marshal's bytes
// and error for data.
func checkMarshalData(t *testing.T, data map[string]interface{}) {
	t.Helper()
	want, wantErr := json.Marshal(data)
	got, err := marshalData(data)
	if !bytes.Equal(got, want) || !sameError(err, wantErr) {
		t.Fatalf("marshalData = %q, %v; json.Marshal = %q, %v", got, err, want, wantErr)
	}
}

// checkUnmarshal fails t unless UnmarshalJSON, and json.Unmarshal through
// it, agree with encoding/json on the method-less type, starting from
// copies of start: both accept data or both reject it, with deeply equal
// results, the same changes to the Data map the start held, and an error of
// the matching kind: *SyntaxError for encoding/json's *json.SyntaxError, a
// *TypeError (carrying time's own error where encoding/json returns that)
// otherwise.
func checkUnmarshal(t *testing.T, data []byte, start func() Session) {
	t.Helper()
	want := start()
	wantMap := want.Data
	wantErr := stdUnmarshal(data, &want)
	got := start()
	gotMap := got.Data
	err := got.UnmarshalJSON(data)
	if !matchingError(err, wantErr) || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotMap, wantMap) {
		t.Fatalf("UnmarshalJSON(%q) = %#v, %v (start's map now %#v); encoding/json = %#v, %v (start's map now %#v)",
			data, got, err, gotMap, want, wantErr, wantMap)
	}
	via := start()
	viaErr := json.Unmarshal(data, &via)
	if (viaErr != nil) != (wantErr != nil) || !reflect.DeepEqual(via, want) {
		t.Fatalf("json.Unmarshal(%q) = %#v, %v; encoding/json = %#v, %v", data, via, viaErr, want, wantErr)
	}
}

// matchingError reports whether err, from UnmarshalJSON, corresponds to
// want, from encoding/json.
func matchingError(err, want error) bool {
	if err == nil || want == nil {
		return err == nil && want == nil
	}
	if !strings.HasPrefix(err.Error(), "session: ") {
		return false
	}
	var syntax *SyntaxError
	var typ *TypeError
	var jsonSyntax *json.SyntaxError
	var jsonType *json.UnmarshalTypeError
	switch {
	case errors.As(want, &jsonSyntax):
		return errors.As(err, &syntax)
	case !errors.As(err, &typ):
		return false
	case errors.As(want, &jsonType):
		return typ.Err == nil || strings.HasPrefix(jsonType.Value, "number ")
	default:
		// time.Time's UnmarshalJSON failed; encoding/json returns its error.
		return typ.Err != nil && typ.Err.Error() == want.Error()
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
		// Nesting: the top-level object, Data, n arrays and an object.
		{"deepest", `{"Data":{"d":` + deepJSON(maxNestingDepth-3) + `}}`},
		{"one too deep", `{"Data":{"d":` + deepJSON(maxNestingDepth-2) + `}}`},
		{"deepest skipped", `{"x":` + deepJSON(maxNestingDepth-2) + `}`},
		{"one too deep skipped", `{"x":` + deepJSON(maxNestingDepth-1) + `}`},
		{"deepest top level", deepJSON(maxNestingDepth - 1)},
		{"one too deep top level", deepJSON(maxNestingDepth)},
		// Values of the wrong type: the rest is decoded all the same.
		{"wrong types everywhere", `{"ID":true,"Data":"x","ID":{"a":[1]},"Data":5,"ID":"kept","Data":{"a":1},"Data":false,"ID":[]}`},
		{"wrong type top level", `5`},
		{"wrong type top level bool", ` true `},
		{"wrong type top level array", `[{"ID":"a"}]`},
		{"overflow in nested data", `{"Data":{"a":[1,-1e400,{"b":1e309}],"c":2},"ID":"after"}`},
		{"overflow skipped", `{"Other":1e400,"ID":"a"}`},
		{"underflow", `{"Data":{"a":1e-400,"b":-4.9e-325,"c":123456789012345678901234567890e-20}}`},
		// A time that does not decode stops the decoding there.
		{"time stops decoding", `{"ID":"a","CreatedAt":5,"ID":"b","Data":{"x":1}}`},
		{"bad time zeroes it", `{"UpdatedAt":"yesterday","ID":"b"}`},
		{"time object", `{"RotatedAt":{"a":1},"ID":"b"}`},
		{"time array", `{"RotatedAt":[],"ID":"b"}`},
		{"time true", `{"CreatedAt":true}`},
		{"time null", `{"CreatedAt":null,"UpdatedAt":null,"ID":"b"}`},
		{"time invalid utf-8", "{\"CreatedAt\":\"2024-01-02T03:04:05\xffZ\"}"},
		{"time after a wrong type", `{"ID":5,"CreatedAt":"x","ID":"b"}`},
		{"syntax error after a stop", `{"CreatedAt":5,"ID":"b",}`},
		{"syntax error after a wrong type", `{"ID":5,"x":[1,]}`},
		{"times", `{"CreatedAt":"2024-02-29T23:59:60Z","UpdatedAt":"0000-01-01T00:00:00.000000001-23:59","RotatedAt":"9999-12-31T23:59:59+23:59"}`},
		// Data replaced and merged in turn.
		{"data null object null", `{"Data":{"a":1},"Data":null,"Data":{"c":4},"Data":null}`},
		{"data merged after null", `{"Data":null,"Data":{"a":1},"Data":{"b":2},"Data":{"a":3}}`},
		{"data wrong type after null", `{"Data":null,"Data":[1]}`},
		{"duplicate data keys", `{"Data":{"a":1,"a":{"x":2},"a":[3]}}`},
		{"key escapes", `{"Data":{"\u0041\ud83d\ude00\n":1,"\/":2}}`},
		{"folded names", "{\"\u212a\":1,\"\u017fTATUS\":2,\"Ｉd\":\"x\"}"},
		// More syntax errors.
		{"white space only", " \n\t"},
		{"bom", "\xef\xbb\xbf{}"},
		{"nul", `{"ID":nul}`},
		{"null prefix", `nullx`},
		{"minus alone", `{"Data":{"x":-}}`},
		{"dot exponent", `{"Data":{"x":1.e5}}`},
		{"bare exponent", `{"Data":{"x":1e}}`},
		{"negative leading zero", `{"Data":{"x":-01}}`},
		{"hex number", `{"Data":{"x":0x10}}`},
		{"infinity", `{"Data":{"x":Infinity}}`},
		{"bad surrogate escape", `{"ID":"\ud800\u12"}`},
		{"bad hex", `{"ID":"\u00zz"}`},
		{"backslash at end", `{"ID":"\`},
		{"missing comma", `{"ID":"a" "Data":{}}`},
		{"array missing comma", `{"Data":{"a":[1 2]}}`},
		{"array trailing comma", `{"Data":{"a":[1,]}}`},
		{"object key not string", `{"Data":{1:2}}`},
		{"unterminated data", `{"Data":{"a":1`},
		{"unterminated skipped", `{"x":[1,{"y":"z"`},
		{"tab in string", "{\"ID\":\"a\tb\"}"},
		{"del in string", "{\"ID\":\"a\x7fb\"}"},
		{"nul byte outside", "{\"ID\":\"a\"\x00}"},
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

func TestUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		data string
		want string
	}{
		{`{"ID":}`, `session: invalid JSON at offset 6: invalid character '}' looking for beginning of value`},
		{`{"ID":"a"`, `session: invalid JSON at offset 9: unexpected end of input`},
		{"{\"ID\":\"a\nb\"}", `session: invalid JSON at offset 8: invalid character '\n' in string literal`},
		{`{"ID":"\q"}`, `session: invalid JSON at offset 8: invalid character 'q' in string escape code`},
		{`{"ID":"\u12x4"}`, `session: invalid JSON at offset 11: invalid character 'x' in \u hexadecimal character escape`},
		{`{"Data":{"x":tru}}`, `session: invalid JSON at offset 16: invalid character '}' in literal true`},
		{`{"Data":{"x":01}}`, `session: invalid JSON at offset 14: invalid character '1' after object key:value pair`},
		{"{}\xff", `session: invalid JSON at offset 2: invalid character byte 0xff after top-level value`},
		{`{"x":` + deepJSON(maxNestingDepth-1) + `}`, `session: invalid JSON at offset 10004: exceeded max depth`},
		{`{"ID":1}`, `session: cannot decode JSON number into Session.ID at offset 6`},
		{`{"Data":[1],"ID":{}}`, `session: cannot decode JSON array into Session.Data at offset 8`},
		{`"x"`, `session: cannot decode JSON string into Session at offset 0`},
		{`{"Data":{"x":[1e400]}}`, `session: cannot decode JSON number 1e400 into Session.Data at offset 14: strconv.ParseFloat: parsing "1e400": value out of range`},
		{`{"ID":1,"CreatedAt":true}`, `session: cannot decode JSON bool into Session.CreatedAt at offset 20: Time.UnmarshalJSON: input is not a JSON string`},
	}
	for _, tt := range tests {
		var s Session
		err := s.UnmarshalJSON([]byte(tt.data))
		if err == nil || err.Error() != tt.want {
			t.Errorf("UnmarshalJSON(%q) = %v, want %s", tt.data, err, tt.want)
		}
	}

	var s Session
	var syntax *SyntaxError
	if err := s.UnmarshalJSON([]byte(`{"ID":}`)); !errors.As(err, &syntax) || syntax.Offset != 6 {
		t.Errorf("invalid JSON: error %T %v, want *SyntaxError at offset 6", err, err)
	}
	var typ *TypeError
	if err := s.UnmarshalJSON([]byte(`{"ID":1}`)); !errors.As(err, &typ) || typ.Field != "ID" || typ.Value != "number" || typ.Offset != 6 || typ.Err != nil {
		t.Errorf("number for ID: error %T %v, want *TypeError on ID", err, err)
	}
	var parse *time.ParseError
	if err := s.UnmarshalJSON([]byte(`{"CreatedAt":"2024-13-01T00:00:00Z"}`)); !errors.As(err, &typ) || typ.Field != "CreatedAt" || !errors.As(err, &parse) {
		t.Errorf("bad time: error %T %v, want *TypeError wrapping *time.ParseError", err, err)
	}
	var range_ *strconv.NumError
	if err := s.UnmarshalJSON([]byte(`{"Data":{"x":1e400}}`)); !errors.As(err, &typ) || typ.Field != "Data" || !errors.As(err, &range_) || range_.Err != strconv.ErrRange {
		t.Errorf("number out of range: error %T %v, want *TypeError wrapping strconv.ErrRange", err, err)
	}
	if err := (*Session)(nil).UnmarshalJSON([]byte(`{}`)); err == nil || !strings.HasPrefix(err.Error(), "session: ") {
		t.Errorf("nil session: error %v", err)
	}
	// Through json.Unmarshal, which checks the syntax first, the type
	// errors are UnmarshalJSON's.
	if err := json.Unmarshal([]byte(` {"ID":1} `), &s); !errors.As(err, &typ) || typ.Offset != 6 {
		t.Errorf("json.Unmarshal, number for ID: error %T %v, want *TypeError", err, err)
	}
}

func TestSealedCookieHoldsJSONMarshalBytes(t *testing.T) {
	m := newTestManager(t)
	for _, sess := range []Session{realisticSession(), {ID: "a<b", Data: map[string]interface{}{"s": struct{ A string }{"<&>"}, "r": json.RawMessage(" [1, 2] ")}}} {
		value, err := m.write(context.Background(), &sess, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := m.open(value)
		want, _ := json.Marshal(&sess)
		if err != nil || !bytes.Equal(plain, want) {
			t.Errorf("sealed %q, %v; json.Marshal = %q", plain, err, want)
		}
	}
	// A session json.Marshal rejects gives the error it gave.
	bad := Session{ID: "a", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, err := m.write(context.Background(), &bad, time.Hour)
	_, jsonErr := json.Marshal(&bad)
	if !errors.Is(err, ErrMarshalFailed) || jsonErr == nil || err.Error() != ErrMarshalFailed.Error()+": "+jsonErr.Error() {
		t.Errorf("write = %v; json.Marshal: %v", err, jsonErr)
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
	if enc > 1 || dec > 11 {
		t.Errorf("allocations: encode %v (want <= 1), decode %v (want <= 11)", enc, dec)
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
		`{"ID":5,"Data":{"a":[1e400,{"b":-2E+1}]},"CreatedAt":"x","ID":"b"}`, `{"Data":null,"Data":{"a":1},"Data":"s"}`,
		`[{"ID":"a"}]`, ` true `, `{"x":[[[[]]],{"y":1e999}],"RotatedAt":{},"ID":"c"}`, `{"ID":"\ud800\u12"}`,
		`{"UpdatedAt":null,"RotatedAt":"2024-01-02T03:04:05\u005a","ID":"d"}`, `{"\u212a":1,"iD":"e",}`,
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
