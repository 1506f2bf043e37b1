package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const profilePassword = "Pr0file-Pa55"

// configYAML has a profile setting everything ("full"), one that only points at
// homeserver.yaml ("bare") and one with nothing in it ("empty").
const configYAML = `default_profile: full
profiles:
  full:
    homeserver_url: http://profile.test:8008/
    server_name: profile.test
    environment: staging
    read_only: true
    homeserver_yaml: HSPATH
    synapse_db_dsn: postgres://prof:` + profilePassword + `@profhost:5432/synapse
    app_db_dsn: postgres://prof@profhost:5432/openmeet
    media_store: /profile/media
    metrics_urls: [http://profile.test:9000/_synapse/metrics]
    token:
      file: /profile/token
    services:
      kind: compose
      compose_file: docker-compose.yml
      compose_project: matrix
      app_service: openmeet-api
    backup:
      dir: /profile/backups
      keep: 3
      max_age: 14d
      keep_weekly: 4
      format: sql-gzip
      dump_via: compose
      media: all
      files: [/etc/livekit.yaml, extra.yaml]
      admin_dsn: postgres://postgres:` + profilePassword + `@profhost:5432/postgres
    log:
      file: /profile/homeserver.log
    rooms:
      purge:
        max_concurrency: 6
        poll: 250ms
        sync_delete_max: 0
  bare:
    homeserver_yaml: HSPATH
  empty:
`

type fixture struct {
	dir    string
	config string // at $XDG_CONFIG_HOME/synops/config.yaml
	hs     string
	env    map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.hs = writeHomeserver(t, realisticHomeserverYAML)
	f.config = filepath.Join(f.dir, "xdg", "synops", "config.yaml")
	f.writeConfig(t, f.config, strings.ReplaceAll(configYAML, "HSPATH", f.hs))
	f.env = map[string]string{
		"XDG_CONFIG_HOME": filepath.Join(f.dir, "xdg"),
		"XDG_DATA_HOME":   filepath.Join(f.dir, "data"),
		"HOME":            filepath.Join(f.dir, "home"),
	}
	return f
}

func (f *fixture) writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) getenv(extra map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		return f.env[k]
	}
}

func ptr[T any](v T) *T { return &v }

func rowMap(r *Resolved) map[string]Row {
	m := map[string]Row{}
	for _, row := range r.Rows() {
		m[row.Key] = row
	}
	return m
}

