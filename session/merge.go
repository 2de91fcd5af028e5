package session

import (
	"bytes"
	"errors"
	"slices"
)

// A conflicting save re-applies the request's own changes to the session as
// it is now stored: the top-level Data keys whose JSON differs from the
// snapshot taken at Load are set to the request's values, and the keys the
// request deleted are deleted. Keys the request did not touch keep what
// other requests stored, so parallel requests that change different keys
// all keep their changes; when two change the same key, the later save
// wins. Flash messages (the "_flashes" key, a map) are merged one level
// deeper, by their own keys, so that two requests adding flashes keep
// both, and one that reads a flash removes only that one. The work is done
// only on a conflict: a save that finds its version in place pays nothing
// for it.

// dataChange is one key a request set or deleted: a top-level key, or
// with inFlash, the key sub of the flash map.
type dataChange struct {
	key, sub string
	inFlash  bool
	value    interface{}
	deleted  bool
}

// dataChanges returns the changes that turn the Data encoded in snapshot
// into data.
func dataChanges(snapshot []byte, data map[string]interface{}) ([]dataChange, error) {
	old, err := decodeData(snapshot)
	if err != nil {
		return nil, err
	}
	changes := diffMaps(nil, "", old, data)
	return changes, nil
}

// diffMaps appends the changes from old to cur; under key (the flash map)
// they are changes of its entries.
func diffMaps(changes []dataChange, key string, old, cur map[string]interface{}) []dataChange {
	change := func(k string, v interface{}, deleted bool) dataChange {
		if key != "" {
			return dataChange{key: key, sub: k, inFlash: true, value: v, deleted: deleted}
		}
		return dataChange{key: k, value: v, deleted: deleted}
	}
	var a, b []byte
	for k, v := range cur {
		ov, ok := old[k]
		if key == "" && k == flashKey {
			om, ook := ov.(map[string]interface{})
			cm, cok := v.(map[string]interface{})
			if (ook || !ok) && cok {
				changes = diffMaps(changes, k, om, cm)
				continue
			}
		}
		if ok {
			var aok, bok bool
			a, aok = appendJSONValue(a[:0], v, 0)
			b, bok = appendJSONValue(b[:0], ov, 0)
			if aok && bok && bytes.Equal(a, b) {
				continue
			}
		}
		changes = append(changes, change(k, v, false))
	}
	for k, ov := range old {
		if _, ok := cur[k]; ok {
			continue
		}
		if om, ok := ov.(map[string]interface{}); ok && key == "" && k == flashKey {
			changes = diffMaps(changes, k, om, nil) // every flash read
			continue
		}
		changes = append(changes, change(k, nil, true))
	}
	return changes
}

// applyChanges applies changes to data, which must not be nil. A flash
// map left empty is removed, as GetFlash does.
func applyChanges(data map[string]interface{}, changes []dataChange) {
	for _, c := range changes {
		switch {
		case !c.inFlash && c.deleted:
			delete(data, c.key)
		case !c.inFlash:
			data[c.key] = c.value
		default:
			m, ok := data[c.key].(map[string]interface{})
			if !ok {
				if c.deleted {
					continue
				}
				m = make(map[string]interface{})
				data[c.key] = m
			}
			if c.deleted {
				delete(m, c.sub)
			} else {
				m[c.sub] = c.value
			}
			if len(m) == 0 {
				delete(data, c.key)
			}
		}
	}
}

// keepOwnValues puts into base, for each key the request did not change
// and that base holds with the same JSON, the request's own value: a
// handler holding it (a nested map, say) still writes into the session.
func keepOwnValues(base, own map[string]interface{}, changes []dataChange) {
	var a, b []byte
	for k, bv := range base {
		ov, ok := own[k]
		if !ok || slices.ContainsFunc(changes, func(c dataChange) bool { return c.key == k }) {
			continue
		}
		var aok, bok bool
		a, aok = appendJSONValue(a[:0], ov, 0)
		b, bok = appendJSONValue(b[:0], bv, 0)
		if aok && bok && bytes.Equal(a, b) {
			base[k] = ov
		}
	}
}

// errBadSnapshot reports a snapshot that is not a JSON object or null; the
// manager makes every snapshot, so it means a bug.
var errBadSnapshot = errors.New("session: snapshot is not a JSON object")

// decodeData decodes a snapshot of Data (a JSON object or null; nil, the
// snapshot of a session never stored, is empty).
func decodeData(snapshot []byte) (map[string]interface{}, error) {
	if snapshot == nil {
		return map[string]interface{}{}, nil
	}
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
