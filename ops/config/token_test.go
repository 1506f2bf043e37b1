package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadTokenFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
		wantErr []string
	}{
		{"0600 accepted, trimmed", "  syt_YWRtaW4_abcdefghij_1a2b\n", 0o600, "syt_YWRtaW4_abcdefghij_1a2b", nil},
		{"0400 accepted", "syt_tok", 0o400, "syt_tok", nil},
		{"0644 refused", "syt_tok\n", 0o644, "", []string{"refusing token file", "chmod 600 "}},
		{"0640 refused", "syt_tok\n", 0o640, "", []string{"chmod 600 "}},
		{"empty", "\n\n", 0o600, "", []string{"is empty", "MATRIX_ADMIN_TOKEN", "token.command"}},
		{"two lines", "syt_a\nsyt_b\n", 0o600, "", []string{"several lines"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "token"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			r := &Resolved{Token: TokenSource{File: path}}
			got, err := r.LoadToken(context.Background())
			checkToken(t, got.Reveal(), err, tt.want, tt.wantErr)
			if err != nil && strings.Contains(tt.wantErr[len(tt.wantErr)-1], "chmod") && !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("error = %q, want it to say chmod 600 %s", err, path)
			}
			if err != nil && strings.Contains(err.Error(), "syt_") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

func TestLoadTokenMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent")
	r := &Resolved{Token: TokenSource{File: path}}
	_, err := r.LoadToken(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadToken error = %v, want one naming %s", err, path)
	}
}

func TestLoadTokenEnv(t *testing.T) {
	env := map[string]string{"MATRIX_ADMIN_TOKEN": " syt_default \n", "OTHER": "syt_other"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		src     TokenSource
		want    string
		wantErr []string
	}{
		{"default variable", TokenSource{}, "syt_default", nil},
		{"named variable", TokenSource{Env: "OTHER"}, "syt_other", nil},
		{"empty variable", TokenSource{Env: "UNSET"}, "", []string{"environment variable UNSET is empty or unset", "token.file", "token.command", "chmod 600"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolved{Token: tt.src, getenv: getenv, Profile: "dev"}
			got, err := r.LoadToken(context.Background())
			checkToken(t, got.Reveal(), err, tt.want, tt.wantErr)
		})
	}
}

func TestLoadTokenCommand(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		want    string
		wantErr []string
		never   []string // must not appear in the error
	}{
		{"success", []string{"sh", "-c", "echo tok"}, "tok", nil, nil},
		{"failure shows name, status, stderr; never stdout", []string{"sh", "-c", "echo leaked-stdout-token; echo gpg: decryption failed >&2; exit 3"},
			"", []string{"token command sh failed", "exit status 3", "gpg: decryption failed"}, []string{"leaked-stdout-token"}},
		{"stderr truncated", []string{"sh", "-c", "echo syt_secret; printf '%0300d' 0 >&2; exit 1"},
			"", []string{"exit status 1", "…"}, []string{strings.Repeat("0", 201), "syt_secret"}},
		{"empty stdout", []string{"sh", "-c", "true"}, "", []string{"command sh printed nothing", "MATRIX_ADMIN_TOKEN"}, nil},
		{"not found", []string{filepath.Join(t.TempDir(), "no-such-command")}, "", []string{"no-such-command"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolved{Token: TokenSource{Command: tt.argv}}
			got, err := r.LoadToken(context.Background())
			checkToken(t, got.Reveal(), err, tt.want, tt.wantErr)
			for _, n := range tt.never {
				if err != nil && strings.Contains(err.Error(), n) {
					t.Errorf("error %q contains %q", err, n)
				}
			}
		})
	}
}