func TestPrecedence(t *testing.T) {
	f := newFixture(t)
	profFull := "config " + f.config + " profile full"
	hsOrigin := "homeserver.yaml " + f.hs
	other := filepath.Join(f.dir, "other.yaml")
	f.writeConfig(t, other, "profiles:\n  solo:\n    homeserver_url: http://solo.test\n")

	tests := []struct {
		name        string
		flags       Flags
		env         map[string]string
		key         string
		wantDisplay string
		wantOrigin  string
	}{
		// which file
		{"config flag beats env", Flags{Config: &other}, map[string]string{EnvConfig: f.config}, "config", other, "flag --config"},
		{"config env beats default", Flags{}, map[string]string{EnvConfig: other}, "config", other, "env SYNOPS_CONFIG"},
		{"config default", Flags{}, nil, "config", f.config, "default"},
		{"single profile is chosen", Flags{}, map[string]string{EnvConfig: other}, "profile", "solo", "config " + other},

		// which profile
		{"profile flag beats env", Flags{Profile: ptr("bare")}, map[string]string{EnvProfile: "empty"}, "profile", "bare", "flag --profile"},
		{"profile env beats default_profile", Flags{HomeserverURL: ptr("http://x")}, map[string]string{EnvProfile: "empty"}, "profile", "empty", "env SYNOPS_PROFILE"},
		{"default_profile", Flags{}, nil, "profile", "full", "config " + f.config},

		// homeserver_url
		{"url flag beats env", Flags{HomeserverURL: ptr("http://flag.test:1")}, map[string]string{EnvHomeserverURL: "http://env.test:1"}, "homeserver_url", "http://flag.test:1", "flag --homeserver-url"},
		{"url env beats profile", Flags{}, map[string]string{EnvHomeserverURL: "http://env.test:1/"}, "homeserver_url", "http://env.test:1", "env SYNOPS_HOMESERVER_URL"},
		{"url profile beats homeserver.yaml", Flags{}, nil, "homeserver_url", "http://profile.test:8008", profFull},
		{"url homeserver.yaml listener", Flags{Profile: ptr("bare")}, nil, "homeserver_url", "http://[::1]:8008", hsOrigin},

		// homeserver_yaml
		{"homeserver_yaml flag beats env", Flags{Profile: ptr("empty"), HomeserverYAML: &f.hs}, map[string]string{EnvHomeserverYAML: "/nonexistent"}, "homeserver_yaml", f.hs, "flag --homeserver-yaml"},
		{"homeserver_yaml env beats profile", Flags{}, map[string]string{EnvHomeserverYAML: f.hs}, "homeserver_yaml", f.hs, "env SYNOPS_HOMESERVER_YAML"},
		{"homeserver_yaml profile", Flags{}, nil, "homeserver_yaml", f.hs, profFull},

		// server_name
		{"server_name profile beats homeserver.yaml", Flags{}, nil, "server_name", "profile.test", profFull},
		{"server_name homeserver.yaml", Flags{Profile: ptr("bare")}, nil, "server_name", "example.org", hsOrigin},

		// environment
		{"environment flag beats env", Flags{Environment: ptr("production")}, map[string]string{EnvEnvironment: "development"}, "environment", "production", "flag --environment"},
		{"environment env beats profile", Flags{}, map[string]string{EnvEnvironment: "Production"}, "environment", "production", "env SYNOPS_ENVIRONMENT"},
		{"environment profile", Flags{}, nil, "environment", "staging", profFull},
		{"environment default", Flags{Profile: ptr("bare")}, nil, "environment", "development", "default"},

		// read_only
		{"read_only flag beats env", Flags{ReadOnly: ptr(false)}, map[string]string{EnvReadOnly: "true"}, "read_only", "false", "flag --read-only"},
		{"read_only env beats profile", Flags{}, map[string]string{EnvReadOnly: "no"}, "read_only", "false", "env SYNOPS_READ_ONLY"},
		{"read_only profile", Flags{}, nil, "read_only", "true", profFull},
		{"read_only default", Flags{Profile: ptr("bare")}, nil, "read_only", "false", "default"},

		// synapse_db_dsn
		{"synapse dsn flag beats env", Flags{SynapseDBDSN: ptr("postgres://flag@flaghost/synapse")}, map[string]string{EnvSynapseDBDSN: "postgres://env@envhost/synapse"}, "synapse_db_dsn", "flag@flaghost/synapse", "flag --synapse-db-dsn"},
		{"synapse dsn env beats profile", Flags{}, map[string]string{EnvSynapseDBDSN: "postgres://env:pw@envhost/synapse"}, "synapse_db_dsn", "env@envhost/synapse", "env SYNOPS_SYNAPSE_DB_DSN"},
		{"synapse dsn profile beats homeserver.yaml", Flags{}, nil, "synapse_db_dsn", "prof@profhost:5432/synapse", profFull},
		{"synapse dsn homeserver.yaml", Flags{Profile: ptr("bare")}, nil, "synapse_db_dsn", "synapse_user@/var/run/postgresql:5432/synapse", hsOrigin},
		{"synapse dsn unset", Flags{Profile: ptr("empty"), HomeserverURL: ptr("http://x")}, nil, "synapse_db_dsn", "(not set)", "default"},

		// app_db_dsn
		{"app dsn flag beats env", Flags{AppDBDSN: ptr("postgres://flag@flaghost/openmeet")}, map[string]string{EnvAppDBDSN: "postgres://env@envhost/openmeet"}, "app_db_dsn", "flag@flaghost/openmeet", "flag --app-db-dsn"},
		{"app dsn env beats profile", Flags{}, map[string]string{EnvAppDBDSN: "postgres://env@envhost/openmeet"}, "app_db_dsn", "env@envhost/openmeet", "env SYNOPS_APP_DB_DSN"},
		{"app dsn profile", Flags{}, nil, "app_db_dsn", "prof@profhost:5432/openmeet", profFull},
		{"app dsn unset", Flags{Profile: ptr("bare")}, nil, "app_db_dsn", "(not set)", "default"},

		// token source
		{"token flag beats env", Flags{TokenFile: ptr("/flag/token")}, map[string]string{EnvTokenFile: "/env/token"}, "token", "file /flag/token", "flag --token-file"},
		{"token env beats profile", Flags{}, map[string]string{EnvTokenFile: "/env/token"}, "token", "file /env/token", "env SYNOPS_TOKEN_FILE"},
		{"token profile", Flags{}, nil, "token", "file /profile/token", profFull},
		{"token default", Flags{Profile: ptr("bare")}, map[string]string{"MATRIX_ADMIN_TOKEN": "syt_abc"}, "token", "env MATRIX_ADMIN_TOKEN (set)", "default"},

		// shared secret comes only from homeserver.yaml
		{"shared secret homeserver.yaml", Flags{Profile: ptr("bare")}, nil, "registration_shared_secret", "set", hsOrigin},
		{"shared secret unset", Flags{Profile: ptr("empty"), HomeserverURL: ptr("http://x")}, nil, "registration_shared_secret", "not set", "default"},

		// media, metrics, log
		{"media profile beats homeserver.yaml", Flags{}, nil, "media_store", "/profile/media", profFull},
		{"media homeserver.yaml", Flags{Profile: ptr("bare")}, nil, "media_store", filepath.Join(filepath.Dir(f.hs), "media_store"), hsOrigin},
		{"metrics profile beats homeserver.yaml", Flags{}, nil, "metrics_urls", "http://profile.test:9000/_synapse/metrics", profFull},
		{"metrics homeserver.yaml", Flags{Profile: ptr("bare")}, nil, "metrics_urls", "http://127.0.0.1:9000/_synapse/metrics, http://10.0.0.5:9101/_synapse/metrics", hsOrigin},
		{"log profile beats homeserver.yaml", Flags{}, nil, "log.file", "/profile/homeserver.log", profFull},
		{"log homeserver.yaml", Flags{Profile: ptr("bare")}, nil, "log.file", filepath.Join(filepath.Dir(f.hs), "homeserver.log"), hsOrigin},

		// backup
		{"backup dir flag beats env", Flags{BackupDir: ptr("/flag/b")}, map[string]string{EnvBackupDir: "/env/b"}, "backup.dir", "/flag/b", "flag --backup-dir"},
		{"backup dir env beats profile", Flags{}, map[string]string{EnvBackupDir: "/env/b"}, "backup.dir", "/env/b", "env SYNOPS_BACKUP_DIR"},
		{"backup dir profile", Flags{}, nil, "backup.dir", "/profile/backups", profFull},
		{"backup dir default", Flags{Profile: ptr("bare")}, nil, "backup.dir", filepath.Join(f.dir, "data", "synops", "backups"), "default"},
		{"backup keep profile", Flags{}, nil, "backup.keep", "3", profFull},
		{"backup keep default", Flags{Profile: ptr("bare")}, nil, "backup.keep", "7", "default"},
		{"backup max_age profile", Flags{}, nil, "backup.max_age", "14d", profFull},
		{"backup max_age default", Flags{Profile: ptr("bare")}, nil, "backup.max_age", "30d", "default"},

		// rooms.purge
		{"purge concurrency profile", Flags{}, nil, "rooms.purge.max_concurrency", "6", profFull},
		{"purge concurrency default", Flags{Profile: ptr("bare")}, nil, "rooms.purge.max_concurrency", "8", "default"},
		{"purge poll profile", Flags{}, nil, "rooms.purge.poll", "250ms", profFull},
		{"purge poll default", Flags{Profile: ptr("bare")}, nil, "rooms.purge.poll", "500ms", "default"},
		{"purge sync off in profile", Flags{}, nil, "rooms.purge.sync_delete_max", "0 (never)", profFull},
		{"purge sync default", Flags{Profile: ptr("bare")}, nil, "rooms.purge.sync_delete_max", "250 events", "default"},

		// services; relative paths are relative to the config file
		{"services kind", Flags{}, nil, "services.kind", "compose", profFull},
		{"compose file relative to config", Flags{}, nil, "services.compose_file", filepath.Join(filepath.Dir(f.config), "docker-compose.yml"), profFull},
		{"compose service default", Flags{}, nil, "services.synapse_service", "synapse", profFull},
		{"services default", Flags{Profile: ptr("bare")}, nil, "services.kind", "none", "default"},
		// backup keys beyond dir and ages
		{"backup format default", Flags{Profile: ptr("bare")}, nil, "backup.format", "custom", "default"},
		{"backup format profile", Flags{}, nil, "backup.format", "sql-gzip", profFull},
		{"backup dump_via default", Flags{Profile: ptr("bare")}, nil, "backup.dump_via", "host", "default"},
		{"backup dump_via profile", Flags{}, nil, "backup.dump_via", "compose", profFull},
		{"backup media", Flags{}, nil, "backup.media", "all", profFull},
		{"backup files relative to config", Flags{}, nil, "backup.files", "/etc/livekit.yaml, " + filepath.Join(filepath.Dir(f.config), "extra.yaml"), profFull},
		{"backup keep_weekly", Flags{}, nil, "backup.keep_weekly", "4", profFull},
		{"backup admin dsn redacted", Flags{}, nil, "backup.admin_dsn", "postgres@profhost:5432/postgres", profFull},
		{"backup volume image default", Flags{}, nil, "backup.volume_image", "alpine", "default"},
		{"app service", Flags{}, nil, "services.app_service", "openmeet-api", profFull},
		{"empty profile", Flags{Profile: ptr("empty"), HomeserverURL: ptr("http://x")}, nil, "environment", "development", "default"},
		{"empty profile, env read_only", Flags{Profile: ptr("empty"), HomeserverURL: ptr("http://x")}, map[string]string{EnvReadOnly: "1"}, "read_only", "true", "env SYNOPS_READ_ONLY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Load(context.Background(), tt.flags, f.getenv(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			row, ok := rowMap(r)[tt.key]
			if !ok {
				t.Fatalf("no row %q in %v", tt.key, r.Rows())
			}
			if row.Display != tt.wantDisplay {
				t.Errorf("%s display = %q, want %q", tt.key, row.Display, tt.wantDisplay)
			}
			if row.Origin != tt.wantOrigin {
				t.Errorf("%s origin = %q, want %q", tt.key, row.Origin, tt.wantOrigin)
			}
		})
	}
}

