package sessiongin_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
	sessiongin "github.com/sessionx-redis/redisstore/gin"
	"github.com/sessionx-redis/redisstore/session"
)

// Example counts visits in a Gin app. With redisstore, add
// session.WithStore(store) to the configuration; here the session is sealed
// in the cookie so the example needs no server.
func Example() {
	gin.SetMode(gin.TestMode)
	m, err := session.NewManager(session.DevConfig([]byte("0123456789abcdef0123456789abcdef")))
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessiongin.SessionMiddleware(m))
	r.GET("/", func(c *gin.Context) {
		sess := sessiongin.Get(c)
		n, _ := sess.Data["visits"].(float64)
		sess.Data["visits"] = n + 1
		c.String(http.StatusOK, "visits: %v", n+1)
	})

	var cookies []*http.Cookie
	for range 3 {
		req := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		cookies = rec.Result().Cookies()
		fmt.Println(rec.Body.String())
	}
	// Output:
	// visits: 1
	// visits: 2
	// visits: 3
}
