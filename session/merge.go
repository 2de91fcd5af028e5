package session

import (
	"bytes"
	"errors"
)

// A conflicting save re-applies the request's own changes to the session as
// it is now stored: the top-level Data keys whose JSON differs from the
// snapshot taken at Load are set to the request's values, and the keys the
// request deleted are deleted. Keys the request did not touch keep what
// other requests stored, so parallel requests that change different keys
// all keep their changes; when two change the same key, the later save
// wins. The work is done only on a conflict: a save that finds its version
// in place pays nothing for it.

// dataChange is one top-level key a request set or deleted.
type dataChange struct {
	key     string
	value   interface{}
	deleted bool
}

// dataChanges returns the changes that turn the Data encoded in snapshot
// into data.
func dataChanges(snapshot []byte, data map[string]interface{}) ([]dataChange, error) {
	old, err := decodeData(snapshot)
	if err != nil {
		return nil, err
	}
	var changes []dataChange
	var a, b []byte
	for k, v := range data {
		ov, ok := old[k]
		if ok {
			var aok, bok bool
			a, aok = appendJSONValue(a[:0], v, 0)
			b, bok = appendJSONValue(b[:0], ov, 0)
			if aok && bok && bytes.Equal(a, b) {
				continue
			}
		}
		changes = append(changes, dataChange{key: k, value: v})
	}
	for k := range old {
		if _, ok := data[k]; !ok {
			changes = append(changes, dataChange{key: k, deleted: true})
		}
	}
	return changes, nil
}

// applyChanges applies changes to data, which must not be nil.
func applyChanges(data map[string]interface{}, changes []dataChange) {
	for _, c := range changes {
		if c.deleted {
			delete(data, c.key)
		} else {
			data[c.key] = c.value
		}
	}
}

// errBadSnapshot reports a snapshot that is not a JSON object or null; the
// manager makes every snapshot, so it means a bug.
var errBadSnapshot = errors.New("session: snapshot is not a JSON object")

// decodeData decodes a snapshot of Data (a JSON object or null).
func decodeData(snapshot []byte) (map[string]interface{}, error) {
	d := jsonDecoder{s: string(snapshot), b: snapshot}
	d.skipSpace()
	v, ok := d.value(0)
	if !ok {
		return nil, errBadSnapshot
	}
	if v == nil {
		return map[string]interface{}{}, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, errBadSnapshot
	}
	return m, nil
}
