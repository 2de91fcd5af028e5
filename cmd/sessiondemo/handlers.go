package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessionx-redis/redisstore/session"
)

// Session Data keys.
const (
	keyUser   = "user"
	keyVisits = "visits"
)

// maxUserLen bounds the user name, in characters.
const maxUserLen = 32

// routes returns the instance's pages; the session middleware wraps them.
func (in *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", in.home)
	mux.HandleFunc("GET /login", in.loginForm)
	mux.HandleFunc("POST /login", in.login)
	mux.HandleFunc("GET /dashboard", in.dashboard)
	mux.HandleFunc("POST /logout", in.logout)
	mux.HandleFunc("POST /devices/logout", in.logoutDevice)
	mux.HandleFunc("POST /devices/logout-others", in.logoutOthers)
	mux.HandleFunc("GET /parallel", in.parallel)
	mux.HandleFunc("POST /tick", in.tick)
	return mux
}

// tickPrefix starts the Data keys /tick writes.
const tickPrefix = "tick-"

// maxTicks bounds the /tick keys a session holds.
const maxTicks = 16

// parallel shows the page whose button logs in while other requests of the
// session run, and what they left in the session.
func (in *instance) parallel(w http.ResponseWriter, r *http.Request) {
	sess := session.Get(r)
	sess.Data[keyVisits] = visits(sess) + 1
	in.render(w, r, "parallel", "Parallel requests")
}

// tick records one parallel request in its own Data key.
func (in *instance) tick(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.FormValue("n"))
	if err != nil || n < 0 || n >= maxTicks {
		http.Error(w, "n must be 0 to 15", http.StatusBadRequest)
		return
	}
	session.Get(r).Data[tickPrefix+strconv.Itoa(n)] = true
	w.WriteHeader(http.StatusNoContent)
}

