package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionx-redis/redisstore/internal/redisserver"
)

// Scenario 11: TLS to redis-server with certificates made by the test:
// the right CA connects with TLS 1.2 or later; a wrong CA, a wrong host
// name, no CA at all (the store never skips verification on its own) and a
// client capped at TLS 1.1 are refused.
func TestReliabilityTLS(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Config{TLS: true})
	// recorder returns a config that notes the version of every handshake.
	var mu sync.Mutex
	versions := map[uint16]int{}
	recorder := func(c *tls.Config) *tls.Config {
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			mu.Lock()
			versions[cs.Version]++
			mu.Unlock()
			return nil
		}
		return c
	}
	type outcome struct {
		name string
		err  error
	}
	var outcomes []outcome
	for _, tc := range []struct {
		name    string
		cfg     *tls.Config
		url     string
		wantErr func(error) bool
	}{
		{name: "right CA, name from the address (127.0.0.1)", cfg: recorder(&tls.Config{RootCAs: srv.TLS.CAPool})},
		{name: "right CA, ServerName localhost", cfg: recorder(&tls.Config{RootCAs: srv.TLS.CAPool, ServerName: srv.TLS.ServerName})},
		{name: "right CA, client capped at TLS 1.2", cfg: recorder(&tls.Config{RootCAs: srv.TLS.CAPool, MaxVersion: tls.VersionTLS12})},
		{name: "InsecureSkipVerify set by the user", cfg: &tls.Config{InsecureSkipVerify: true}},
		{name: "wrong CA", cfg: &tls.Config{RootCAs: srv.TLS.OtherCAPool}, wantErr: isUnknownAuthority},
		{name: "wrong host name", cfg: &tls.Config{RootCAs: srv.TLS.CAPool, ServerName: "evil.example"}, wantErr: isHostnameError},
		{name: "no RootCAs (system roots)", cfg: &tls.Config{}, wantErr: isUnknownAuthority},
		{name: "rediss:// URL (system roots)", url: "rediss://" + srv.TLSAddr, wantErr: isUnknownAuthority},
		{name: "client capped at TLS 1.1", cfg: &tls.Config{RootCAs: srv.TLS.CAPool, MaxVersion: tls.VersionTLS11}, wantErr: func(err error) bool { return err != nil }},
		{name: "client capped at TLS 1.1, MinVersion 1.0", cfg: &tls.Config{RootCAs: srv.TLS.CAPool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, wantErr: func(err error) bool { return err != nil }},
	} {
		opts := Options{TLSConfig: tc.cfg, DialTimeout: 2 * time.Second, URL: tc.url}
		if tc.url == "" {
			opts.Addr = srv.TLSAddr
		}
		var before tls.Config
		if tc.cfg != nil {
			before = *tc.cfg.Clone()
		}
		s, err := NewRedisStore(opts)
		if err == nil {
			roundTrip(t, s, "tls")
			s.Close()
		}
		outcomes = append(outcomes, outcome{tc.name, err})
		switch {
		case tc.wantErr == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != nil && !tc.wantErr(err):
			t.Errorf("%s: err = %v", tc.name, err)
		}
		if tc.cfg != nil && (tc.cfg.InsecureSkipVerify != before.InsecureSkipVerify || tc.cfg.MinVersion != before.MinVersion || tc.cfg.ServerName != before.ServerName) {
			t.Errorf("%s: the store changed the caller's tls.Config", tc.name)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	below12 := 0
	for v, n := range versions {
		if v < tls.VersionTLS12 {
			below12 += n
		}
	}
	summary := ""
	for _, o := range outcomes {
		res := "connected"
		if o.err != nil {
			res = "refused: " + tlsReason(o.err)
		}
		summary += fmt.Sprintf("; %s: %s", o.name, res)
	}
	t.Logf("figure: negotiated versions %s, %d below TLS 1.2%s", versionNames(versions), below12, summary)
	if len(versions) == 0 {
		t.Error("no handshake recorded")
	}
	if below12 != 0 {
		t.Errorf("%d handshakes below TLS 1.2", below12)
	}
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

func isHostnameError(err error) bool {
	var he x509.HostnameError
	return errors.As(err, &he)
}

// tlsReason names why a TLS dial failed, briefly.
func tlsReason(err error) string {
	switch {
	case isUnknownAuthority(err):
		return "x509 unknown authority"
	case isHostnameError(err):
		return "x509 host name mismatch"
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "no supported versions"):
		return "no version left (the store's MinVersion 1.2 over MaxVersion 1.1)"
	case strings.Contains(msg, "protocol version not supported"):
		return "the server's alert: protocol version not supported"
	default:
		return msg
	}
}

func versionNames(m map[uint16]int) string {
	out := ""
	for v, n := range m {
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%s x%d", tls.VersionName(v), n)
	}
	return "{" + out + "}"
}