// The token command is a real child: it sees synops' environment without
// the secrets synops holds, unless token.pass_env names one.
func TestTokenCommandEnvironment(t *testing.T) {
	t.Setenv("MATRIX_ADMIN_TOKEN", "syt_parent_token_0001")
	t.Setenv("PGPASSWORD", "pg-parent-secret")
	t.Setenv("SYNOPS_APP_DB_DSN", "postgres://u:dsn-parent-secret@h/db")
	t.Setenv("SYNOPS_LIVEKIT_URL", "http://lk:lk-secret@127.0.0.1:7880")
	t.Setenv("PASSWORD_STORE_DIR", "/home/op/.password-store")
	dir := t.TempDir()
	envOf := func(t *testing.T, pass []string) string {
		t.Helper()
		out := filepath.Join(dir, t.Name()[len("TestTokenCommandEnvironment/"):]+".env")
		cfg := filepath.Join(dir, "config.yaml")
		yaml := fmt.Sprintf("profiles:\n  p:\n    homeserver_url: http://127.0.0.1:8008\n    token:\n      command: [\"sh\", \"-c\", \"env > %s; echo syt_from_command\"]\n", out)
		if len(pass) > 0 {
			yaml += fmt.Sprintf("      pass_env: [%s]\n", strings.Join(pass, ", "))
		}
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Load(context.Background(), Flags{Config: &cfg}, os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := r.LoadToken(context.Background())
		if err != nil || tok.Reveal() != "syt_from_command" {
			t.Fatalf("LoadToken = %q, %v", tok.Reveal(), err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	t.Run("default", func(t *testing.T) {
		env := envOf(t, nil)
		for _, hidden := range []string{"MATRIX_ADMIN_TOKEN=", "syt_parent_token", "PGPASSWORD=", "SYNOPS_"} {
			if strings.Contains(env, hidden) {
				t.Errorf("the token command saw %q in its environment:\n%s", hidden, env)
			}
		}
		for _, kept := range []string{"PATH=", "PASSWORD_STORE_DIR=/home/op/.password-store"} {
			if !strings.Contains(env, kept) {
				t.Errorf("the token command's environment lacks %q:\n%s", kept, env)
			}
		}
	})
	t.Run("pass_env", func(t *testing.T) {
		env := envOf(t, []string{"PGPASSWORD"})
		if !strings.Contains(env, "PGPASSWORD=pg-parent-secret") {
			t.Errorf("pass_env: [PGPASSWORD], but the command did not see it:\n%s", env)
		}
		if strings.Contains(env, "MATRIX_ADMIN_TOKEN=") {
			t.Errorf("pass_env named PGPASSWORD only, but the command saw MATRIX_ADMIN_TOKEN")
		}
	})
}

func TestLoadTokenCommandCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := &Resolved{Token: TokenSource{Command: []string{"sh", "-c", "echo syt_partial; sleep 5"}}}
	_, err := r.LoadToken(ctx)
	if err == nil || !strings.Contains(err.Error(), "did not finish in time") {
		t.Fatalf("LoadToken error = %v, want a timeout", err)
	}
	if strings.Contains(err.Error(), "syt_partial") {
		t.Errorf("error %q shows stdout", err)
	}
}

func TestRefuseTokenFlag(t *testing.T) {
	for _, name := range []string{"token", "--token"} {
		err := RefuseTokenFlag(name)
		for _, want := range []string{"refusing --token:", "ps, /proc", "MATRIX_ADMIN_TOKEN", "chmod 600", "token.command"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("RefuseTokenFlag(%q) = %q, want it to contain %q", name, err, want)
			}
		}
	}
}

func TestTokenDisplay(t *testing.T) {
	tests := []struct {
		src  TokenSource
		env  map[string]string
		want string
	}{
		{TokenSource{Env: "MATRIX_ADMIN_TOKEN"}, map[string]string{"MATRIX_ADMIN_TOKEN": "syt_x"}, "env MATRIX_ADMIN_TOKEN (set)"},
		{TokenSource{}, nil, "env MATRIX_ADMIN_TOKEN (not set)"},
		{TokenSource{File: "/etc/synops/token"}, nil, "file /etc/synops/token"},
		{TokenSource{Command: []string{"pass", "show", "matrix/admin"}}, nil, "command pass …"},
		{TokenSource{Command: []string{"get-token"}}, nil, "command get-token"},
	}
	for _, tt := range tests {
		r := &Resolved{Token: tt.src, getenv: func(k string) string { return tt.env[k] }}
		if got := r.tokenDisplay(); got != tt.want {
			t.Errorf("tokenDisplay(%+v) = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func checkToken(t *testing.T, got string, err error, want string, wantErr []string) {
	t.Helper()
	if len(wantErr) > 0 {
		if err == nil {
			t.Fatalf("LoadToken = %q, want an error containing %q", got, wantErr)
		}
		for _, w := range wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error = %q, want it to contain %q", err, w)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("LoadToken: %v", err)
	}
	if got != want {
		t.Errorf("LoadToken = %q, want %q", got, want)
	}
}
