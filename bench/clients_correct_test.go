package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/sessionx-redis/redisstore/internal/benchkit"
	"github.com/sessionx-redis/redisstore/session"
)

// TestClientsStoreTheSameSession checks that every client of the
// comparison does the same work: a Save of one client is read back equal
// by every other, Delete removes it, and raw GET returns what raw SET wrote.
func TestClientsStoreTheSameSession(t *testing.T) {
	addr := needServer(t)
	ctx := context.Background()
	stores := make([]store, len(clients))
	for i, c := range clients {
		s, err := c.open(addr)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		defer s.Close()
		stores[i] = s
	}
	for i, writer := range clients {
		t.Run("writer="+writer.name, func(t *testing.T) {
			sess := benchkit.Session("correct-" + writer.name)
			if err := stores[i].Save(ctx, sess); err != nil {
				t.Fatalf("Save: %v", err)
			}
			want, _ := json.Marshal(sess)
			for j, reader := range clients {
				got, err := stores[j].Load(ctx, sess.ID)
				if err != nil {
					t.Fatalf("%s Load: %v", reader.name, err)
				}
				if data, _ := json.Marshal(got); !bytes.Equal(data, want) {
					t.Errorf("%s Load = %s, want %s", reader.name, data, want)
				}
			}
			if err := stores[i].Delete(ctx, sess.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			for j, reader := range clients {
				if _, err := stores[j].Load(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("%s Load after Delete: %v, want not found", reader.name, err)
				}
			}
			value := append(bytes.Clone(rawValue[:len(rawValue)-1]), writer.name[0], '"')
			if err := stores[i].Set(ctx, value); err != nil {
				t.Fatalf("Set: %v", err)
			}
			for j, reader := range clients {
				got, err := stores[j].Get(ctx)
				if err != nil || !bytes.Equal(got, value) {
					t.Errorf("%s Get = %q, %v; want %q", reader.name, got, err, value)
				}
			}
		})
	}
}

// TestRawValueSize keeps the raw GET/SET value at 300 bytes.
func TestRawValueSize(t *testing.T) {
	if len(rawValue) != 300 {
		t.Errorf("raw value: %d bytes, want 300", len(rawValue))
	}
}
