package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops/audit"
	"synops/ops/reset"
	"synops/synapse/synapsetest"
)

// listed runs backup list --json.
func listed(t *testing.T, env map[string]string) []backupListing {
	t.Helper()
	out, errs, code := cli(t, env, "backup", "list", "--json")
	var list []backupListing
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("backup list --json: exit %d\n%s%s", code, out, errs)
	}
	return list
}

func TestBackupCreateListVerifyCLI(t *testing.T) {
	env, _ := roomsCLIEnv(t)
	out, errs, code := cli(t, env, "backup", "create", "--verify")
	if code != 0 {
		t.Fatalf("backup create --verify: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"backup.create", "dump Synapse's database", "keep " + bed.Synapse.ConfigPath, "verified backup", "✓ synapse-db restored", "schema version"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	list := listed(t, env)
	if len(list) != 1 || list[0].State != "passed" || list[0].Kind != "backup" || list[0].Size <= 0 ||
		strings.Join(list[0].Contents, ",") != "synapse-db,app-db,config,media" {
		t.Fatalf("backup list --json = %+v", list)
	}
	out, _, code = cli(t, env, "backup", "list")
	if code != 0 || !strings.Contains(out, list[0].ID) || !strings.Contains(out, "✓ ") || !strings.Contains(out, "1 backups in") {
		t.Errorf("backup list: exit %d\n%s", code, out)
	}
	out, errs, code = cli(t, env, "backup", "verify", "--latest")
	if code != 0 || !strings.Contains(out, "verified backup "+list[0].ID) {
		t.Errorf("backup verify --latest: exit %d\n%s%s", code, out, errs)
	}
	// A backup changes nothing on the server: read-only mode takes one too.
	if out, errs, code := cli(t, env, "--read-only", "backup", "create", "--media", "none"); code != 0 {
		t.Errorf("backup create in read-only mode: exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, bed.Synapse.AdminToken.Reveal()) {
		t.Error("the token was printed")
	}
}

// A failed verification is loud: exit status 3, the words on stdout, and a
// red Backups line in synops health.
func TestBackupVerifyFailureIsLoud(t *testing.T) {
	env, _ := roomsCLIEnv(t)
	if out, errs, code := cli(t, env, "backup", "create", "--verify", "--media", "none"); code != 0 {
		t.Fatalf("backup create: exit %d\n%s%s", code, out, errs)
	}
	e := listed(t, env)[0]
	dump := filepath.Join(filepath.Dir(env["SYNOPS_CONFIG"]), "backups", e.ID, "synapse-db.pgdump.zst")
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(dump, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := cli(t, env, "backup", "verify", e.ID)
	if code != exitVerifyFailed || !strings.Contains(out, "VERIFICATION FAILED") || !strings.Contains(errs, "verification failed") || !strings.Contains(errs, "job log") {
		t.Errorf("backup verify of an altered dump: exit %d, want %d\n%s%s", code, exitVerifyFailed, out, errs)
	}
	out, _, code = cli(t, env, "health", "--sample", "0")
	if code != 2 || !strings.Contains(out, "FAIL  Backups: newest verified backup") || !strings.Contains(out, "does not match its checksum") {
		t.Errorf("health after a failed verification: exit %d, want 2 with the Backups line red\n%s", code, out)
	}
}

// The backup gate is real: rooms delete without a fresh verified backup is
// refused as before; after backup create --verify it runs with --yes
// --confirm=ROOM and no --without-backup, unless the server was reset since.
func TestRoomsDeleteWithFreshVerifiedBackup(t *testing.T) {
	env, _ := roomsCLIEnv(t)
	id, err := bed.Synapse.CreateRoom(roomsCtx(t), synapsetest.RoomSpec{Name: "cli-gated-delete", Messages: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, errs, code := cli(t, env, "rooms", "delete", id, "--yes", "--confirm="+id)
	if code == 0 || !strings.Contains(errs, "no verified backup") || !cliRoomExists(t, id) {
		t.Fatalf("delete with no backup: exit %d, want refused\n%s", code, errs)
	}
	if out, errs, code := cli(t, env, "backup", "create", "--verify", "--media", "none"); code != 0 {
		t.Fatalf("backup create --verify: exit %d\n%s%s", code, out, errs)
	}
	// A reset of the server since that backup: the backup holds none of
	// what is on it now, and covers no loss.
	auditPath, err := audit.DefaultPath(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	states, err := reset.OpenState(reset.StatePath(filepath.Dir(auditPath)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := states.Set(&reset.State{ID: "test", Server: bed.Synapse.ServerName, Phase: reset.Done, UpdatedAt: now, EndedAt: now}); err != nil {
		t.Fatal(err)
	}
	_, errs, code = cli(t, env, "rooms", "delete", id, "--yes", "--confirm="+id)
	if code == 0 || !strings.Contains(errs, "is from before the server was reset at") || !cliRoomExists(t, id) {
		t.Fatalf("delete with a verified backup from before the last reset: exit %d, want refused\n%s", code, errs)
	}
	if out, _, code := cli(t, env, "health"); code != 2 || !strings.Contains(out, "taken before the server was reset at") {
		t.Errorf("health after the reset: exit %d, want 2 with the Backups line saying the backup predates the reset\n%s", code, out)
	}
	if out, errs, code := cli(t, env, "backup", "create", "--verify", "--media", "none"); code != 0 {
		t.Fatalf("backup create --verify: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code := cli(t, env, "rooms", "delete", id, "--yes", "--confirm="+id)
	if code != 0 {
		t.Fatalf("delete with a fresh verified backup: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "backup: verified backup") || cliRoomExists(t, id) {
		t.Errorf("want the plan to name the covering backup and the room gone:\n%s", out)
	}
}

func TestBackupPruneCLI(t *testing.T) {
	env, _ := roomsCLIEnv(t)
	for range 2 {
		if out, errs, code := cli(t, env, "backup", "create", "--media", "none"); code != 0 {
			t.Fatalf("backup create: exit %d\n%s%s", code, out, errs)
		}
	}
	before := listed(t, env)
	// Nothing is old: a dry run with --max-age 0s and --keep 1 lists the
	// older one (the newer is kept), removes nothing.
	out, errs, code := cli(t, env, "backup", "prune", "--max-age", "1ns", "--keep", "1")
	if code != 0 || !strings.Contains(out, "REMOVE") || !strings.Contains(out, "dry run") || len(listed(t, env)) != 2 {
		t.Fatalf("prune dry run: exit %d\n%s%s", code, out, errs)
	}
	_, errs, code = cli(t, env, "backup", "prune", "--max-age", "1ns", "--keep", "1", "--apply")
	if code != 2 || !strings.Contains(errs, "--yes --confirm") {
		t.Errorf("prune --apply with no terminal and no --yes: exit %d\n%s", code, errs)
	}
	out, errs, code = cli(t, env, "backup", "prune", "--max-age", "1ns", "--keep", "1", "--apply", "--yes", "--confirm="+bed.Synapse.ServerName)
	after := listed(t, env)
	if code != 0 || len(after) != 1 || after[0].ID != before[0].ID || !strings.Contains(out, "removed 1 backups") {
		t.Errorf("prune --apply: exit %d, left %+v\n%s%s", code, after, out, errs)
	}
}

func TestBackupRestoreNeedsServicesAndApproval(t *testing.T) {
	env, _ := roomsCLIEnv(t)
	if out, errs, code := cli(t, env, "backup", "create", "--media", "none"); code != 0 {
		t.Fatalf("backup create: exit %d\n%s%s", code, out, errs)
	}
	id := listed(t, env)[0].ID
	// The bed's profile has no services section: synops cannot stop Synapse.
	_, errs, code := cli(t, env, "backup", "restore", id, "--yes", "--confirm="+bed.Synapse.ServerName)
	if code == 0 || !strings.Contains(errs, "no way to stop and start Synapse") {
		t.Errorf("restore without services: exit %d\n%s", code, errs)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "restore"}, "give the ID of the backup"},
		{[]string{"backup", "verify"}, "or --latest"},
		{[]string{"backup", "verify", "x", "--latest"}, "not both"},
		{[]string{"backup", "verify", "../../etc"}, "not a backup ID"},
		{[]string{"backup", "prune", "--max-age", "soon"}, "--max-age"},
		{[]string{"backup", "create", "--format", "tar"}, "backup format \"tar\""},
	} {
		_, errs, code := cli(t, env, tt.args...)
		if code == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("synops %v: exit %d, want an error saying %q\n%s", tt.args, code, tt.want, errs)
		}
	}
}
