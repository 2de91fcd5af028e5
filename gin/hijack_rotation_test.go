package sessiongin

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sessionx-redis/redisstore/session"
)

// A WebSocket upgrade (Hijack) of a session due for automatic rotation
// keeps its ID: the 101 carries no cookie, so a new ID would log the user
// out, and the old one must not be deleted.
func TestHijackNeverRotates(t *testing.T) {
	store := newMemStore()
	const id = "AAAAAAAAAAAAAAAAAAAAAA"
	past := time.Now().Add(-time.Hour)
	if err := store.Save(&session.Session{ID: id, Data: map[string]interface{}{"user": "alice"},
		CreatedAt: past, UpdatedAt: time.Now(), RotatedAt: past}); err != nil {
		t.Fatal(err)
	}
	r, _ := newEngine(t, store, session.WithRotationInterval(time.Minute))
	r.GET("/ws", func(c *gin.Context) {
		Get(c).Data["ws"] = "1"
		conn, _, err := c.Writer.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		conn.Close()
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/ws", nil)
	req.AddCookie(&http.Cookie{Name: "sessionx", Value: id})
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if data := store.get(id); data["user"] != "alice" || data["ws"] != "1" {
		t.Errorf("after the upgrade the old ID holds %v, want the session with its change", data)
	}
	if n := store.len(); n != 1 {
		t.Errorf("%d sessions after the upgrade, want 1 (no new ID)", n)
	}
}
