package config

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadTokensAndSecurity(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.dir, "rot.yaml")
	f.writeConfig(t, path, `profiles:
  prod:
    homeserver_yaml: `+f.hs+`
    token: {file: secrets/synops.token}
    tokens:
      write_to:
        - {file: /srv/openmeet/.env, env_var: MATRIX_ADMIN_TOKEN}
        - {file: secrets/matrix_admin_token}
        - {command: [vault, kv, put, secret/matrix, token=-]}
      redeploy: [docker, compose, up, -d, api]
      check: [/srv/openmeet/bin/check-matrix, --quiet]
      check_env: APP_MATRIX_TOKEN
      max_age: 30d
      admin_prefix: ops
    security:
      public_baseurl: https://matrix.example.org/
      tls_warn_within: 21d
      backup_within: 2d
      app_logs: [logs/api.log]
      alert_rules: [/etc/prometheus/rules/synapse.yml]
      alert_check: [promtool, check, rules, /etc/prometheus/rules/synapse.yml]
`)
	r, err := Load(context.Background(), Flags{Config: &path}, f.getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Tokens{
		WriteTo: []TokenTarget{
			{File: "/srv/openmeet/.env", EnvVar: "MATRIX_ADMIN_TOKEN"},
			{File: filepath.Join(f.dir, "secrets", "matrix_admin_token")},
			{Command: []string{"vault", "kv", "put", "secret/matrix", "token=-"}},
		},
		Redeploy:    []string{"docker", "compose", "up", "-d", "api"},
		Check:       []string{"/srv/openmeet/bin/check-matrix", "--quiet"},
		CheckEnv:    "APP_MATRIX_TOKEN",
		MaxAge:      30 * 24 * time.Hour,
		AdminPrefix: "ops",
	}
	if !reflect.DeepEqual(r.Tokens, want) {
		t.Errorf("Tokens = %+v\nwant     %+v", r.Tokens, want)
	}
	if got := r.Security; got.PublicBaseURL != "https://matrix.example.org/" || got.TLSWarnWithin != 21*24*time.Hour ||
		got.BackupWithin != 48*time.Hour || !reflect.DeepEqual(got.AppLogs, []string{filepath.Join(f.dir, "logs", "api.log")}) ||
		len(got.AlertRules) != 1 || len(got.AlertCheck) != 4 {
		t.Errorf("Security = %+v", got)
	}
	rows := rowMap(r)
	if got := rows["tokens.write_to"].Display; !strings.Contains(got, "(synops' own)") || !strings.Contains(got, "env file /srv/openmeet/.env (MATRIX_ADMIN_TOKEN)") ||
		!strings.Contains(got, "command vault …") || strings.Contains(got, "secret/matrix") {
		t.Errorf("tokens.write_to row = %q: want every target, a command by its program only", got)
	}
	if got := rows["tokens.check"].Display; !strings.Contains(got, "$APP_MATRIX_TOKEN") {
		t.Errorf("tokens.check row = %q, want the variable the token arrives in", got)
	}
	if got := rows["security.public_baseurl"].Origin; !strings.Contains(got, "profile prod") {
		t.Errorf("security.public_baseurl origin = %q, want the profile", got)
	}
}

func TestTokensDefaults(t *testing.T) {
	f := newFixture(t)
	r, err := Load(context.Background(), Flags{Profile: ptr("bare")}, f.getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.Tokens.MaxAge != 90*24*time.Hour || r.Tokens.CheckEnv != "MATRIX_ADMIN_TOKEN" || r.Tokens.AdminPrefix != "admin" || len(r.Tokens.WriteTo) != 0 {
		t.Errorf("defaults = %+v, want 90d, MATRIX_ADMIN_TOKEN, admin, no targets", r.Tokens)
	}
	if r.Security.PublicBaseURL != r.PublicBaseURL || r.Security.PublicBaseURL == "" {
		t.Errorf("security public URL = %q, want homeserver.yaml's public_baseurl %q", r.Security.PublicBaseURL, r.PublicBaseURL)
	}
	if r.Security.TLSWarnWithin != 14*24*time.Hour || r.Security.BackupWithin != 7*24*time.Hour {
		t.Errorf("security defaults = %+v", r.Security)
	}
}

func TestTokensErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"file and command", "write_to: [{file: /a, command: [b]}]", "give file or command, not both"},
		{"neither", "write_to: [{env_var: X}]", "give file (a token file"},
		{"env_var with command", "write_to: [{command: [b], env_var: X}]", "env_var goes with file"},
		{"bad env_var", "write_to: [{file: /a, env_var: 'A B'}]", `env_var "A B"`},
		{"twice", "write_to: [{file: /a}, {file: /a, env_var: X}]", "names /a twice"},
		{"empty redeploy", "redeploy: []", "tokens.redeploy"},
		{"empty check command", "check: ['']", "tokens.check"},
		{"bad check_env", "check_env: 1X", `tokens.check_env "1X"`},
		{"zero max_age", "max_age: 0s", "tokens.max_age"},
		{"bad prefix", "admin_prefix: _Admin", `tokens.admin_prefix "_Admin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			f.writeConfig(t, path, "profiles:\n  dev:\n    homeserver_url: http://x\n    tokens: {"+tt.yaml+"}\n")
			_, err := Load(context.Background(), Flags{Config: &path}, f.getenv(nil))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
