package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// handles returns the handles of the "log out this device" buttons of a
// dashboard, in the order shown (newest device first).
func handles(p response) []string {
	var hs []string
	for _, m := range regexp.MustCompile(`name="handle" value="([^"]*)"`).FindAllStringSubmatch(p.body, -1) {
		hs = append(hs, m[1])
	}
	return hs
}

// TestEndToEndYourDevices logs one user in on three browsers over two
// instances (and another user on a fourth), then logs out one device by
// its button and all the others by "log out all other devices", on the
// demo's default in-process Redis.
func TestEndToEndYourDevices(t *testing.T) {
	d := startDemo(t, "-addr", "127.0.0.1:0", "-instances", "2")
	a, b := d.instances[0].url, d.instances[1].url
	phone, laptop, tablet, bob := newBrowser(t), newBrowser(t), newBrowser(t), newBrowser(t)
	for _, login := range []struct {
		br   *browser
		base string
		user string
	}{{phone, a, "alice"}, {laptop, b, "alice"}, {tablet, a, "alice"}, {bob, b, "bob"}} {
		p := login.br.post(login.base+"/login", url.Values{"user": {login.user}})
		want(t, "login", p, login.base+"/dashboard", map[string]string{"user": login.user})
	}

	p := laptop.get(b + "/dashboard")
	if n, cur := strings.Count(p.body, `class="device`), strings.Count(p.body, `class="device current"`); n != 3 || cur != 1 {
		t.Fatalf("the laptop's dashboard lists %d devices, %d of them current; want 3 and 1:\n%s", n, cur, p.body)
	}
	hs := handles(p)
	if len(hs) != 2 {
		t.Fatalf("%d log-out buttons, want 2", len(hs))
	}
	for _, h := range hs {
		for _, br := range []*browser{phone, laptop, tablet, bob} {
			if c := br.cookie(a); c == "" || strings.Contains(p.body, c) {
				t.Errorf("the dashboard shows a session cookie (handle %q)", h)
			}
		}
	}

	// Newest first: the tablet's row comes first.
	p = laptop.post(b+"/devices/logout", url.Values{"handle": {hs[0]}})
	want(t, "log out this device", p, b+"/dashboard", nil)
	if !strings.Contains(p.field("flash-info"), "is logged out") {
		t.Errorf("no flash after logging a device out: %q", p.body)
	}
	want(t, "the tablet after it was logged out", tablet.get(a+"/dashboard"), a+"/login", nil)
	want(t, "the phone", phone.get(a+"/dashboard"), a+"/dashboard", map[string]string{"user": "alice"})
	p = laptop.post(b+"/devices/logout", url.Values{"handle": {hs[0]}})
	if !strings.Contains(p.field("flash-error"), "logged out already") {
		t.Errorf("logging a device out twice: %q", p.body)
	}

	p = laptop.post(b+"/devices/logout-others", nil)
	want(t, "log out all other devices", p, b+"/dashboard", map[string]string{"user": "alice", "flash-info": "Logged out 1 other device."})
	if n := strings.Count(p.body, `class="device`); n != 1 {
		t.Errorf("%d devices listed after logging out the others, want 1", n)
	}
	want(t, "the phone after log out everywhere", phone.get(b+"/dashboard"), b+"/login", nil)
	want(t, "the other user", bob.get(a+"/dashboard"), a+"/dashboard", map[string]string{"user": "bob"})
}
