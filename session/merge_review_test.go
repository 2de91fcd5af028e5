package session

import (
	"fmt"
	"maps"
	"testing"
)

// review2Flash returns the value a Data map holds under _flashes after a
// request rebased onto base applied the changes that turn old into cur.
func review2Rebase(t *testing.T, base, old, cur map[string]interface{}) (out map[string]interface{}) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("panic rebasing %v -> %v onto %v: %v", old, cur, base, p)
		}
	}()
	snapshot, ok := appendJSONValue(nil, old, 0)
	if !ok {
		t.Fatalf("snapshot of %v", old)
	}
	changes, err := dataChanges(snapshot, cur)
	if err != nil {
		t.Fatal(err)
	}
	out = maps.Clone(base)
	applyChanges(out, changes)
	return out
}

func review2JSON(v interface{}) string {
	b, _ := appendJSONValue(nil, v, 0)
	return string(b)
}

// R2-5 (unit): rebased onto the very version it loaded, a request's
// changes must give back what the request holds, whatever _flashes holds
// before and after (a map, another type, absent, a flash under ""). Any
// difference is a change of the request that the merge loses or
// corrupts. No combination may panic.
func TestReview2MergeOntoUnchangedBaseKeepsOwnData(t *testing.T) {
	flashes := map[string]interface{}{
		"absent":    nil,
		"map":       map[string]interface{}{"a": "1"},
		"map2":      map[string]interface{}{"a": "2", "b": "x"},
		"emptykey":  map[string]interface{}{"": "e"},
		"emptykey2": map[string]interface{}{"": "f", "a": "1"},
		"string":    "not a map",
		"list":      []interface{}{"x"},
		"number":    1.0,
	}
	names := []string{"absent", "map", "map2", "emptykey", "emptykey2", "string", "list", "number"}
	var failed []string
	for _, o := range names {
		for _, c := range names {
			old := map[string]interface{}{"user": "alice"}
			cur := map[string]interface{}{"user": "alice"}
			if o != "absent" {
				old[flashKey] = flashes[o]
			}
			if c != "absent" {
				cur[flashKey] = maps.Clone(map[string]interface{}{"v": flashes[c]})["v"]
			}
			// decode the snapshot's values as Load would: the base is old
			// as stored.
			base, err := decodeData([]byte(review2JSON(old)))
			if err != nil {
				t.Fatal(err)
			}
			got := review2Rebase(t, base, old, cur)
			if review2JSON(got) != review2JSON(cur) {
				failed = append(failed, fmt.Sprintf("%s -> %s: got %s, want %s", o, c, review2JSON(got), review2JSON(cur)))
			}
		}
	}
	for _, f := range failed {
		t.Error(f)
	}
}
