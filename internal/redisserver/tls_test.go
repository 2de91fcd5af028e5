package redisserver

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestTLSHandshake(t *testing.T) {
	start := time.Now()
	s := Start(t, Config{TLS: true, Password: "pw"})
	t.Logf("TLS server up in %v", time.Since(start))
	if s.TLSAddr == "" || s.TLSAddr == s.Addr || s.TLS == nil {
		t.Fatalf("TLSAddr=%q Addr=%q TLS=%v", s.TLSAddr, s.Addr, s.TLS)
	}
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("plain admin PING = %q", got)
	}
	tests := []struct {
		name       string
		pool       *x509.CertPool
		serverName string
		ok         bool
	}{
		{"right CA, localhost", s.TLS.CAPool, s.TLS.ServerName, true},
		{"right CA, IP SAN", s.TLS.CAPool, "127.0.0.1", true},
		{"unrelated CA", s.TLS.OtherCAPool, s.TLS.ServerName, false},
		{"wrong host name", s.TLS.CAPool, "redis.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: tt.pool, ServerName: tt.serverName, MinVersion: tls.VersionTLS12}
			d := &net.Dialer{Timeout: 5 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", s.TLSAddr, cfg)
			if !tt.ok {
				if err == nil {
					c.Close()
					t.Fatal("handshake succeeded, want a verification error")
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(encodeCommand("AUTH", "pw")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(encodeCommand("PING")); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(c)
			for _, want := range []string{"+OK", "+PONG"} {
				if got, err := readLine(r); err != nil || got != want {
					t.Fatalf("reply = %q, %v; want %q", got, err, want)
				}
			}
		})
	}
}

func TestTLSClientAuth(t *testing.T) {
	s := Start(t, Config{TLS: true, TLSAuthClients: true})
	cfg := s.TLS.ClientConfig()
	c, err := tls.Dial("tcp", s.TLSAddr, cfg)
	if err != nil {
		t.Fatalf("with client certificate: %v", err)
	}
	c.Close()
	cfg.Certificates = nil
	c, err = tls.Dial("tcp", s.TLSAddr, cfg)
	if err == nil {
		// TLS 1.3 reports a missing client certificate on the first read.
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(encodeCommand("PING"))
		_, err = bufio.NewReader(c).ReadString('\n')
		c.Close()
	}
	if err == nil {
		t.Fatal("server accepted a client without certificate")
	}
}
