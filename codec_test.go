package redisstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// A json.RawMessage decodes exactly as json.Unmarshal decodes it, errors
// included, and encodes as it is when it is valid JSON.
func TestCodecRawMessage(t *testing.T) {
	for _, in := range []string{
		`"x"`, `{"a":[1,2,{"b":null}]}`, ` [1, 2] `, "\t\r\n true \n", `null`, `1e400`,
		`"<&>"`, `"\u00e9"`, ``, ` `, `{`, `[1,]`, `"unterminated`, `1 2`, "\"\xff\"",
	} {
		var want json.RawMessage
		wantErr := json.Unmarshal([]byte(in), &want)
		var got json.RawMessage
		err := decode([]byte(in), &got)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("decode(%q): error %v, json.Unmarshal %v", in, err, wantErr)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("decode(%q) = %q, json.Unmarshal %q", in, got, want)
		}

		m := json.RawMessage(in)
		enc, err := encode(&m)
		_, wantErr = json.Marshal(&m)
		switch {
		case (err == nil) != (wantErr == nil):
			t.Errorf("encode(%q): error %v, json.Marshal %v", in, err, wantErr)
		case err == nil && string(enc) != in:
			t.Errorf("encode(%q) = %q, want it unchanged", in, enc)
		}
	}
	var null json.RawMessage
	if enc, err := encode(&null); err != nil || string(enc) != "null" {
		t.Errorf("encode of a nil RawMessage = %q, %v; want null", enc, err)
	}
}

// A Store[json.RawMessage] keeps the value's bytes, and Load and Save
// allocate only the loaded value and its header beyond the store's own.
func TestStoreRawMessage(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := New(Options{Addr: mr.Addr(), Prefix: "raw:"}, func(*json.RawMessage) string { return "v" })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	value := json.RawMessage(`{"html":"<b>&</b>", "n": 1}`)
	if err := s.Save(&value); err != nil {
		t.Fatal(err)
	}
	if got, _ := mr.Get("raw:v"); got != string(value) {
		t.Errorf("Redis holds %q, saved %q", got, value)
	}
	got, err := s.Load("v")
	if err != nil || !bytes.Equal(*got, value) {
		t.Fatalf("Load = %q, %v; saved %q", *got, err, value)
	}
	bad := json.RawMessage(`{"a":`)
	if err := s.Save(&bad); err == nil {
		t.Error("Save of invalid JSON succeeded")
	}
	mr.Set("raw:v", "not json")
	if _, err := s.Load("v"); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("Load of a corrupt value: %v, want ErrInvalidSession", err)
	}
}
