package session

import (
	"net/http"
	"strings"
	"time"
)

// Config configures a Manager. DefaultConfig and DevConfig fill it with the
// sessionx defaults; the With* options change single fields.
type Config struct {
	// CookieName is the name of the session cookie. Zero means "sessionx".
	CookieName string
	// SecretKey is the AES key sealing cookies when Store is nil: 16, 24 or
	// 32 bytes (AES-128, -192, -256). NewManager requires it even with a
	// Store, as sessionx does.
	SecretKey []byte
	// MaxAge is the idle timeout: a session not written for longer is
	// expired. It is also the cookie's Max-Age, capped at 400 days as
	// browsers cap it. Zero means no idle timeout and a browser-session
	// cookie. Default 24h.
	MaxAge time.Duration
	// Path is the cookie's Path. Default "/"; zero leaves it to the browser.
	Path string
	// Domain is the cookie's Domain. Zero (the default) means host-only.
	Domain string
	// Secure marks the cookie HTTPS-only. True in DefaultConfig, false in
	// DevConfig.
	Secure bool
	// HttpOnly hides the cookie from scripts. Default true.
	HttpOnly bool
	// SameSite is "Lax", "Strict" or "None" (any case). Default "Lax"; any
	// other value means Lax, as in sessionx.
	SameSite string
	// RotationInterval rotates a session's ID, when it is saved, once this
	// long has passed since it was last rotated (or created); the old ID
	// is retired once the new one is saved (a marker for RotationGrace
	// with a VersionedStore, deleted with other stores). Zero disables
	// automatic rotation. Default 15m.
	RotationInterval time.Duration
	// Store holds sessions server-side, the cookie then holding only the ID.
	// Nil (the default) seals the whole session into the cookie.
	Store Store
	// AbsoluteTimeout caps a session's life from its CreatedAt, however
	// active it is. Zero (the default) means no cap, as in sessionx. With a
	// cap, the cookie's Max-Age and the TTL given to a TTLStore are the
	// smaller of MaxAge and what remains of the cap.
	AbsoluteTimeout time.Duration
	// RotationGrace is how long an ID rotated away keeps a marker that
	// serves requests still carrying it (with a VersionedStore): after an
	// automatic rotation the old ID forwards to the new session and the
	// response sends the new cookie again; after an explicit Rotate it
	// loads an empty session that is neither saved nor sent as a cookie.
	// Afterwards the old ID loads nothing, and while its marker remains
	// (as long again as RotationInterval, or the grace if longer) a
	// request with it is reported to StaleIDHandler. Zero means the
	// default, 30s; a negative value keeps no grace.
	RotationGrace time.Duration
	// StaleIDHandler, when set, is called with each request that carries
	// an ID rotated away longer than RotationGrace ago, for apps that take
	// it as a sign of a stolen cookie. The request gets a fresh session
	// all the same. Nil (the default) ignores them.
	StaleIDHandler func(r *http.Request)
	// CookieMigration lets a manager with a Store accept a session sealed
	// in the cookie by a manager without one (same SecretKey and
	// CookieName): it is saved to the Store under a fresh ID and the ID
	// cookie replaces the sealed one. False (the default) starts such a
	// request with a fresh session.
	CookieMigration bool
	// ErrorHandler answers a request whose session could not be loaded or
	// saved because of the store, the random source or the data. Nil means
	// a plain-text 503 Service Unavailable, with the error logged.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// users is the user index WithUserKey sets: nil keeps none. No
	// exported field sets it, so that a program that never calls
	// WithUserKey links none of the index's code.
	users userIndex
}

// ConfigOption changes one field of a Config; DefaultConfig and DevConfig
// apply them in order.
type ConfigOption func(*Config)

