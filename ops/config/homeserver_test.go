package config

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A homeserver.yaml shaped like the one Synapse generates, with the extras an
// OpenMeet box has: a metrics listener, Postgres on a unix socket, the shared
// secret in a file and a log config.
const realisticHomeserverYAML = `# Configuration file for Synapse.
server_name: "example.org"
pid_file: /data/homeserver.pid
public_baseurl: https://matrix.example.org/
listeners:
  - port: 8448
    type: http
    tls: true
    resources:
      - names: [federation]
  - port: 8008
    tls: false
    type: http
    x_forwarded: true
    bind_addresses: ['::1', '127.0.0.1']
    resources:
      - names: [client, federation]
        compress: false
  - port: 9000
    type: metrics
    bind_addresses: ['0.0.0.0']
  - type: http
    port: 9101
    bind_addresses: ['10.0.0.5']
    resources:
      - names: [metrics]
  - type: manhole
    port: 9999
enable_metrics: true
database:
  name: psycopg2
  txn_limit: 10000
  args:
    user: synapse_user
    password: "p@ss/w:rd#1"
    database: synapse
    host: /var/run/postgresql
    port: 5432
    cp_min: 5
    cp_max: 10
    keepalives_idle: 10
    sslmode: disable
log_config: "example.org.log.config"
media_store_path: media_store
registration_shared_secret_path: secrets/registration
report_stats: false
macaroon_secret_key: "not-read-by-synops"
form_secret: "not-read-by-synops"
signing_key_path: "/data/example.org.signing.key"
trusted_key_servers:
  - server_name: "matrix.org"
experimental_features:
  msc3266_enabled: true
`

const realisticLogConfig = `version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  console:
    class: logging.StreamHandler
    formatter: precise
  file:
    class: logging.handlers.TimedRotatingFileHandler
    formatter: precise
    filename: homeserver.log
    when: midnight
    backupCount: 3
    encoding: utf8
  buffer:
    class: synapse.logging.handlers.PeriodicallyFlushingMemoryHandler
    target: file
    capacity: 10
loggers:
  synapse.storage.SQL:
    level: INFO
root:
  level: INFO
  handlers: [buffer]
disable_existing_loggers: false
`

const sharedSecret = "Reg1stration-Shared-Secret-xyz"

// writeHomeserver writes homeserver.yaml and its companions into a temp dir and
// returns the homeserver.yaml path.
func writeHomeserver(t *testing.T, hsYAML string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"homeserver.yaml":        hsYAML,
		"example.org.log.config": realisticLogConfig,
		"secrets/registration":   "  " + sharedSecret + "\n",
		"homeserver.log":         "",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "media_store"), 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "homeserver.yaml")
}

