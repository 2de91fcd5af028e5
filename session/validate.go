package session

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// checkCookieSettings rejects cookie settings a browser drops without a
// word, which would give every request a fresh session: a "__Host-" name
// without Secure, with a Domain or with a Path other than "/"; a "__Secure-"
// name without Secure (both prefixes match in any case, as in RFC 6265bis);
// SameSite None without Secure. It also rejects a Domain or Path that
// net/http would drop or rewrite when it writes the cookie (a Domain that is
// neither a host name, with or without a leading dot, nor an IPv4 address;
// a Path with control characters or ';').
func checkCookieSettings(cfg Config) error {
	name := cfg.CookieName
	switch {
	case hasPrefixFold(name, "__Host-") && !cfg.Secure:
		return fmt.Errorf("session: cookie %q needs Secure (the __Host- prefix)", name)
	case hasPrefixFold(name, "__Host-") && cfg.Domain != "":
		return fmt.Errorf("session: cookie %q cannot have a Domain (the __Host- prefix), got %q", name, cfg.Domain)
	case hasPrefixFold(name, "__Host-") && cfg.Path != "/":
		return fmt.Errorf(`session: cookie %q needs Path "/" (the __Host- prefix), got %q`, name, cfg.Path)
	case hasPrefixFold(name, "__Secure-") && !cfg.Secure:
		return fmt.Errorf("session: cookie %q needs Secure (the __Secure- prefix)", name)
	case strings.EqualFold(cfg.SameSite, "none") && !cfg.Secure:
		return errors.New("session: SameSite None needs Secure (browsers drop the cookie otherwise)")
	}
	if err := (&http.Cookie{Name: name, Domain: cfg.Domain}).Valid(); err != nil {
		return fmt.Errorf("session: invalid cookie Domain %q: %w", cfg.Domain, err)
	}
	if err := (&http.Cookie{Name: name, Path: cfg.Path}).Valid(); err != nil {
		return fmt.Errorf("session: invalid cookie Path %q: %w", cfg.Path, err)
	}
	return nil
}

// hasPrefixFold reports whether s begins with prefix, in any case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
