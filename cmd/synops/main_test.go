package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/testbed"
)

var bed *testbed.Bed

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{Settle: true}, func(b *testbed.Bed) { bed = b })
}

// synops runs the CLI in-process with exactly the environment given.
func synops(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = t.TempDir() // never read the real user's config
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

func TestConfigCheckFromHomeserverYAML(t *testing.T) {
	out, errs, code := synops(t, map[string]string{"MATRIX_ADMIN_TOKEN": bed.Synapse.AdminToken.Reveal()},
		"-c", bed.Synapse.ConfigPath, "config", "check")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"server_name", bed.Synapse.ServerName, "Synapse " + bed.Synapse.Version,
		"ok    Synapse: token owner is a server admin", "PostgreSQL 15", "homeserver.yaml " + bed.Synapse.ConfigPath} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, bed.Synapse.AdminToken.Reveal()) || strings.Contains(out+errs, bed.Synapse.SharedSecret.Reveal()) {
		t.Error("config check printed a secret")
	}
}

func TestConfigCheckFailures(t *testing.T) {
	ctx := context.Background()
	plain, err := bed.Synapse.Register(ctx, "plainuser", false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		wants []string
	}{
		{"wrong token", map[string]string{"MATRIX_ADMIN_TOKEN": "syt_definitely_not_valid_0000"},
			nil, []string{"FAIL  Synapse: admin token valid", "M_UNKNOWN_TOKEN", "was rejected"}},
		{"non-admin token", map[string]string{"MATRIX_ADMIN_TOKEN": plain.AccessToken.Reveal()},
			nil, []string{"FAIL  Synapse: token owner is a server admin", "token belongs to @plainuser:" + bed.Synapse.ServerName + ", who is not a server admin"}},
		{"unreachable URL", map[string]string{"MATRIX_ADMIN_TOKEN": bed.Synapse.AdminToken.Reveal()},
			[]string{"--homeserver-url", "http://127.0.0.1:1"}, []string{"FAIL  Synapse: reachable", "cannot reach Synapse at http://127.0.0.1:1", "is Synapse running?"}},
		{"no token", map[string]string{}, nil, []string{"FAIL  Synapse: admin token valid", "MATRIX_ADMIN_TOKEN"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-c", bed.Synapse.ConfigPath}, tt.args...)
			out, errs, code := synops(t, tt.env, append(args, "config", "check")...)
			if code == 0 {
				t.Fatalf("exit 0, want non-zero\n%s", out)
			}
			for _, w := range tt.wants {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errs)
				}
			}
			if strings.Contains(out+errs, "goroutine") || strings.Contains(out+errs, "panic") {
				t.Errorf("looks like a stack trace:\n%s", out+errs)
			}
			fail := failLines(out)
			if seen[fail] {
				t.Errorf("the failure reads the same as another case's: %s", fail)
			}
			seen[fail] = true
		})
	}
}

func failLines(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "FAIL") || strings.Contains(l, "→") {
			b.WriteString(strings.TrimSpace(l) + "\n")
		}
	}
	return b.String()
}

func TestTokenFlagRefused(t *testing.T) {
	out, errs, code := synops(t, nil, "config", "check", "--token", "syt_secret_value_1234")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(errs, "refusing --token") || !strings.Contains(errs, "MATRIX_ADMIN_TOKEN") {
		t.Errorf("stderr %q does not explain the refusal and the alternatives", errs)
	}
	if strings.Contains(out+errs, "syt_secret_value_1234") {
		t.Error("the refused token was echoed")
	}
}

func TestTokenFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(bed.Synapse.AdminToken.Reveal()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := synops(t, nil, "-c", bed.Synapse.ConfigPath, "--token-file", tok, "config", "check")
	if code == 0 || !strings.Contains(out, "chmod 600 "+tok) {
		t.Errorf("exit %d; want a failure telling to chmod 600:\n%s", code, out)
	}
	if err := os.Chmod(tok, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = synops(t, nil, "-c", bed.Synapse.ConfigPath, "--token-file", tok, "config", "check")
	if code != 0 {
		t.Errorf("exit %d with a private token file, want 0:\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"config", "check", "--no-such-flag"}, 2, "unknown flag: --no-such-flag"},
		{[]string{"--environment", "prod", "--homeserver-url", "http://127.0.0.1:1", "config", "check"}, 1, "development, staging, production"},
		{[]string{"--config", "/nonexistent/synops.yaml", "config", "check"}, 1, "/nonexistent/synops.yaml"},
		// Duration flags are read by the one parser the config file uses.
		{[]string{"health", "--timeout", "-5s"}, 2, `duration "-5s" is negative`},
		{[]string{"health", "--sample", "106752d"}, 2, `duration "106752d" is too large`},
		{[]string{"--interval", "9999999999h", "config", "check"}, 2, "too large"},
	}
	for _, tt := range tests {
		out, errs, code := synops(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.want) {
			t.Errorf("synops %v: got exit %d and\n%s%s\nwant exit %d mentioning %q", tt.args, code, out, errs, tt.code, tt.want)
		}
	}
	out, _, code := synops(t, nil, "help")
	if code != 0 || !strings.Contains(out, "config check") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}

// TestConfigCheckHidesPasswords: a DSN whose password holds '#' and '/'
// (which a URL parser takes for a fragment and a path) connects, and config
// check shows no part of that password, nor the user info of the metrics
// and LiveKit URLs. (The test cluster trusts local connections, so the
// connection proves the user, host and database were read right; the
// password itself is checked against pgx's reading in ops/config.)
func TestConfigCheckHidesPasswords(t *testing.T) {
	ctx := context.Background()
	const password = "p#ss/w"
	app, err := pgx.ParseConfig(bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	role := fmt.Sprintf("hashpw_%d", time.Now().UnixNano()%1e9)
	conn, err := pgx.Connect(ctx, bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP ROLE "+role) })

	dsn := fmt.Sprintf("postgres://%s:%s@%s:%d/%s", role, password, app.Host, app.Port, app.Database)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`profiles:
  p:
    homeserver_yaml: %s
    app_db_dsn: %q
    metrics_urls: ["http://metrics:Me-Pa55@127.0.0.1:9/_synapse/metrics"]
    livekit_url: "http://lk:1#Lk-Pa55@127.0.0.1:7880"
`, bed.Synapse.ConfigPath, dsn)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := synops(t, map[string]string{"MATRIX_ADMIN_TOKEN": bed.Synapse.AdminToken.Reveal()}, "--config", cfg, "config", "check")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		fmt.Sprintf("app_db_dsn  %s@%s:%d/%s", role, app.Host, app.Port, app.Database),
		"http://[redacted]@127.0.0.1:9/_synapse/metrics",
		"http://[redacted]@127.0.0.1:7880",
		"ok    PostgreSQL: application database",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, part := range []string{password, "p#", "#ss", "ss/w", "/w@", "Me-Pa55", "Lk-Pa55", "lk:1", "metrics:"} {
		if strings.Contains(out+errs, part) {
			t.Errorf("config check shows %q:\n%s%s", part, out, errs)
		}
	}
}

// TestConfiguredCommandEnvironment: the token command a profile configures
// is run by synops with its environment minus the secrets synops holds. The
// admin token sits in this process's real environment (which children
// inherit), and the command writes what it sees to a file.
func TestConfiguredCommandEnvironment(t *testing.T) {
	t.Setenv("MATRIX_ADMIN_TOKEN", bed.Synapse.AdminToken.Reveal())
	t.Setenv("PGPASSWORD", "pg-parent-secret")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(bed.Synapse.AdminToken.Reveal()), 0o600); err != nil {
		t.Fatal(err)
	}
	seen := filepath.Join(dir, "seen.env")
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`profiles:
  p:
    homeserver_yaml: %s
    token:
      command: ["sh", "-c", "env > %s; cat %s"]
`, bed.Synapse.ConfigPath, seen, tokenFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := synops(t, map[string]string{"MATRIX_ADMIN_TOKEN": bed.Synapse.AdminToken.Reveal()}, "--config", cfg, "config", "check")
	if code != 0 || !strings.Contains(out, "command sh") {
		t.Fatalf("config check with the token from a command: exit %d\n%s%s", code, out, errs)
	}
	data, err := os.ReadFile(seen)
	if err != nil {
		t.Fatalf("the token command did not run: %v", err)
	}
	env := string(data)
	for what, hidden := range map[string]string{"MATRIX_ADMIN_TOKEN": "MATRIX_ADMIN_TOKEN", "the admin token": bed.Synapse.AdminToken.Reveal(), "PGPASSWORD": "PGPASSWORD"} {
		if strings.Contains(env, hidden) {
			t.Errorf("the token command saw %s in its environment", what)
		}
	}
	if !strings.Contains(env, "PATH=") {
		t.Errorf("the token command got no PATH:\n%s", env)
	}
}
