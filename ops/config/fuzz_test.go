package config

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"
)

// FuzzHomeserverYAML: whatever homeserver.yaml holds, reading it never
// panics, and what it finds is usable: the client and metrics URLs are
// http(s) URLs with a host, and a discovered DSN parses (our parser and
// pgx's) without its Redacted form showing the password.
func FuzzHomeserverYAML(f *testing.F) {
	f.Add([]byte(realisticHomeserverYAML))
	f.Add([]byte("server_name: x\nlisteners: [{port: 8008, type: http, resources: [{names: [client]}]}]\n"))
	f.Add([]byte("listeners: [{port: '99999', type: http}, {path: /run/s.sock, type: http}, {port: 9000, type: metrics, bind_addresses: ['::1']}]\nenable_metrics: true\n"))
	f.Add([]byte("database: {name: psycopg2, args: {user: u, password: 'p#ss/w@x', host: '/run/postgresql', port: 5433, database: synapse}}\n"))
	f.Add([]byte("database: {name: psycopg2, args: {user: 'a b', password: ':@/?#[]%', host: '::1', dbname: 'd b'}}\n"))
	f.Add([]byte("database: {name: sqlite3, args: {database: /data/homeserver.db}}\n"))
	f.Add([]byte("database: [1, 2]\nlisteners: {a: b}\nretention: {enabled: true, purge_jobs: [{interval: 1d}]}\n"))
	f.Add([]byte("log_config: /nonexistent/log.yaml\nregistration_shared_secret_path: /nonexistent\n"))
	f.Add([]byte("\t- not yaml: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "homeserver.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := DiscoverHomeserver(context.Background(), path)
		if err != nil {
			return
		}
		checkHomeserver(t, h, "")
	})
}

// FuzzHomeserverDatabase builds the database section from fuzzed values:
// the DSN synops makes of it gives back exactly the user, password and
// database written, to pgx too, and Redacted never shows the password.
func FuzzHomeserverDatabase(f *testing.F) {
	f.Add("synapse", "s3cret", "db.internal", "5432", "synapse")
	f.Add("u", "p#ss/w", "/run/postgresql", "", "synapse")
	f.Add("u", "a@b:c/d?e#f%g h'i\"j\\k", "::1", "5433", "d b")
	f.Add("", "", "", "", "x")
	f.Add("user@host", "pass", "127.0.0.1", "1", "db/x")
	f.Add("0", "0", "0", "", "@") // once read back as password "0@0/": an '@' in the database name went unescaped
	f.Fuzz(func(t *testing.T, user, password, host, port, db string) {
		for _, s := range []string{user, password, host, port, db} {
			if !utf8.ValidString(s) {
				return // yaml writes such a string as !!binary: not text an operator types
			}
		}
		doc := map[string]any{"database": map[string]any{"name": "psycopg2", "args": map[string]any{
			"user": user, "password": password, "host": host, "port": port, "database": db}}}
		data, err := yaml.Marshal(doc)
		if err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "homeserver.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := DiscoverHomeserver(context.Background(), path)
		if err != nil {
			t.Fatalf("valid YAML %q: %v", data, err)
		}
		checkHomeserver(t, h, password)
		if !h.SynapseDB.Set() {
			return
		}
		p, err := parseDSN(h.SynapseDB.Raw.Reveal())
		if err != nil {
			return // a database name or host the URL form cannot hold: shown as "(invalid DSN)"
		}
		if p.password != password || p.user != strings.TrimSpace(user) {
			t.Fatalf("user %q password %q became user %q password %q", user, password, p.user, p.password)
		}
		if cfg, err := pgx.ParseConfig(h.SynapseDB.Raw.Reveal()); err == nil && p.password != "" && cfg.Password != password {
			t.Fatalf("pgx reads password %q, want %q", cfg.Password, password)
		}
	})
}

func checkHomeserver(t *testing.T, h *Homeserver, password string) {
	t.Helper()
	for _, u := range append([]string{h.ListenerURL}, h.MetricsURLs...) {
		if u == "" {
			continue
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			t.Fatalf("discovered URL %q is not an http(s) URL with a host (%v)", u, err)
		}
	}
	shown := h.SynapseDB.Redacted()
	if len(password) >= 4 && strings.Contains(shown, password) {
		t.Fatalf("Redacted %q shows the password %q", shown, password)
	}
}
