package main

import (
	"io"
	"log"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	key64 := strings.Repeat("ab", 32)
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantErr   bool
		redisURL  string
		instances int
		keyLen    int
		random    bool
	}{
		{name: "defaults", instances: 1, keyLen: 32, random: true},
		{name: "REDIS_URL", env: map[string]string{"REDIS_URL": "redis://h:1/2"}, redisURL: "redis://h:1/2", instances: 1, keyLen: 32, random: true},
		{name: "flag beats env", args: []string{"-redis", "redis://f:1"}, env: map[string]string{"REDIS_URL": "redis://e:1"}, redisURL: "redis://f:1", instances: 1, keyLen: 32, random: true},
		{name: "SESSION_KEY", env: map[string]string{"SESSION_KEY": key64}, instances: 1, keyLen: 32},
		{name: "16-byte key flag", args: []string{"-key", strings.Repeat("0f", 16)}, instances: 1, keyLen: 16},
		{name: "two instances", args: []string{"-instances", "2"}, instances: 2, keyLen: 32, random: true},
		{name: "zero instances", args: []string{"-instances", "0"}, wantErr: true},
		{name: "key not hex", args: []string{"-key", "zz"}, wantErr: true},
		{name: "key of 20 bytes", args: []string{"-key", strings.Repeat("00", 20)}, wantErr: true},
		{name: "stray argument", args: []string{"extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error for %v", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.redisURL != tt.redisURL || cfg.instances != tt.instances || len(cfg.key) != tt.keyLen || cfg.randomKey != tt.random {
				t.Errorf("got redis %q, instances %d, key %d bytes, random %v", cfg.redisURL, cfg.instances, len(cfg.key), cfg.randomKey)
			}
			if cfg.addr != "127.0.0.1:8080" {
				t.Errorf("addr %q, want 127.0.0.1:8080", cfg.addr)
			}
		})
	}
}

func TestRedactedURL(t *testing.T) {
	got := redactedURL("redis://user:s3cret@host:6379/0")
	if strings.Contains(got, "s3cret") {
		t.Errorf("password in %q", got)
	}
}

// A malformed -redis URL is reported without quoting it: it may hold a
// password.
func TestBadRedisURLErrorHidesThePassword(t *testing.T) {
	for _, raw := range []string{"redis://:hunter2%zz@localhost:6379/0", "redis://user:hunter2@local host:6379"} {
		_, err := parseConfig([]string{"-redis", raw}, func(string) string { return "" }, io.Discard)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parseConfig(-redis %q) = %v; want an error without the password", raw, err)
		}
	}
}

// A start that fails returns its error (and stops what it started) instead
// of panicking in its cleanup.
func TestStartFailureReturnsTheError(t *testing.T) {
	cfg := config{addr: "127.0.0.1:notaport", instances: 1, key: make([]byte, 32)}
	if d, err := start(cfg, log.New(io.Discard, "", 0)); err == nil || d != nil {
		t.Fatalf("start with a bad -addr = %v, %v; want nil and an error", d, err)
	}
}
