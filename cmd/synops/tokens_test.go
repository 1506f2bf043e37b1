package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synops/ops/audit"
	"synops/synapse"
)

// tokensCLIEnv is a box with an application beside the bed: synops' own
// token file and the application's env file hold the token of a fresh
// admin, and the application's check compares the token it is given with
// the one in the env file.
type tokensBox struct {
	env      map[string]string
	state    string
	tokFile  string
	envFile  string
	oldAdmin string
	old      synapse.Secret
	outputs  []string // every stdout and stderr, to scan
}

func newTokensBox(t *testing.T, localpart string) *tokensBox {
	t.Helper()
	reg, err := bed.Synapse.Register(context.Background(), localpart, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := &tokensBox{state: filepath.Join(dir, "state"), tokFile: filepath.Join(dir, "synops.token"),
		envFile: filepath.Join(dir, "app.env"), oldAdmin: reg.UserID, old: reg.AccessToken}
	if err := os.WriteFile(b.tokFile, []byte(b.old.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.envFile, []byte("NODE_ENV=production\nMATRIX_ADMIN_TOKEN="+b.old.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check := fmt.Sprintf(`test -n "$MATRIX_ADMIN_TOKEN" && test "$MATRIX_ADMIN_TOKEN" = "$(sed -n 's/^MATRIX_ADMIN_TOKEN=//p' %s)"`, b.envFile)
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, fmt.Sprintf(`profiles:
  box:
    homeserver_yaml: %s
    token: {file: %s}
    tokens:
      write_to:
        - {file: %s, env_var: MATRIX_ADMIN_TOKEN}
      check: [sh, -c, %q]
`, bed.Synapse.ConfigPath, b.tokFile, b.envFile, check))
	b.env = map[string]string{"SYNOPS_CONFIG": cfg, "HOME": dir, "XDG_STATE_HOME": b.state}
	return b
}

func (b *tokensBox) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	out, errs, code := cli(t, b.env, args...)
	b.outputs = append(b.outputs, out, errs)
	return out, errs, code
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// TestTokensCLI rotates and finishes from the command line, as cron or an
// operator would: approval by typed target only, the new token where synops
// and the application read it, the old one refused after finish, and no
// token in anything printed, the audit log or the state directory.
func TestTokensCLI(t *testing.T) {
	b := newTokensBox(t, "cli_old")
	server := bed.Synapse.ServerName
	newAdmin := "@cli_new:" + server

	if _, errs, code := b.run(t, "tokens", "rotate", "--new-admin", "cli_new"); code != 2 || !strings.Contains(errs, "--yes --confirm") {
		t.Errorf("rotate without a terminal: exit %d, %s", code, errs)
	}
	out, errs, code := b.run(t, "tokens", "rotate", "--new-admin", "cli_new", "--yes", "--confirm=wrong.example")
	if code == 0 || !strings.Contains(errs, "type "+server+" exactly") {
		t.Errorf("rotate with a wrong confirmation: exit %d\n%s%s", code, out, errs)
	}
	if readTrim(t, b.tokFile) != b.old.Reveal() {
		t.Fatal("a refused rotation changed the token file")
	}
	if _, err := bed.Synapse.Client().User(context.Background(), newAdmin); err == nil {
		t.Fatal("a refused rotation created the new admin")
	}

	out, errs, code = b.run(t, "tokens", "rotate", "--new-admin", "cli_new", "--yes", "--confirm="+server)
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"Plan ", "tokens.rotate on " + server, "admin in use: " + b.oldAdmin, "new admin: " + newAdmin,
		"env file " + b.envFile + " (MATRIX_ADMIN_TOKEN)", "rotated: " + newAdmin, "synops tokens finish"} {
		if !strings.Contains(out, want) {
			t.Errorf("rotate output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "the application's check done") {
		t.Errorf("progress on stderr lacks the check:\n%s", errs)
	}
	newTok := synapse.NewSecret(readTrim(t, b.tokFile))
	if newTok.Reveal() == b.old.Reveal() {
		t.Fatal("the token file still holds the old token")
	}
	if got := readTrim(t, b.envFile); got != "NODE_ENV=production\nMATRIX_ADMIN_TOKEN="+newTok.Reveal() {
		t.Errorf("env file after the rotation: the other line or the new token is missing")
	}
	if _, err := newClient(newTok).Whoami(context.Background()); err != nil {
		t.Errorf("the new token: %v", err)
	}

	out, _, code = b.run(t, "tokens", "status")
	if code != 1 || !strings.Contains(out, "rotated") || !strings.Contains(out, "next: rotated to "+newAdmin) {
		t.Errorf("status with a rotation to finish: exit %d\n%s", code, out)
	}

	out, errs, code = b.run(t, "tokens", "finish", "--deactivate-old", "--yes", "--confirm="+server)
	if code == 0 || !strings.Contains(errs, "type "+b.oldAdmin) {
		t.Errorf("finish confirmed with the server name: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = b.run(t, "tokens", "finish", "--deactivate-old", "--yes", "--confirm="+b.oldAdmin)
	if code != 0 || !strings.Contains(out, "finished: the old token is logged out") || !strings.Contains(out, b.oldAdmin+" is deactivated") {
		t.Fatalf("finish: exit %d\n%s%s", code, out, errs)
	}
	if _, err := newClient(b.old).Whoami(context.Background()); err == nil || !strings.Contains(err.Error(), "M_UNKNOWN_TOKEN") {
		t.Errorf("the old token after finish: %v, want M_UNKNOWN_TOKEN", err)
	}
	out, _, code = b.run(t, "tokens", "status", "--json")
	var st struct {
		Age    struct{ Status, Source string }
		Latest struct{ Phase string }
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 || st.Age.Status != "ok" || st.Latest.Phase != "finished" || !strings.Contains(st.Age.Source, "rotated by synops") {
		t.Errorf("status --json after finish: exit %d %+v %v\n%s", code, st, err, out)
	}

	out, _, code = b.run(t, "audit", "log", "--action", "tokens", "--json")
	var logged []audit.Operation
	if err := json.Unmarshal([]byte(out), &logged); err != nil || code != 0 {
		t.Fatalf("audit log --json: %v\n%s", err, out)
	}
	var seen []string
	for _, o := range logged {
		seen = append(seen, o.Action+":"+o.Outcome)
	}
	if want := "tokens.finish:ok tokens.finish:refused tokens.rotate:ok tokens.rotate:refused"; strings.Join(seen, " ") != want {
		t.Errorf("audit log: %v, want %s", seen, want)
	}

	// No token anywhere a person or a log reader looks.
	noTokens(t, []synapse.Secret{b.old, newTok}, b.state, b.outputs)
}

// noTokens scans every output and every file of the state directory (the
// audit log, the rotation history, the debug log) for the tokens.
func noTokens(t *testing.T, toks []synapse.Secret, state string, outputs []string) {
	t.Helper()
	texts := map[string]string{}
	for i, o := range outputs {
		texts[fmt.Sprintf("output %d", i)] = o
	}
	files := 0
	_ = filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
		}
		texts[p] = string(data)
		files++
		return nil
	})
	if files < 2 {
		t.Errorf("only %d files in the state directory %s: nothing was scanned", files, state)
	}
	for _, tok := range toks {
		for name, s := range texts {
			if strings.Contains(s, tok.Reveal()) {
				t.Errorf("%s holds the token %s", name, tok.Hint())
			}
		}
	}
}

func newClient(tok synapse.Secret) *synapse.Client {
	c, _ := synapse.New(bed.Synapse.BaseURL, tok, synapse.WithRetries(0))
	return c
}
