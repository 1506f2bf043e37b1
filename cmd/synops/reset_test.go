package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops/pgtest"
	"synops/ops/testbed"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// resetBox is a Synapse of its own on the bed's PostgreSQL, driven by
// custom service commands, with an application env file and database:
// what `synops reset run` resets from the command line.
type resetBox struct {
	syn     *synapsetest.Server
	env     map[string]string
	envFile string
	calls   string
	appDB   string
}

// controlled writes a control script for syn behind a wrapper that notes
// each call, and returns the wrapper and the notes' file.
func controlled(t *testing.T, syn *synapsetest.Server) (script, calls string) {
	t.Helper()
	dir := t.TempDir()
	script, calls = filepath.Join(dir, "synctl"), filepath.Join(dir, "calls")
	if err := syn.WriteControlScript(script + ".real"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, script, fmt.Sprintf("#!/bin/sh\necho \"$1\" >> %s\nexec %s.real \"$@\"\n", calls, script))
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	return script, calls
}

func newResetBox(t *testing.T, server string) *resetBox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := pgtest.UniqueName("clireset")
	if _, err := bed.PG.CreateDatabase(ctx, name, pgtest.DBOptions{}); err != nil {
		t.Fatal(err)
	}
	appDB, err := bed.PG.CreateDatabase(ctx, pgtest.UniqueName("cliresetapp"), pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := testbed.CreateAppSchema(ctx, appDB); err != nil {
		t.Fatal(err)
	}
	syn, err := synapsetest.Start(ctx, synapsetest.Options{ServerName: server,
		DB: synapsetest.DB{Host: bed.PG.Host(), Port: bed.PG.Port(), User: bed.PG.User(), Password: bed.PG.Password(), Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(syn.Close)
	script, calls := controlled(t, syn)
	t.Cleanup(func() { _ = exec.Command(script+".real", "stop").Run() })
	dir := t.TempDir()
	tok, envFile := filepath.Join(dir, "synops.token"), filepath.Join(dir, "app.env")
	writeFile(t, tok, syn.AdminToken.Reveal()+"\n")
	writeFile(t, envFile, "MATRIX_ADMIN_TOKEN="+syn.AdminToken.Reveal()+"\n")
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, fmt.Sprintf(`profiles:
  dev:
    homeserver_yaml: %s
    environment: development
    token: {file: %s}
    app_db_dsn: %s
    services:
      kind: custom
      start: [%s, start]
      stop: [%s, stop]
      status: [%s, status]
    tokens:
      write_to:
        - {file: %s, env_var: MATRIX_ADMIN_TOKEN}
    backup: {dir: %s}
    reset: {start_timeout: 3m}
`, syn.ConfigPath, tok, appDB, script, script, script, envFile, filepath.Join(dir, "backups")))
	return &resetBox{syn: syn, envFile: envFile, calls: calls, appDB: appDB,
		env: map[string]string{"SYNOPS_CONFIG": cfg, "HOME": dir, "XDG_STATE_HOME": filepath.Join(dir, "state")}}
}

// longCLI is cli with room for a backup, its verification and a first boot.
func longCLI(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), exitCode(err, &errb)
}

// The whole reset from the command line, as a script runs it: the plan and
// its refusals first, then `reset run --yes --confirm` with the team told
// and a backup taken on the way, `reset status` after, and the
// troubleshooting check of the application's credentials on the result.
func TestResetCLI(t *testing.T) {
	const server = "cli-reset.test"
	b := newResetBox(t, server)
	oldToken := b.syn.AdminToken

	out, errs, code := cli(t, b.env, "reset", "plan")
	if code != 1 {
		t.Fatalf("reset plan before telling the team: exit %d, want 1\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"Reset of " + server + " (development), standalone path",
		"✓ Admin access to the Matrix server works: @admin:" + server,
		"… The team has been told",
		"→ tell them: synops sends a server notice to every local user (`synops reset notify`)",
		"✗ A verified backup is fresh enough: no verified backup exists",
		"$ DROP DATABASE IF EXISTS",
		"$ CREATE DATABASE",
		"TEMPLATE template0",
		"after the reset:",
		"not ready: 1 checklist items block the reset (nothing was changed)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("reset plan lacks %q:\n%s", want, out)
		}
	}
	out, _, code = cli(t, b.env, "reset", "plan", "--json")
	var plan struct {
		Steps []struct {
			ID       string   `json:"id"`
			Commands []string `json:"commands"`
		} `json:"steps"`
		Blocking []struct{ ID string } `json:"blocking"`
		Phrase   string                `json:"phrase"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || code != 1 || len(plan.Steps) != 9 || len(plan.Blocking) != 1 || plan.Phrase != server+" without backup" {
		t.Errorf("reset plan --json: exit %d, %v, %+v", code, err, plan)
	}

	// A script with the wrong name changes nothing, not even the notice or a backup.
	out, errs, code = cli(t, b.env, "reset", "run", "--yes", "--confirm=cli-reset.tes", "--told", "--take-backup")
	if code == 0 || !strings.Contains(errs, "type "+server+" exactly") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("wrong --confirm: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(b.calls); err == nil && strings.Contains(readTrim(t, b.calls), "stop") {
		t.Error("Synapse was stopped after a wrong --confirm")
	}
	out, _, code = cli(t, b.env, "reset", "status")
	if code != 0 || !strings.Contains(out, "no reset of "+server+" on record") {
		t.Errorf("reset status: exit %d\n%s", code, out)
	}

	out, errs, code = longCLI(t, b.env, "reset", "run", "--yes", "--confirm="+server, "--told", "--note", "mail to the team", "--take-backup")
	if code != 0 {
		t.Fatalf("reset run: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"recorded: the team was told (operator at", "taken and verified", "reset done: @admin:" + server + " is the new admin, its token syt_…"} {
		if !strings.Contains(out, want) {
			t.Errorf("reset run's output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"[1/9] Stop the Matrix Synapse service", "[2/9] ✓ Drop the database: database", "[9/9] ✓ Final check: /health ok"} {
		if !strings.Contains(errs, want) {
			t.Errorf("reset run's progress lacks %q:\n%s", want, errs)
		}
	}
	newTok := synapse.NewSecret(strings.TrimPrefix(readTrim(t, b.envFile), "MATRIX_ADMIN_TOKEN="))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := b.syn.Client().WithToken(newTok)
	users, err := c.AllUsers(ctx, synapse.ListUsersOptions{})
	if err != nil || len(users) != 1 || users[0].Name != "@admin:"+server {
		t.Errorf("users after the reset: %+v %v", users, err)
	}
	if strings.Contains(out+errs, newTok.Reveal()) || strings.Contains(out+errs, oldToken.Reveal()) || strings.Contains(out+errs, b.syn.SharedSecret.Reveal()) {
		t.Error("reset run printed a secret")
	}

	out, _, code = cli(t, b.env, "reset", "status")
	if code != 0 || !strings.Contains(out, ": done") || !strings.Contains(out, "✓ 9. final-check: done") || !strings.Contains(out, "team told: operator at") {
		t.Errorf("reset status after: exit %d\n%s", code, out)
	}
	// Troubleshooting after the reset reads the token the reset wrote for
	// the application.
	out, errs, code = cli(t, b.env, "diagnose", "connection-errors-after-reset")
	if code != 0 || !strings.Contains(out, "[ok] application's Matrix credentials: env file "+b.envFile+" (MATRIX_ADMIN_TOKEN): "+newTok.Hint()+" is @admin:"+server+"'s, a server admin") {
		t.Errorf("diagnose after the reset: exit %d\n%s%s", code, out, errs)
	}
	// And a stale one is what it finds when the application was not given the new token.
	writeFile(t, b.envFile, "MATRIX_ADMIN_TOKEN="+oldToken.Reveal()+"\n")
	out, _, code = cli(t, b.env, "diagnose", "connection-errors-after-reset", "--json")
	var v struct {
		Status   string `json:"status"`
		Verdicts []struct {
			Findings []struct{ Check, Status, Evidence string } `json:"findings"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 2 || v.Status != "critical" {
		t.Errorf("diagnose --json with the old token in the env file: exit %d, %v\n%s", code, err, out)
	}
}

// Refusals from the command line, against the bed: a production profile
// without the override, read-only mode. Each leaves Synapse running and its
// service commands unused.
func TestResetCLIRefusals(t *testing.T) {
	script, calls := controlled(t, bed.Synapse)
	dir := t.TempDir()
	cfg, tok := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "synops.token")
	writeFile(t, tok, bed.Synapse.AdminToken.Reveal()+"\n")
	writeFile(t, cfg, fmt.Sprintf(`profiles:
  dev:
    homeserver_yaml: %s
    token: {file: %s}
    services: {kind: custom, start: [%s, start], stop: [%s, stop], status: [%s, status]}
    backup: {dir: %s}
`, bed.Synapse.ConfigPath, tok, script, script, script, filepath.Join(dir, "backups")))
	env := map[string]string{"SYNOPS_CONFIG": cfg, "HOME": dir, "XDG_STATE_HOME": filepath.Join(dir, "state")}
	server := bed.Synapse.ServerName
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"production", []string{"--environment", "production", "reset", "run", "--yes", "--confirm=" + server, "--told", "--without-backup"},
			"refusing to reset a production server " + server + ": the profile is labelled production; nothing was changed (if you really mean it: --production-override"},
		{"production plan", []string{"--environment", "production", "reset", "plan"}, "refusing to reset a production server"},
		{"read-only", []string{"--read-only", "reset", "run", "--yes", "--confirm=" + server, "--told", "--without-backup"}, "read-only mode"},
		{"no terminal, no --yes", []string{"reset", "run"}, "no terminal to confirm on"},
		{"no backup, no waiver", []string{"reset", "run", "--yes", "--confirm=" + server, "--told"}, "no verified backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := cli(t, env, tt.args...)
			if code == 0 || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want a refusal saying %q\n%s%s", code, tt.want, out, errs)
			}
			if bed.Synapse.Client().Health(context.Background()) != nil {
				t.Fatal("the bed's Synapse stopped answering")
			}
		})
	}
	if data, err := os.ReadFile(calls); err == nil && (strings.Contains(string(data), "stop") || strings.Contains(string(data), "start")) {
		t.Errorf("service commands run: %q", data)
	}
	out, _, code := cli(t, env, "--environment", "production", "reset", "plan", "--production-override")
	if code != 0 || !strings.Contains(out, "! This is not a production environment: environment production") || !strings.Contains(out, "ready: `synops reset run` asks you to type \""+server+" without backup\"") {
		t.Errorf("plan with the override: exit %d\n%s", code, out)
	}
}
