package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"synops/ops/audit"
	"synops/ops/backup"
	"synops/ops/backup/backuptest"
)

type healthReport struct {
	Status    string    `json:"status"`
	CheckedAt time.Time `json:"checked_at"`
	Results   []struct {
		ID     string   `json:"id"`
		Group  string   `json:"group"`
		Name   string   `json:"name"`
		Status string   `json:"status"`
		Value  string   `json:"value"`
		Detail string   `json:"detail"`
		Num    *float64 `json:"num"`
		Unit   string   `json:"unit"`
	} `json:"results"`
}

// healthEnv is the bed as a profile-less setup: homeserver.yaml for Synapse,
// its database and metrics, the token and the app database from the
// environment, and a backup directory holding a fresh verified backup (a
// healthy box has one).
func healthEnv(t *testing.T) (map[string]string, []string) {
	home, dir := t.TempDir(), t.TempDir()
	env := map[string]string{
		"HOME":               home,
		"MATRIX_ADMIN_TOKEN": bed.Synapse.AdminToken.Reveal(),
		"SYNOPS_APP_DB_DSN":  bed.AppDB,
	}
	state, err := audit.StateDir(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	backuptest.Take(t, backup.NewCatalog(dir, backupKeyFile(state)), bed.SynapseDB, bed.Synapse.ServerName)
	return env, []string{"-c", bed.Synapse.ConfigPath, "--backup-dir", dir}
}

func TestHealthJSON(t *testing.T) {
	env, args := healthEnv(t)
	out, errs, code := synops(t, env, append(args, "health", "--json", "--sample", "500ms")...)
	if code != 0 && code != 1 {
		t.Fatalf("exit %d, want 0 or 1\n%s\n%s", code, out, errs)
	}
	var rep healthReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if want := map[int]string{0: "ok", 1: "warning"}[code]; rep.Status != want {
		t.Errorf("status %q with exit %d", rep.Status, code)
	}
	if time.Since(rep.CheckedAt) > time.Minute {
		t.Errorf("checked_at %v", rep.CheckedAt)
	}
	got := map[string]int{}
	for i, r := range rep.Results {
		got[r.ID] = i
		if r.Value == "" {
			t.Errorf("%s (%s) has no value: status %s, detail %q", r.ID, r.Name, r.Status, r.Detail)
		}
	}
	for _, id := range []string{
		"synapse.health", "synapse.versions", "synapse.server_version", "synapse.token", "synapse.admin",
		"metrics.scrape", "metrics.sync_p95", "metrics.db_txn_avg", "metrics.db_sched_wait",
		"metrics.fed_pending_pdus", "metrics.fed_pending_edus", "metrics.rss", "metrics.events_persisted_rate",
		"postgres.synapse", "postgres.app", "postgres.connections", "postgres.db_size", "postgres.longest_txn",
		"postgres.waiting_locks", "disk.media_store", "disk.backups", "backup.verified",
	} {
		i, ok := got[id]
		if !ok {
			t.Errorf("no result %s", id)
			continue
		}
		if r := rep.Results[i]; r.Status == "critical" {
			t.Errorf("%s is critical against a healthy bed: %q", id, r.Detail)
		}
	}
	if i, ok := got["metrics.rss"]; ok {
		if r := rep.Results[i]; r.Num == nil || *r.Num <= 0 || r.Unit != "bytes" {
			t.Errorf("metrics.rss: num %v unit %q", r.Num, r.Unit)
		}
	}
	// --sample 500ms gave the rates a baseline: a DB transaction average,
	// since Synapse runs transactions of its own all the time.
	if i, ok := got["metrics.db_txn_avg"]; ok && strings.Contains(rep.Results[i].Value, "no previous scrape") {
		t.Errorf("db_txn_avg with --sample: %q", rep.Results[i].Value)
	}
	if strings.Contains(out+errs, bed.Synapse.AdminToken.Reveal()) {
		t.Error("health printed the token")
	}
}

func TestHealthSingleScrape(t *testing.T) {
	env, args := healthEnv(t)
	out, errs, code := synops(t, env, append(args, "health", "--sample", "0")...)
	if code != 0 && code != 1 {
		t.Fatalf("exit %d, want 0 or 1\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"Health of " + bed.Synapse.ServerName, "ok    Synapse: /health", "Metrics: /sync p95 latency",
		"no previous scrape to compare with", "PostgreSQL: connections in use", "status: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHealthSynapseStopped(t *testing.T) {
	bed.Synapse.Stop()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := bed.Synapse.Restart(ctx); err != nil {
			t.Errorf("restart Synapse: %v", err)
		}
	})
	env, args := healthEnv(t)
	out, errs, code := synops(t, env, append(args, "health", "--sample", "0")...)
	if code != 2 {
		t.Errorf("exit %d, want 2\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"FAIL  Synapse: /health", "cannot reach Synapse at " + bed.Synapse.BaseURL, "is Synapse running?", "status: critical"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, "goroutine") || strings.Contains(out+errs, "panic") {
		t.Errorf("looks like a stack trace:\n%s", out+errs)
	}

	out, _, code = synops(t, env, append(args, "health", "--json", "--sample", "0")...)
	var rep healthReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Status != "critical" || code != 2 {
		t.Errorf("--json with Synapse stopped: exit %d, status %q, err %v", code, rep.Status, err)
	}
}

func TestHealthTokenProblem(t *testing.T) {
	_, args := healthEnv(t)
	out, _, code := synops(t, map[string]string{}, append(args, "health", "--sample", "0")...)
	if code != 2 || !strings.Contains(out, "FAIL  Synapse: admin token valid") || !strings.Contains(out, "MATRIX_ADMIN_TOKEN") {
		t.Errorf("no token: exit %d, want 2 and the reason\n%s", code, out)
	}
}

func TestHealthUsage(t *testing.T) {
	for _, args := range [][]string{{"health", "--sample", "-1s"}, {"health", "extra"}, {"health", "--bogus"}} {
		if _, errs, code := synops(t, nil, args...); code != 2 || !strings.Contains(errs, "usage: synops health") && !strings.Contains(errs, "unknown flag") {
			t.Errorf("synops %v: exit %d, stderr %q", args, code, errs)
		}
	}
}