// DefaultConfig returns the production configuration for secretKey: cookie
// "sessionx", MaxAge 24h, Path "/", Secure, HttpOnly, SameSite Lax,
// RotationInterval 15m, RotationGrace 30s, no Store, no absolute timeout;
// then applies opts.
func DefaultConfig(secretKey []byte, opts ...ConfigOption) Config {
	cfg := Config{
		CookieName:       "sessionx",
		SecretKey:        secretKey,
		MaxAge:           24 * time.Hour,
		Path:             "/",
		Secure:           true,
		HttpOnly:         true,
		SameSite:         "Lax",
		RotationInterval: 15 * time.Minute,
		RotationGrace:    defaultRotationGrace,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg
}

// DevConfig returns DefaultConfig without the Secure flag, so the cookie
// works over plain HTTP on localhost; then applies opts.
func DevConfig(secretKey []byte, opts ...ConfigOption) Config {
	cfg := DefaultConfig(secretKey)
	cfg.Secure = false
	for _, opt := range opts {
		opt(&cfg)
	}
	return cfg
}

// WithMaxAge sets the idle timeout and cookie Max-Age (at most 400 days).
func WithMaxAge(d time.Duration) ConfigOption { return func(c *Config) { c.MaxAge = d } }

// WithCookieName sets the cookie name.
func WithCookieName(name string) ConfigOption { return func(c *Config) { c.CookieName = name } }

// WithDomain sets the cookie Domain.
func WithDomain(domain string) ConfigOption { return func(c *Config) { c.Domain = domain } }

// WithPath sets the cookie Path.
func WithPath(path string) ConfigOption { return func(c *Config) { c.Path = path } }

// WithSecure sets the cookie's Secure flag.
func WithSecure(secure bool) ConfigOption { return func(c *Config) { c.Secure = secure } }

// WithHttpOnly sets the cookie's HttpOnly flag.
func WithHttpOnly(httpOnly bool) ConfigOption { return func(c *Config) { c.HttpOnly = httpOnly } }

// WithSameSite sets the cookie's SameSite attribute: "Lax", "Strict" or
// "None".
func WithSameSite(sameSite string) ConfigOption { return func(c *Config) { c.SameSite = sameSite } }

// WithRotationInterval sets the automatic ID rotation interval; zero
// disables it.
func WithRotationInterval(d time.Duration) ConfigOption {
	return func(c *Config) { c.RotationInterval = d }
}

// WithRotationGrace sets how long a rotated-away ID still serves requests
// (see Config.RotationGrace); a negative d keeps no grace.
func WithRotationGrace(d time.Duration) ConfigOption {
	return func(c *Config) { c.RotationGrace = d }
}

// WithStaleIDHandler sets the function told of requests carrying an ID
// rotated away longer than the grace ago (see Config.StaleIDHandler).
func WithStaleIDHandler(h func(r *http.Request)) ConfigOption {
	return func(c *Config) { c.StaleIDHandler = h }
}

// WithCookieMigration lets a manager with a Store take over sessions
// sealed in the cookie by a store-less manager with the same key (see
// Config.CookieMigration).
func WithCookieMigration() ConfigOption { return func(c *Config) { c.CookieMigration = true } }

// WithUserKey makes the manager index each session it saves under the
// user that its Data holds under key (a string, or a number, which counts
// by its decimal text), with a UserStore, for UserSessions, RevokeUser and
// RevokeSession (see "Log out everywhere" in the package doc). A save of a
// session whose value under key names no user (see ErrInvalidUser) fails
// before any I/O. An empty key keeps no index, as without the option.
func WithUserKey(key string) ConfigOption {
	return func(c *Config) {
		c.users = nil
		if key != "" {
			c.users = userKey(key)
		}
	}
}

// WithStore keeps sessions in store; the cookie then holds only the ID.
func WithStore(store Store) ConfigOption { return func(c *Config) { c.Store = store } }

// WithAbsoluteTimeout caps every session's life at d from its creation;
// zero keeps sessionx's behaviour (idle timeout only).
func WithAbsoluteTimeout(d time.Duration) ConfigOption {
	return func(c *Config) { c.AbsoluteTimeout = d }
}

// WithErrorHandler sets the function that answers requests whose session
// could not be loaded or saved (default: 503 in plain text).
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) ConfigOption {
	return func(c *Config) { c.ErrorHandler = h }
}

// defaultRotationGrace is RotationGrace's default.
const defaultRotationGrace = 30 * time.Second

// sameSiteMode maps Config.SameSite to net/http's value; unknown means Lax.
func sameSiteMode(s string) http.SameSite {
	switch strings.ToLower(s) {
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	default:
		return http.SameSiteLaxMode
	}
}
