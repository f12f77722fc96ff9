package httpapi

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestTokenCheckComparesDigests(t *testing.T) {
	const token = "s3cret-token"
	check := newTokenCheck(token)
	if check.want != sha256.Sum256([]byte(token)) {
		t.Fatal("the check does not keep the token's digest")
	}
	if !check.matches(token) {
		t.Fatal("the token itself does not match")
	}
	for _, got := range []string{"", "s", token[:len(token)-1], token + "x", "x" + token, strings.ToUpper(token), token + "\x00", strings.Repeat(token, 100)} {
		if check.matches(got) {
			t.Errorf("%q matches", got)
		}
	}
	if newTokenCheck("").matches("x") || !newTokenCheck("").matches("") {
		t.Error("digests of different lengths compare wrongly")
	}
}

func TestHostAllowed(t *testing.T) {
	allowed := []string{"skygate.example", ".lan.example", "192.0.2.7"}
	for host, want := range map[string]bool{
		"":                          true,
		"localhost":                 true,
		"localhost:8080":            true,
		"LocalHost.:8080":           true,
		"app.localhost":             true,
		"a.b.localhost:1":           true,
		"127.0.0.1":                 true,
		"127.0.0.1:8080":            true,
		"127.1.2.3:80":              true,
		"[::1]":                     true,
		"[::1]:8080":                true,
		"[::ffff:127.0.0.1]:80":     true,
		"skygate.example":           true,
		"skygate.example:443":       true,
		"lan.example":               true,
		"x.lan.example":             true,
		"192.0.2.7:8080":            true,
		"evil.example":              false,
		"localhost.evil.example":    false,
		"localhostx":                false,
		"xlocalhost":                false,
		"evil.example:80.localhost": false,
		"skygate.example.evil":      false,
		"xlan.example":              false,
		"10.0.0.1":                  false,
		"[::2]:80":                  false,
		"0.0.0.0:8080":              false,
		"[::]:8080":                 false,
		"localhost@evil.example":    false,
		"[::1":                      false,
	} {
		if got := hostAllowed(host, allowed); got != want {
			t.Errorf("hostAllowed(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseOriginsAndHosts(t *testing.T) {
	origins, err := ParseOrigins(" https://App.example.com, http://localhost:5173,,")
	if err != nil || strings.Join(origins, " ") != "https://app.example.com http://localhost:5173" {
		t.Fatalf("ParseOrigins: %v %v", origins, err)
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/", "https://*.example.com", "*", "https://a.example?x=1"} {
		if _, err := ParseOrigins(bad); err == nil {
			t.Errorf("ParseOrigins(%q) accepted", bad)
		}
	}
	hosts, err := ParseHosts("Skygate.Example., .lan.example, ::1 ,192.0.2.7")
	if err != nil || strings.Join(hosts, " ") != "skygate.example .lan.example ::1 192.0.2.7" {
		t.Fatalf("ParseHosts: %v %v", hosts, err)
	}
	for _, bad := range []string{"https://skygate.example", "skygate.example:8080", "*.example.com", "a b", "user@host"} {
		if _, err := ParseHosts(bad); err == nil {
			t.Errorf("ParseHosts(%q) accepted", bad)
		}
	}
}

func TestGuardedPaths(t *testing.T) {
	for path, want := range map[string]bool{
		"/cluster": true, "/cluster/": true, "/cluster/status": true, "/clusters": true, "/clusters/a/launch": true,
		"/events": true, "/events/x": true, "/metrics": true,
		"/": false, "/healthz": false, "/clusterx": false, "/eventsx": false, "/docs": false, "/openapi.json": false, "/schemas/X.json": false, "/assets/cluster/x.js": false,
	} {
		if got := guarded(path); got != want {
			t.Errorf("guarded(%q) = %v", path, got)
		}
	}
}
