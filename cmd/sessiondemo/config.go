package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
)

// config is the demo's configuration, from flags and environment.
type config struct {
	addr      string // host:port of the first instance
	redisURL  string // "" means an in-process miniredis
	instances int    // how many app servers, on consecutive ports
	key       []byte // the manager's secret key
	randomKey bool   // key was generated at start
}

// parseConfig reads flags from args and falls back on REDIS_URL and
// SESSION_KEY from getenv. Usage and flag errors go to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("sessiondemo", flag.ContinueOnError)
	fs.SetOutput(out)
	var cfg config
	var keyHex string
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "`host:port` of the first instance; further instances use the next ports (port 0: a free port each)")
	fs.StringVar(&cfg.redisURL, "redis", getenv("REDIS_URL"), "Redis `URL` (redis://, rediss://, unix://); default $REDIS_URL, else an in-process miniredis")
	fs.IntVar(&cfg.instances, "instances", 1, "number of app servers sharing the store")
	fs.StringVar(&keyHex, "key", getenv("SESSION_KEY"), "secret key, 32, 48 or 64 `hex` digits; default $SESSION_KEY, else random")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.instances < 1 || cfg.instances > 16 {
		return config{}, fmt.Errorf("-instances %d: want 1 to 16", cfg.instances)
	}
	if cfg.redisURL != "" {
		if _, err := url.Parse(cfg.redisURL); err != nil {
			// url.Error quotes the whole URL, password included.
			return config{}, errors.New("-redis: malformed URL (percent-encode special characters in the password)")
		}
	}
	switch keyHex {
	case "":
		cfg.key = make([]byte, 32)
		if _, err := rand.Read(cfg.key); err != nil {
			return config{}, fmt.Errorf("random key: %w", err)
		}
		cfg.randomKey = true
	default:
		key, err := hex.DecodeString(keyHex)
		if err != nil {
			return config{}, fmt.Errorf("secret key: %w", err)
		}
		if n := len(key); n != 16 && n != 24 && n != 32 {
			return config{}, errors.New("secret key: want 32, 48 or 64 hex digits (AES-128, -192, -256)")
		}
		cfg.key = key
	}
	return cfg, nil
}

// redactedURL is raw with any password replaced, for logs.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