// ticks returns the /tick keys of sess, sorted.
func ticks(sess *session.Session) []string {
	var keys []string
	for k := range sess.Data {
		if strings.HasPrefix(k, tickPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// home counts the visit and shows the counter.
func (in *instance) home(w http.ResponseWriter, r *http.Request) {
	sess := session.Get(r)
	sess.Data[keyVisits] = visits(sess) + 1
	in.render(w, r, "home", "Visit counter")
}

// loginForm shows the login form, or the dashboard to a logged-in user.
func (in *instance) loginForm(w http.ResponseWriter, r *http.Request) {
	if user(session.Get(r)) != "" {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return
	}
	in.render(w, r, "login", "Log in")
}

// login logs the user in. The session ID is rotated first, so an ID known
// before login (fixated or observed) is worthless after it: the manager
// deletes the old ID from Redis when it saves the new one.
func (in *instance) login(w http.ResponseWriter, r *http.Request) {
	sess := session.Get(r)
	name := strings.TrimSpace(r.PostFormValue("user"))
	if name == "" || utf8.RuneCountInString(name) > maxUserLen {
		sess.AddFlash("error", "Enter a user name of 1 to 32 characters.")
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	in.m.Rotate(sess)
	sess.Data[keyUser] = name
	sess.AddFlash("info", "Welcome, "+name+"! Your session ID was rotated on login.")
	http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
}

// dashboard is for logged-in users only. It counts the visit, so that a
// device's "last seen" is its last visit, and lists the user's devices:
// the sessions of the user, from the manager's user index.
func (in *instance) dashboard(w http.ResponseWriter, r *http.Request) {
	sess, name := loggedIn(w, r, "Please log in to see the dashboard.")
	if name == "" {
		return
	}
	sess.Data[keyVisits] = visits(sess) + 1
	list, err := in.m.UserSessions(r.Context(), name)
	if err != nil {
		in.m.HandleError(w, r, err)
		return
	}
	var devices []device
	for _, info := range list {
		devices = append(devices, device{
			Handle:   info.Handle,
			Created:  info.CreatedAt.UTC().Format(time.DateTime),
			LastSeen: info.UpdatedAt.UTC().Format(time.DateTime),
			Current:  info.Current(r),
		})
	}
	in.renderPage(w, r, "dashboard", pageData{Title: "Dashboard", Devices: devices})
}

// loggedIn returns the request's session and its user; with no user it
// sends the browser to the login page with the flash why, and returns "".
func loggedIn(w http.ResponseWriter, r *http.Request, why string) (*session.Session, string) {
	sess := session.Get(r)
	name := user(sess)
	if name == "" {
		sess.AddFlash("error", why)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
	return sess, name
}

// device is one row of the dashboard's list of devices.
type device struct {
	Handle            string // for "log out this device"
	Created, LastSeen string // UTC
	Current           bool   // the device of this request
}

// logoutDevice ends one of the user's other sessions, by the handle the
// dashboard listed.
func (in *instance) logoutDevice(w http.ResponseWriter, r *http.Request) {
	sess, name := loggedIn(w, r, "Please log in first.")
	if name == "" {
		return
	}
	switch err := in.m.RevokeSession(r.Context(), name, r.PostFormValue("handle")); {
	case errors.Is(err, session.ErrNotFound):
		sess.AddFlash("error", "That device was logged out already.")
	case err != nil:
		in.m.HandleError(w, r, err)
		return
	default:
		sess.AddFlash("info", "That device is logged out: its next request finds no session.")
	}
	http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
}

// logoutOthers ends every session of the user but this one, as after a
// password change.
func (in *instance) logoutOthers(w http.ResponseWriter, r *http.Request) {
	sess, name := loggedIn(w, r, "Please log in first.")
	if name == "" {
		return
	}
	n, err := in.m.RevokeUser(r.Context(), name, sess)
	if err != nil {
		in.m.HandleError(w, r, err)
		return
	}
	sess.AddFlash("info", fmt.Sprintf("Logged out %d other device%s.", n, plural(n)))
	http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
}

// plural is "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// logout destroys the session: it ends in Redis (a retired marker replaces
// it, so a request of it still under way cannot save it back) and the cookie
// cleared. The flash then starts a new, anonymous session.
func (in *instance) logout(w http.ResponseWriter, r *http.Request) {
	if err := in.m.Destroy(w, r); err != nil {
		in.m.HandleError(w, r, err)
		return
	}
	session.Get(r).AddFlash("info", "You are logged out; your session was ended in Redis.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// pageData is what the templates see.
type pageData struct {
	Title    string
	Instance string   // "instance 1"
	URL      string   // this instance's base URL
	Others   []string // the other instances' base URLs
	User     string
	Visits   int
	Ticks    []string // the Data keys parallel requests wrote
	Devices  []device // the user's sessions (dashboard)
	Flashes  []flash
}

// flash is one flash message; Kind is "info" or "error".
type flash struct {
	Kind, Message string
}

// render executes page into a buffer, so a template error never sends half
// a page, and writes it; reading the flashes removes them from the session.
func (in *instance) render(w http.ResponseWriter, r *http.Request, page, title string) {
	in.renderPage(w, r, page, pageData{Title: title})
}

// renderPage is render with data, to which it adds the session's and the
// instance's fields.
func (in *instance) renderPage(w http.ResponseWriter, r *http.Request, page string, data pageData) {
	sess := session.Get(r)
	data.Instance, data.URL, data.Others = in.name, in.url, in.others
	data.User, data.Visits, data.Ticks = user(sess), visits(sess), ticks(sess)
	for kind, msg := range sess.GetFlashes() {
		if s, ok := msg.(string); ok {
			data.Flashes = append(data.Flashes, flash{Kind: kind, Message: s})
		}
	}
	slices.SortFunc(data.Flashes, func(a, b flash) int { return strings.Compare(a.Kind, b.Kind) })
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		in.logger.Printf("%s: template %s: %v", in.name, page, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Every page shows the session: none is kept, in a cache or the
	// back-forward cache, so the back button after a logout shows no
	// logged-in page.
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// user returns the logged-in user's name, or "".
func user(sess *session.Session) string {
	name, _ := sess.Data[keyUser].(string)
	return name
}

// visits returns the visit counter: an int when set in this request, a
// float64 once it has been through JSON.
func visits(sess *session.Session) int {
	switch v := sess.Data[keyVisits].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	return 0
}
