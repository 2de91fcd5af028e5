package session

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxCookieSize is what browsers keep of one Set-Cookie (RFC 6265 asks for
// at least 4096 bytes of name, value and attributes).
const maxCookieSize = 4096

// cacheControlSetCookie keeps shared caches from storing the Set-Cookie
// header with the response.
const cacheControlSetCookie = `no-cache="Set-Cookie"`

// seal encrypts plain with AES-GCM under a random nonce, the cookie name as
// associated data (a value sealed for one cookie does not open as another),
// and encodes nonce||ciphertext in standard base64 without padding.
func (m *Manager) seal(plain []byte) (string, error) {
	nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(plain)+m.aead.Overhead())
	if err := readRandom(nonce); err != nil {
		return "", fmt.Errorf("%w: %w", ErrEncryptionFailed, err)
	}
	sealed := m.aead.Seal(nonce, nonce, plain, []byte(m.cfg.CookieName))
	return base64.RawStdEncoding.EncodeToString(sealed), nil
}

// open reverses seal.
func (m *Manager) open(value string) ([]byte, error) {
	raw, err := base64.RawStdEncoding.DecodeString(value)
	if err != nil || len(raw) < m.aead.NonceSize()+m.aead.Overhead() {
		return nil, ErrInvalidSession
	}
	n := m.aead.NonceSize()
	plain, err := m.aead.Open(nil, raw[:n], raw[n:], []byte(m.cfg.CookieName))
	if err != nil {
		return nil, ErrDecryptionFailed
	}
	return plain, nil
}

// maxCookieMaxAge caps the cookie's Max-Age. Browsers cap it at 400 days
// anyway (RFC 6265bis), and the cap keeps the conversion to seconds of a
// huge MaxAge from overflowing into a tiny or negative Max-Age.
const maxCookieMaxAge = 400 * 24 * time.Hour

// cookie returns the session cookie carrying value. maxAge > 0 becomes
// Max-Age in whole seconds (at least 1, at most 400 days); zero makes a
// browser-session cookie.
func (m *Manager) cookie(value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    value,
		Path:     m.cfg.Path,
		Domain:   m.cfg.Domain,
		Secure:   m.cfg.Secure,
		HttpOnly: m.cfg.HttpOnly,
		SameSite: sameSiteMode(m.cfg.SameSite),
	}
	if maxAge > 0 {
		c.MaxAge = max(int((min(maxAge, maxCookieMaxAge)+time.Second-1)/time.Second), 1)
	}
	return c
}

// expiredCookie returns the cookie that clears the session cookie: the same
// Name, Path, Domain, Secure, HttpOnly and SameSite (a browser only replaces
// a cookie whose name, domain and path match, and may refuse a SameSite=None
// one without Secure), an empty value and Max-Age=0.
func (m *Manager) expiredCookie() *http.Cookie {
	c := m.cookie("", 0)
	c.MaxAge = -1
	c.Expires = time.Unix(1, 0)
	return c
}

// setCookie adds c to h in place of any Set-Cookie of the same name added
// earlier in this response (a second save or a Destroy followed by a save
// must not leave the browser two answers), and marks the response as not
// cacheable with its Set-Cookie.
func setCookie(h http.Header, c *http.Cookie) {
	line := c.String()
	kept := h["Set-Cookie"][:0]
	for _, v := range h["Set-Cookie"] {
		if name, _, _ := strings.Cut(v, "="); strings.TrimSpace(name) != c.Name {
			kept = append(kept, v)
		}
	}
	h["Set-Cookie"] = append(kept, line)
	guardCaching(h, c.Name)
}

// dropCookie removes a Set-Cookie of name added earlier in this response:
// the session it named ended before the response started.
func dropCookie(h http.Header, name string) {
	kept := h["Set-Cookie"][:0]
	for _, v := range h["Set-Cookie"] {
		if n, _, _ := strings.Cut(v, "="); strings.TrimSpace(n) != name {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		h.Del("Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}

// guardCaching makes h say that the response depends on the session: it
// varies on Cookie and, when it sets the cookie name, shared caches may not
// store its Set-Cookie. The middleware calls it again as the response
// starts, after handlers may have replaced Vary or Cache-Control.
func guardCaching(h http.Header, name string) {
	addVary(h)
	if setsCookie(h, name) && !headerHas(h, "Cache-Control", cacheControlSetCookie) {
		h.Add("Cache-Control", cacheControlSetCookie)
	}
}

// setsCookie reports whether h sets the cookie name.
func setsCookie(h http.Header, name string) bool {
	for _, v := range h["Set-Cookie"] {
		if n, _, _ := strings.Cut(v, "="); strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// addVary adds "Vary: Cookie" unless the response already varies on it:
// a response that depends on the session depends on the Cookie header.
func addVary(h http.Header) {
	if !headerHas(h, "Vary", "Cookie") && !headerHas(h, "Vary", "*") {
		h.Add("Vary", "Cookie")
	}
}

// headerHas reports whether a comma-separated header lists token (case
// insensitively).
func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