func TestLoadTypedFields(t *testing.T) {
	f := newFixture(t)
	r, err := Load(context.Background(), Flags{Profile: ptr("bare"), Environment: ptr("production")}, f.getenv(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !r.Environment.IsProduction() {
		t.Errorf("Environment.IsProduction() = false for %q, want true", r.Environment)
	}
	if got, want := r.PublicBaseURL, "https://matrix.example.org/"; got != want {
		t.Errorf("PublicBaseURL = %q, want %q", got, want)
	}
	if got, want := r.RegistrationSharedSecret.Reveal(), sharedSecret; got != want {
		t.Errorf("RegistrationSharedSecret = %q, want %q", got, want)
	}
	if !r.SynapseDB.Set() || r.AppDB.Set() {
		t.Errorf("SynapseDB.Set() = %v, AppDB.Set() = %v, want true, false", r.SynapseDB.Set(), r.AppDB.Set())
	}
	if r.Homeserver == nil || r.Homeserver.Path != f.hs {
		t.Errorf("Homeserver = %+v, want one read from %s", r.Homeserver, f.hs)
	}
	if got, want := r.Origin("homeserver_url"), "homeserver.yaml "+f.hs; got != want {
		t.Errorf("Origin(homeserver_url) = %q, want %q", got, want)
	}
}

func TestLoadNoConfigFile(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOME": dir, EnvHomeserverURL: "http://127.0.0.1:8008"}
	r, err := Load(context.Background(), Flags{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Load with a missing default config: %v", err)
	}
	if r.ConfigPath != "" || r.Profile != "" {
		t.Errorf("ConfigPath, Profile = %q, %q, want both empty", r.ConfigPath, r.Profile)
	}
	if got, want := r.Backup.Dir, filepath.Join(dir, ".local", "share", "synops", "backups"); got != want {
		t.Errorf("Backup.Dir = %q, want %q", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	f := newFixture(t)
	typo := filepath.Join(f.dir, "typo.yaml")
	f.writeConfig(t, typo, "default_profile: dev\nprofiles:\n  dev:\n    homserver_url: http://x\n")
	badDur := filepath.Join(f.dir, "baddur.yaml")
	f.writeConfig(t, badDur, "profiles:\n  dev:\n    homeserver_url: http://x\n    backup:\n      max_age: -1d\n")
	badAge := filepath.Join(f.dir, "badage.yaml")
	f.writeConfig(t, badAge, "profiles:\n  dev:\n    homeserver_url: http://x\n    backup:\n      keep: 0\n      fresh_within: abc\n")
	multi := filepath.Join(f.dir, "multi.yaml")
	f.writeConfig(t, multi, "profiles:\n  a: {homeserver_url: 'http://a'}\n  b: {homeserver_url: 'http://b'}\n")
	tokens := filepath.Join(f.dir, "tokens.yaml")
	f.writeConfig(t, tokens, "profiles:\n  dev:\n    homeserver_url: http://x\n    token: {env: X, file: /y}\n")
	custom := filepath.Join(f.dir, "custom.yaml")
	f.writeConfig(t, custom, "profiles:\n  dev:\n    homeserver_url: http://x\n    services: {kind: custom, start: [a]}\n")
	kind := filepath.Join(f.dir, "kind.yaml")
	f.writeConfig(t, kind, "profiles:\n  dev:\n    homeserver_url: http://x\n    services: {kind: docker}\n")
	badBackup := filepath.Join(f.dir, "badbackup.yaml")
	f.writeConfig(t, badBackup, "profiles:\n  dev:\n    homeserver_url: http://x\n    backup: {format: tar, media: some, keep_weekly: -1, files: ['']}\n")
	dockerVia := filepath.Join(f.dir, "dockervia.yaml")
	f.writeConfig(t, dockerVia, "profiles:\n  dev:\n    homeserver_url: http://x\n    backup: {dump_via: docker}\n")
	composeVia := filepath.Join(f.dir, "composevia.yaml")
	f.writeConfig(t, composeVia, "profiles:\n  dev:\n    homeserver_url: http://x\n    services: {kind: systemd}\n    backup: {dump_via: compose}\n")
	purge := filepath.Join(f.dir, "purge.yaml")
	f.writeConfig(t, purge, "profiles:\n  dev:\n    homeserver_url: http://x\n    rooms:\n      purge: {max_concurrency: 0, poll: 5ms, sync_delete_max: -1}\n")
	purgeTypo := filepath.Join(f.dir, "purgetypo.yaml")
	f.writeConfig(t, purgeTypo, "profiles:\n  dev:\n    homeserver_url: http://x\n    rooms:\n      purge:\n        concurrency: 4\n")
	noHS := filepath.Join(f.dir, "nohs.yaml")
	f.writeConfig(t, noHS, "profiles:\n  dev:\n    homeserver_yaml: "+filepath.Join(f.dir, "missing-homeserver.yaml")+"\n")

	tests := []struct {
		name       string
		flags      Flags
		env        map[string]string
		want       []string // substrings of the error
		validation bool     // a *ValidationError with a Resolved
	}{
		{"unknown profile lists known", Flags{Profile: ptr("prod")}, nil, []string{`unknown profile "prod"`, "bare, empty, full"}, false},
		{"bad environment lists allowed", Flags{Environment: ptr("prod")}, nil, []string{`environment "prod"`, "development, staging, production", "flag --environment"}, true},
		{"bad read_only", Flags{}, map[string]string{EnvReadOnly: "maybe"}, []string{`read_only "maybe"`, "env SYNOPS_READ_ONLY"}, true},
		{"url not http", Flags{HomeserverURL: ptr("ftp://x")}, nil, []string{`homeserver_url "ftp://x"`, "http:// or https://"}, true},
		{"url without host", Flags{HomeserverURL: ptr("http://")}, nil, []string{"no host"}, true},
		{"url relative", Flags{HomeserverURL: ptr("localhost:8008")}, nil, []string{"homeserver_url"}, true},
		{"no url", Flags{Profile: ptr("empty")}, nil, []string{"no homeserver URL: pass --homeserver-url, set homeserver_url in profile empty, or point -c at homeserver.yaml"}, true},
		{"missing explicit config", Flags{Config: ptr(filepath.Join(f.dir, "nope.yaml"))}, nil, []string{"read config", "nope.yaml"}, false},
		{"missing config from env", Flags{}, map[string]string{EnvConfig: filepath.Join(f.dir, "nope.yaml")}, []string{"nope.yaml"}, false},
		{"typo names key and line", Flags{Config: &typo}, nil, []string{`unknown key "homserver_url"`, "line 4", typo}, false},
		{"negative duration", Flags{Config: &badDur}, nil, []string{"line 5", `"-1d" is negative`}, false},
		{"keep and bad duration", Flags{Config: &badAge}, nil, []string{"line 6", `invalid duration "abc"`}, false},
		{"several profiles, none chosen", Flags{Config: &multi}, nil, []string{"no default_profile", "a, b"}, false},
		{"two token sources", Flags{Config: &tokens}, nil, []string{"one of env, file or command"}, true},
		{"custom without stop", Flags{Config: &custom}, nil, []string{"stop, status"}, true},
		{"unknown service kind", Flags{Config: &kind}, nil, []string{`services.kind "docker"`, "compose, systemd, custom, none"}, true},
		{"backup keys checked", Flags{Config: &badBackup}, nil, []string{`backup.format "tar"`, "custom", "sql-gzip", `backup.media "some"`, "backup.keep_weekly -1", "backup.files", "empty entry"}, true},
		{"dump via docker needs a container", Flags{Config: &dockerVia}, nil, []string{"backup.dump_via docker", "services.postgres_container"}, true},
		{"dump via compose needs compose", Flags{Config: &composeVia}, nil, []string{"backup.dump_via compose", "services.kind compose"}, true},
		{"purge settings out of range", Flags{Config: &purge}, nil, []string{"rooms.purge.max_concurrency 0", "want 1 to 64", "rooms.purge.poll 5ms", "rooms.purge.sync_delete_max -1"}, true},
		{"purge key typo", Flags{Config: &purgeTypo}, nil, []string{`unknown key "concurrency"`, "line 6"}, false},
		{"missing homeserver.yaml", Flags{Config: &noHS}, nil, []string{"missing-homeserver.yaml", "profile dev"}, false},
		{"profile without a config file", Flags{Profile: ptr("dev")}, map[string]string{"XDG_CONFIG_HOME": filepath.Join(f.dir, "none")}, []string{`profile "dev"`, "no config file"}, false},
		{"dsn flag with password refused", Flags{AppDBDSN: ptr("postgres://u:FlagSecret@h/db")}, nil, []string{"refusing --app-db-dsn", "SYNOPS_APP_DB_DSN"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Load(context.Background(), tt.flags, f.getenv(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded, want an error containing %q", tt.want)
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "FlagSecret") {
				t.Errorf("error %q shows the password", err)
			}
			var ve *ValidationError
			if got := errors.As(err, &ve); got != tt.validation {
				t.Errorf("errors.As(*ValidationError) = %v, want %v (error %q)", got, tt.validation, err)
			}
			if tt.validation && r == nil {
				t.Errorf("Load returned a nil Resolved with a ValidationError, want the partial result")
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	f := newFixture(t)
	const envPassword = "Env-Pa55word"
	cases := []struct {
		name  string
		flags Flags
		env   map[string]string
	}{
		{"profile dsn", Flags{}, nil},
		{"discovered dsn", Flags{Profile: ptr("bare")}, nil},
		{"env dsns", Flags{}, map[string]string{
			EnvAppDBDSN:     "postgres://u:" + envPassword + "@h/db",
			EnvSynapseDBDSN: "host=h user=u password=" + envPassword + " dbname=d",
		}},
		{"invalid env dsn", Flags{}, map[string]string{EnvAppDBDSN: "postgres://u:" + envPassword + "@h:port/db"}},
		{"misescaped env dsn", Flags{}, map[string]string{EnvAppDBDSN: "postgres://u:" + envPassword + "/x@h/db"}},
		{"flag dsn", Flags{SynapseDBDSN: ptr("postgres://u:" + envPassword + "@h/db")}, nil},
		{"dsn with # and /", Flags{}, map[string]string{EnvAppDBDSN: "postgres://u:p#ss/w@h/db"}},
	}
	secrets := []string{profilePassword, envPassword, "p@ss/w:rd#1", "p%40ss", sharedSecret, "p#ss", "ss/w"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Load(context.Background(), c.flags, f.getenv(c.env))
			var shown []string
			if err != nil {
				shown = append(shown, err.Error())
			}
			if r != nil {
				for _, row := range r.Rows() {
					shown = append(shown, row.Display, row.Origin)
				}
				shown = append(shown, r.Notes...)
				shown = append(shown, fmt.Sprintf("%v %+v", *r, *r), r.SynapseDB.Redacted(), r.AppDB.Redacted())
				if r.Homeserver != nil {
					shown = append(shown, fmt.Sprintf("%+v", *r.Homeserver))
				}
			}
			for _, s := range shown {
				for _, secret := range secrets {
					if strings.Contains(s, secret) {
						t.Errorf("shown text %q contains secret %q", s, secret)
					}
				}
			}
		})
	}
}

// metrics_urls and livekit_url from a profile are shown without their user
// info, and so is homeserver_url.
func TestURLRowsRedacted(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.dir, "urls.yaml")
	f.writeConfig(t, path, `profiles:
  urls:
    homeserver_url: https://admin:Hs-Pa55@matrix.test
    metrics_urls: ["http://m:Me-Pa55@127.0.0.1:9000/_synapse/metrics", "http://tok3n-as-user@127.0.0.1:9001/_synapse/metrics"]
    livekit_url: http://lk:1#Lk-Pa55@127.0.0.1:7880
`)
	r, err := Load(context.Background(), Flags{Config: ptr(path)}, f.getenv(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Invalid ones are named in the problems without their user info too.
	_, bad := Load(context.Background(), Flags{Config: ptr(path)}, f.getenv(map[string]string{
		EnvHomeserverURL: "ftp://admin:Hs-Pa55@matrix.test",
		EnvLiveKitURL:    "lk:Lk-Pa55@127.0.0.1:7880",
	}))
	if bad == nil || !strings.Contains(bad.Error(), `homeserver_url "ftp://[redacted]@matrix.test"`) || strings.Contains(bad.Error(), "Pa55") {
		t.Errorf("invalid URLs with user info: got %v, want problems that name them without it", bad)
	}
	want := map[string]string{
		"homeserver_url": "https://[redacted]@matrix.test",
		"metrics_urls":   "http://[redacted]@127.0.0.1:9000/_synapse/metrics, http://[redacted]@127.0.0.1:9001/_synapse/metrics",
		"livekit_url":    "http://[redacted]@127.0.0.1:7880",
	}
	for _, row := range r.Rows() {
		if w, ok := want[row.Key]; ok && row.Display != w {
			t.Errorf("row %s shows %q, want %q", row.Key, row.Display, w)
		}
		for _, secret := range []string{"Pa55", "tok3n", "lk:1"} {
			if strings.Contains(row.Display, secret) {
				t.Errorf("row %s shows %q", row.Key, row.Display)
			}
		}
	}
}

func TestReadableConfigWithPasswordNoted(t *testing.T) {
	f := newFixture(t)
	if err := os.Chmod(f.config, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(context.Background(), Flags{}, f.getenv(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := "chmod 600 " + f.config
	if !strings.Contains(strings.Join(r.Notes, "\n"), want) {
		t.Errorf("Notes = %q, want one containing %q", r.Notes, want)
	}
}

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		in      string
		want    Environment
		wantErr bool
	}{
		{"development", Development, false},
		{"Staging", Staging, false},
		{" production ", Production, false},
		{"prod", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseEnvironment(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseEnvironment(%q) = %q, %v, want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