func TestDiscoverHomeserver(t *testing.T) {
	path := writeHomeserver(t, realisticHomeserverYAML)
	dir := filepath.Dir(path)
	h, err := DiscoverHomeserver(context.Background(), path)
	if err != nil {
		t.Fatalf("DiscoverHomeserver: %v", err)
	}
	checks := []struct {
		name, got, want string
	}{
		{"Path", h.Path, path},
		{"ServerName", h.ServerName, "example.org"},
		{"PublicBaseURL", h.PublicBaseURL, "https://matrix.example.org/"},
		{"ListenerURL", h.ListenerURL, "http://[::1]:8008"},
		{"ClientURL", h.ClientURL(), "http://[::1]:8008"},
		{"DatabaseEngine", h.DatabaseEngine, "psycopg2"},
		{"SynapseDB raw", h.SynapseDB.Raw.Reveal(), "postgres://synapse_user:p%40ss%2Fw%3Ard%231@/synapse?host=%2Fvar%2Frun%2Fpostgresql&port=5432&sslmode=disable"},
		{"SynapseDB redacted", h.SynapseDB.Redacted(), "synapse_user@/var/run/postgresql:5432/synapse"},
		{"MediaStore", h.MediaStore, filepath.Join(dir, "media_store")},
		{"RegistrationSharedSecret", h.RegistrationSharedSecret.Reveal(), sharedSecret},
		{"LogConfig", h.LogConfig, filepath.Join(dir, "example.org.log.config")},
		{"LogFile", h.LogFile, filepath.Join(dir, "homeserver.log")},
		{"SigningKey", h.SigningKey, "/data/example.org.signing.key"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	wantMetrics := []string{"http://127.0.0.1:9000/_synapse/metrics", "http://10.0.0.5:9101/_synapse/metrics"}
	if !slices.Equal(h.MetricsURLs, wantMetrics) {
		t.Errorf("MetricsURLs = %q, want %q", h.MetricsURLs, wantMetrics)
	}
	if len(h.Notes) != 0 {
		t.Errorf("Notes = %q, want none", h.Notes)
	}
	for _, n := range h.Notes {
		if strings.Contains(n, "p@ss") || strings.Contains(n, sharedSecret) {
			t.Errorf("note %q shows a secret", n)
		}
	}
}

func TestDiscoverHomeserverVariants(t *testing.T) {
	tests := []struct {
		name        string
		yaml        string
		wantURL     string
		wantDB      string // Redacted
		wantMetrics []string
		wantNote    string // substring of some note; "" means no notes
	}{
		{
			name:    "public_baseurl only",
			yaml:    "server_name: a.org\npublic_baseurl: https://matrix.a.org/\ndatabase: {name: psycopg2, args: {user: s, database: syn, host: db, port: 5432}}\n",
			wantURL: "https://matrix.a.org", wantDB: "s@db:5432/syn",
		},
		{
			name:    "wildcard bind, tls, dbname, no port",
			yaml:    "listeners:\n  - {port: 8448, type: http, tls: true, bind_addresses: ['::', '0.0.0.0'], resources: [{names: [client]}]}\ndatabase: {name: psycopg2, args: {user: s, dbname: syn, host: '::1'}}\n",
			wantURL: "https://127.0.0.1:8448", wantDB: "s@::1/syn",
		},
		{
			name:    "quoted port, default bind",
			yaml:    "listeners:\n  - {port: \"8008\", type: http, resources: [{names: [client]}]}\n  - {port: 8009, type: http, bind_address: '192.0.2.1', resources: [{names: [client]}]}\ndatabase: {name: psycopg2, args: {database: syn}}\n",
			wantURL: "http://127.0.0.1:8008", wantDB: "(default host)/syn",
		},
		{
			name:     "sqlite",
			yaml:     "listeners:\n  - {port: 8008, type: http, bind_addresses: ['127.0.0.1'], resources: [{names: [client, metrics]}]}\ndatabase: {name: sqlite3, args: {database: /data/homeserver.db}}\n",
			wantURL:  "http://127.0.0.1:8008",
			wantDB:   "(not set)",
			wantNote: "synops needs PostgreSQL",
		},
		{
			name:     "no database section is sqlite",
			yaml:     "server_name: a.org\n",
			wantDB:   "(not set)",
			wantNote: "synops needs PostgreSQL",
		},
		{
			name:        "metrics resource on http listener",
			yaml:        "enable_metrics: true\nlisteners:\n  - {port: 8008, type: http, bind_addresses: ['127.0.0.1'], resources: [{names: [client]}, {names: [metrics]}]}\ndatabase: {name: psycopg2, args: {database: syn}}\n",
			wantURL:     "http://127.0.0.1:8008",
			wantDB:      "(default host)/syn",
			wantMetrics: []string{"http://127.0.0.1:8008/_synapse/metrics"},
		},
		{
			name:     "metrics listener without enable_metrics",
			yaml:     "listeners:\n  - {port: 9000, type: metrics}\ndatabase: {name: psycopg2, args: {database: syn}}\n",
			wantDB:   "(default host)/syn",
			wantNote: "enable_metrics is not true",
		},
		{
			name:     "unix socket listener",
			yaml:     "listeners:\n  - {path: /run/synapse.sock, type: http, resources: [{names: [client]}]}\ndatabase: {name: psycopg2, args: {database: syn}}\n",
			wantDB:   "(default host)/syn",
			wantNote: "unix socket",
		},
		{
			name:     "secret path missing, container paths",
			yaml:     "registration_shared_secret_path: /nonexistent/secret\nmedia_store_path: /nonexistent/media\ndatabase: {name: psycopg2, args: {database: syn}}\n",
			wantDB:   "(default host)/syn",
			wantNote: "/nonexistent/secret",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "homeserver.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			h, err := DiscoverHomeserver(context.Background(), path)
			if err != nil {
				t.Fatalf("DiscoverHomeserver: %v", err)
			}
			if got := h.ClientURL(); got != tt.wantURL {
				t.Errorf("ClientURL() = %q, want %q", got, tt.wantURL)
			}
			if got := h.SynapseDB.Redacted(); got != tt.wantDB {
				t.Errorf("SynapseDB.Redacted() = %q, want %q", got, tt.wantDB)
			}
			if !slices.Equal(h.MetricsURLs, tt.wantMetrics) {
				t.Errorf("MetricsURLs = %q, want %q", h.MetricsURLs, tt.wantMetrics)
			}
			notes := strings.Join(h.Notes, "\n")
			if tt.wantNote == "" && notes != "" {
				t.Errorf("Notes = %q, want none", h.Notes)
			}
			if !strings.Contains(notes, tt.wantNote) {
				t.Errorf("Notes = %q, want one containing %q", h.Notes, tt.wantNote)
			}
		})
	}
}

func TestDiscoverHomeserverErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listeners: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.yaml"), "nope.yaml"},
		{"not yaml", bad, "parse homeserver.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DiscoverHomeserver(context.Background(), tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DiscoverHomeserver(%s) error = %v, want one containing %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestListenerHost(t *testing.T) {
	tests := []struct {
		name string
		l    hsListener
		want string
	}{
		{"none", hsListener{}, "127.0.0.1"},
		{"ipv4 wildcard", hsListener{BindAddresses: []string{"0.0.0.0"}}, "127.0.0.1"},
		{"ipv6 wildcard among others", hsListener{BindAddresses: []string{"10.0.0.1", "::"}}, "127.0.0.1"},
		{"first address", hsListener{BindAddresses: []string{"10.0.0.1", "10.0.0.2"}}, "10.0.0.1"},
		{"ipv6 loopback", hsListener{BindAddresses: []string{"::1"}}, "::1"},
		{"bracketed", hsListener{BindAddresses: []string{"[::1]"}}, "::1"},
		{"old single form", hsListener{BindAddress: "192.0.2.7"}, "192.0.2.7"},
	}
	for _, tt := range tests {
		if got := listenerHost(tt.l); got != tt.want {
			t.Errorf("%s: listenerHost = %q, want %q", tt.name, got, tt.want)
		}
	}
}
