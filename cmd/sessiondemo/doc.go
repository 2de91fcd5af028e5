// Sessiondemo is a small web app showing redisstore and its session
// manager: a visit counter, login / dashboard / logout with the session ID
// rotated on login, flash messages, and a page whose login runs beside
// eight other requests of the session (/parallel) and stays logged in.
//
// Usage:
//
//	go run ./cmd/sessiondemo [-addr 127.0.0.1:8080] [-redis URL] [-instances N] [-key HEX]
//
// By default it starts an in-process Redis (miniredis), so it runs on a
// machine with no Redis server. -redis (or the REDIS_URL environment
// variable) points it at a real one, e.g. redis://localhost:6379/0.
// -instances 2 starts two app servers on consecutive ports; each has its
// own store connection and manager and they share only Redis, so a session
// made on one is used on the other, as behind a load balancer.
//
// The secret key (-key or SESSION_KEY, 32, 48 or 64 hex digits) is only
// required by the manager's API here, since sessions live in Redis; without
// one a random key is made at start. Cookies are sent over plain HTTP
// (session.DevConfig): do not use this configuration in production.
package main
