package main

import "html/template"

// layout is the frame of every page; each page defines "content".
const layout = `{{define "layout"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}} · sessiondemo</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
nav a, nav form { margin-right: 1rem; display: inline; }
.flash { padding: .5rem 1rem; border-radius: .3rem; }
.info { background: #e6f4ea; } .error { background: #fce8e6; }
footer { margin-top: 2rem; color: #666; font-size: .9rem; }
</style>
</head>
<body>
<nav>
<a href="/">Counter</a>
<a href="/dashboard">Dashboard</a>
<a href="/parallel">Parallel requests</a>
{{if .User}}<form method="post" action="/logout"><button>Log out {{.User}}</button></form>{{else}}<a href="/login">Log in</a>{{end}}
</nav>
{{range .Flashes}}<p class="flash {{.Kind}}" id="flash-{{.Kind}}">{{.Message}}</p>
{{end}}<h1>{{.Title}}</h1>
{{template "content" .}}
<footer>
Served by <span id="instance">{{.Instance}}</span> at {{.URL}}.
{{range .Others}}Same session on <a href="{{.}}/">{{.}}</a>. {{end}}
</footer>
</body>
</html>
{{end}}`

// parallelPage logs in with fetch while eight other requests of the session
// run, as a page whose images and scripts load during a login does. Each
// of them writes its own Data key; none may undo the login, and those that
// ran entirely before or after it keep their key.
const parallelPage = `{{define "content"}}
{{if .User}}<p>Logged in as <strong id="user">{{.User}}</strong>.</p>{{else}}<p>You are not logged in.</p>{{end}}
<p>Parallel requests recorded in this session: <strong id="ticks">{{len .Ticks}}</strong>{{range .Ticks}} {{.}}{{end}}.</p>
<form id="parallel-login">
<label>User name <input name="user" maxlength="32" required></label>
<button>Log in while 8 other requests run</button>
</form>
<p>The button posts the login and, at the same moment, eight requests that each write their own
key into the session. Whatever order they reach the servers in, you stay logged in: a request
that loaded the pre-login session and saves after the login is dropped, and none of them sends a
cookie that would replace the logged-in one. Requests that ran wholly before or after the login
keep their keys.</p>
<script>
document.getElementById("parallel-login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = new URLSearchParams(new FormData(e.target));
  // The login first: the browser opens 6 connections per host, and the
  // ticks queued behind it would otherwise all run before it.
  const login = fetch("/login", {method: "POST", body});
  const ticks = [...Array(8).keys()].map((n) => fetch("/tick?n=" + n, {method: "POST"}));
  await Promise.allSettled([login, ...ticks]);
  location.href = "/parallel";
});
</script>
{{end}}`

// pages maps each page name to its template, the layout included.
var pages = map[string]*template.Template{
	"home": page(`{{define "content"}}
<p>You have visited this page <strong id="visits">{{.Visits}}</strong> time{{if ne .Visits 1}}s{{end}} in this session.</p>
{{if .User}}<p>Logged in as <strong id="user">{{.User}}</strong>.</p>{{else}}<p>You are not logged in.</p>{{end}}
{{end}}`),
	"login": page(`{{define "content"}}
<form method="post" action="/login">
<label>User name <input name="user" maxlength="32" autofocus required></label>
<button>Log in</button>
</form>
<p>No password: this demo shows sessions, not authentication.</p>
{{end}}`),
	"dashboard": page(`{{define "content"}}
<p>Hello, <strong id="user">{{.User}}</strong>.</p>
<p>Visits counted in this session: <strong id="visits">{{.Visits}}</strong>.</p>
<p>Open the other instance: the session lives in Redis, so it follows you.</p>
<h2>Your devices</h2>
<table id="devices">
<tr><th>Signed in (UTC)</th><th>Last seen (UTC)</th><th></th></tr>
{{range .Devices}}<tr class="device{{if .Current}} current{{end}}"><td>{{.Created}}</td><td>{{.LastSeen}}</td>
<td>{{if .Current}}<strong>this device</strong>{{else}}<form method="post" action="/devices/logout"><input type="hidden" name="handle" value="{{.Handle}}"><button>Log out this device</button></form>{{end}}</td></tr>
{{end}}</table>
{{if gt (len .Devices) 1}}<form method="post" action="/devices/logout-others" id="logout-others"><button>Log out all other devices</button></form>{{end}}
<p>Log in as the same user in another browser (or a private window) to see a second device.
The list comes from the user's index in Redis: a sorted set of the user's sessions.</p>
{{end}}`),
	"parallel": page(parallelPage),
}

// page parses content with the layout.
func page(content string) *template.Template {
	return template.Must(template.Must(template.New("layout").Parse(layout)).Parse(content))
}
