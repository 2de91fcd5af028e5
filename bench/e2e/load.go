package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"sync"
	"time"
)

// Load is a closed-loop load: Clients goroutines each send a request,
// wait for its answer and send the next. Each of Users sessions has a
// cookie jar of its own (net/http/cookiejar, which honours the cookies'
// attributes) and belongs to one client, which takes its sessions in
// turn, so that a session's requests never overlap and the answer each
// one must give is known.
type Load struct {
	Users    int           // sessions (200)
	Clients  int           // concurrent requests (32)
	Reads    float64       // share of GET /read (0.9)
	Logins   float64       // share of POST /login, a new ID for a logged-in session (0); the rest are POST /incr
	Duration time.Duration // how long to send requests, after every session logged in
}

// Result is what a Load measured.
type Result struct {
	Requests   int             // answered, failed or not
	Failures   int             // a transport error, a status other than 200, or not the expected body (a lost write once)
	First      string          // the first failure
	Elapsed    time.Duration   // from the first request to the last answer
	Latencies  []time.Duration // of every request, sorted
	SetCookies int             // answers that set a cookie
	LostUsers  int             // users whose session was gone: an answer, or the check after the load, named no user or another
	Unreached  int             // users whose session the check after the load could not read (an error)
	LongestGap time.Duration   // the longest time without a successful answer
}

// PerSecond is the requests answered successfully per second.
func (r Result) PerSecond() float64 { return float64(r.Requests-r.Failures) / r.Elapsed.Seconds() }

// Percentile is the latency under which a share p (0.5, 0.99) of the
// requests were answered.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.Latencies)))) - 1
	return r.Latencies[max(0, min(i, len(r.Latencies)-1))]
}

// user is one session of the load: its client and what its next answer
// must say.
type user struct {
	name   string
	client *http.Client
	n      int // the counter the next answer must show
	unsure int // failed /incr requests since the last answer: each may have been made
}

// Run logs every user in at base (not measured), calls ready (if not nil:
// where a caller reads its counters), sends l's requests for l.Duration,
// then reads every session once more (not measured either) to find those
// that are gone. With check, each answer must be the one the session's
// history implies (a lost write, a lost session or a stale read fails,
// and a login must change the session's cookie); a stack without
// sessions is run without.
func Run(ctx context.Context, base string, l Load, check bool, ready func() error) (Result, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: l.Clients, MaxConnsPerHost: l.Clients}
	defer transport.CloseIdleConnections()
	users := make([]*user, l.Users)
	for i := range users {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return Result{}, err
		}
		users[i] = &user{name: "u" + itoa(i), client: &http.Client{Transport: transport, Jar: jar}}
	}
	var (
		mu       sync.Mutex
		res      Result
		lastGood time.Time
		lost     = make(map[*user]bool)
	)
	record := func(u *user, lat time.Duration, setCookie bool, failure string, lostSession bool) {
		mu.Lock()
		defer mu.Unlock()
		res.Requests++
		res.Latencies = append(res.Latencies, lat)
		if setCookie {
			res.SetCookies++
		}
		if lostSession {
			lost[u] = true
		}
		now := time.Now()
		if failure != "" {
			res.Failures++
			if res.First == "" {
				res.First = failure
			}
			return
		}
		res.LongestGap = max(res.LongestGap, now.Sub(lastGood))
		lastGood = now
	}
	for _, u := range users {
		if _, _, failure, _ := u.do(ctx, base, "POST", "/login?user="+u.name, check); failure != "" {
			return Result{}, fmt.Errorf("e2e: login of %s: %s", u.name, failure)
		}
	}
	if ready != nil {
		if err := ready(); err != nil {
			return Result{}, err
		}
	}

	load, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	start := time.Now()
	lastGood = start
	var wg sync.WaitGroup
	for c := range l.Clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			var own []*user // users c, c+Clients, ...: no other client sends their requests
			for i := c; i < len(users); i += l.Clients {
				own = append(own, users[i])
			}
			for i := 0; load.Err() == nil && len(own) > 0; i++ {
				u := own[i%len(own)]
				method, path := "POST", "/incr"
				switch x := rng.Float64(); {
				case x < l.Reads:
					method, path = "GET", "/read"
				case x < l.Reads+l.Logins:
					path = "/login?user=" + u.name
				}
				t := time.Now()
				// Each request runs to its end (ctx, not load): a login cut
				// short could leave the jar with the ID it replaced.
				setCookie, done, failure, lostSession := u.do(ctx, base, method, path, check)
				if done {
					record(u, time.Since(t), setCookie, failure, lostSession)
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.LongestGap = max(res.LongestGap, time.Since(lastGood))
	if check {
		for _, u := range users {
			final, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, _, failure, gone := u.do(final, base, "GET", "/read", true)
			cancel()
			switch {
			case gone:
				lost[u] = true
			case failure != "" && !strings.Contains(failure, "want n="):
				res.Unreached++ // an error: the session could not be read
			}
		}
	}
	res.LostUsers = len(lost)
	slices.Sort(res.Latencies)
	return res, nil
}

// failed notes a request to path that failed.
func (u *user) failed(path string) {
	if path == "/incr" {
		u.unsure++
	}
}

// do sends one request of u and checks its answer: whether it set a
// cookie, whether it was answered before ctx ended, what failed ("":
// nothing), and whether the session was gone. After a failed /incr the
// counter is taken from the next answer: the write may or may not have
// happened.
func (u *user) do(ctx context.Context, base, method, path string, check bool) (setCookie, done bool, failure string, lost bool) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return false, true, err.Error(), false
	}
	var before []*http.Cookie
	if check && strings.HasPrefix(path, "/login") {
		before = u.client.Jar.Cookies(req.URL)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, false, "", false // the load ended
		}
		u.failed(path)
		return false, true, err.Error(), false
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	setCookie = len(resp.Header.Values("Set-Cookie")) > 0
	switch {
	case err != nil && ctx.Err() != nil:
		return setCookie, false, "", false // the load ended
	case err != nil:
		u.failed(path)
		return setCookie, true, err.Error(), false
	case resp.StatusCode != http.StatusOK:
		u.failed(path)
		return setCookie, true, fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(body))), false
	}
	switch {
	case strings.HasPrefix(path, "/login"):
		u.n = 0
	case path == "/incr":
		u.n++
	}
	if !check {
		return setCookie, true, "", false
	}
	var name string
	var n int
	if _, err := fmt.Sscanf(string(body), "user=%s n=%d", &name, &n); err != nil || name != u.name {
		return setCookie, true, fmt.Sprintf("%s %s of %s: %q: the session is gone", method, path, u.name, body), true
	}
	if u.n <= n && n <= u.n+u.unsure {
		u.n = n // as many of the failed writes were made
	}
	u.unsure = 0
	if n != u.n {
		want := u.n
		u.n = n // one lost (or doubled) write is one failure
		return setCookie, true, fmt.Sprintf("%s %s of %s: %q, want n=%d", method, path, u.name, body, want), false
	}
	if len(before) > 0 && sameCookies(before, u.client.Jar.Cookies(req.URL)) {
		return setCookie, true, fmt.Sprintf("%s %s of %s: the session's cookie did not change", method, path, u.name), false
	}
	return setCookie, true, "", false
}

// sameCookies reports whether two lists of cookies from a jar are alike.
func sameCookies(a, b []*http.Cookie) bool {
	return slices.EqualFunc(a, b, func(x, y *http.Cookie) bool { return x.Name == y.Name && x.Value == y.Value })
}
