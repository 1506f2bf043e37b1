package diagnose_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/config"
	"synops/ops/diagnose"
	"synops/ops/health"
	"synops/ops/services/servicestest"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// bedDeps is what cmd/synops would hand over for the test bed.
func bedDeps() diagnose.Deps {
	return diagnose.Deps{
		Synapse:        bed.Synapse.Client(synapse.WithRetries(0)),
		SynapseDB:      synapse.NewSecret(bed.SynapseDB),
		HomeserverYAML: bed.Synapse.ConfigPath,
		MetricsURLs:    []string{bed.Synapse.MetricsURL},
		Services:       config.Services{Kind: config.ServicesNone},
		LogFile:        bed.Synapse.LogPath,
		CPUSample:      200 * time.Millisecond,
	}
}

func run(t *testing.T, d diagnose.Deps, id string) diagnose.Verdict {
	t.Helper()
	v, err := diagnose.Run(ctxT(t), d, id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Symptom.ID != id || v.Summary == "" || len(v.Findings) == 0 {
		t.Fatalf("got verdict %+v, want the symptom, a summary and findings", v)
	}
	for _, f := range v.Findings {
		if f.Check == "" || f.Evidence == "" {
			t.Errorf("finding %+v has no check name or evidence", f)
		}
		if strings.ContainsAny(f.Evidence+f.Hint, "\x1b\x07") {
			t.Errorf("finding %+v carries control characters", f)
		}
	}
	t.Logf("%s: %s — %s", id, v.Status, v.Summary)
	for _, f := range v.Findings {
		t.Logf("  [%s] %s: %s", f.Status, f.Check, f.Evidence)
	}
	return v
}

func find(t *testing.T, v diagnose.Verdict, check string) diagnose.Finding {
	t.Helper()
	for _, f := range v.Findings {
		if f.Check == check {
			return f
		}
	}
	t.Fatalf("verdict for %s has no %q finding (has %v)", v.Symptom.ID, check, names(v))
	return diagnose.Finding{}
}

func names(v diagnose.Verdict) []string {
	var out []string
	for _, f := range v.Findings {
		out = append(out, f.Check)
	}
	return out
}

func want(t *testing.T, f diagnose.Finding, status health.Status, evidence string) {
	t.Helper()
	if status >= 0 && f.Status != status {
		t.Errorf("%s: got %s (%s), want %s", f.Check, f.Status, f.Evidence, status)
	}
	if !regexp.MustCompile(evidence).MatchString(f.Evidence) {
		t.Errorf("%s: got evidence %q, want it to match %q", f.Check, f.Evidence, evidence)
	}
}

func TestSymptoms(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range diagnose.Symptoms() {
		if s.ID == "" || s.Title == "" || !strings.HasPrefix(s.FromSeed, "seed 00") || seen[s.ID] {
			t.Errorf("bad symptom %+v", s)
		}
		seen[s.ID] = true
	}
	if len(seen) != 6 {
		t.Errorf("got %d symptoms, want the 6 of the guides", len(seen))
	}
	if _, err := diagnose.Run(context.Background(), diagnose.Deps{}, "haunted"); err == nil || !strings.Contains(err.Error(), diagnose.HighMemory) {
		t.Errorf("unknown symptom: got %v, want an error listing the known ones", err)
	}
}

func TestSlowAfterReset(t *testing.T) {
	v := run(t, bedDeps(), diagnose.SlowAfterReset)
	want(t, find(t, v, "Synapse responds"), health.OK, `^GET /health answered in [0-9.]+ ms .*Synapse 1\.`)
	want(t, find(t, v, "database round trip"), health.OK, `^SELECT 1 took [0-9.]+ ms \(median of 5, slowest [0-9.]+ ms\) at .*/`+bed.SynapseName+`; \d+ connections to this database`)
	want(t, find(t, v, "CPU and memory"), health.OK, `^Synapse uses [0-9.]+ MiB \(\d+% of [0-9.]+ GiB host memory\) and \d+% of one CPU core \(metrics\)$`)
	want(t, find(t, v, "cache settings"), health.OK, `caches.global_factor 1, event_cache_size 10K \(default\), cache_autotuning off`)
	want(t, find(t, v, "presence"), health.OK, `^presence.enabled false$`)
	want(t, find(t, v, "workers"), health.OK, `no workers in instance_map`)
	find(t, v, "background updates")
	find(t, v, "forward extremities")
}

func TestConnectionErrors(t *testing.T) {
	v := run(t, bedDeps(), diagnose.ConnectionErrors)
	if v.Status != health.OK {
		t.Errorf("got %s, want ok on a healthy bed", v.Status)
	}
	want(t, find(t, v, "Synapse reachable"), health.OK, `^Synapse 1\.`)
	want(t, find(t, v, "admin token valid"), health.OK, regexp.QuoteMeta(bed.Synapse.AdminUserID))
	want(t, find(t, v, "token owner is a server admin"), health.OK, regexp.QuoteMeta(bed.Synapse.AdminUserID))
	want(t, find(t, v, "Synapse database reachable"), health.OK, `^PostgreSQL 1`)
	want(t, find(t, v, "registration shared secret"), health.OK, `registration_shared_secret is set`)
	if strings.Contains(fmt.Sprint(v), bed.Synapse.SharedSecret.Reveal()) || strings.Contains(fmt.Sprint(v), bed.Synapse.AdminToken.Reveal()) {
		t.Error("the verdict shows a secret")
	}

	// A token from before the reset: Synapse no longer knows it.
	d := bedDeps()
	d.Synapse = d.Synapse.WithToken(synapse.NewSecret("syt_YWRtaW4_from_before_the_reset_0000"))
	v = run(t, d, diagnose.ConnectionErrors)
	if v.Status != health.Crit || !strings.Contains(v.Summary, "admin token valid (critical)") {
		t.Errorf("stale token: got %s %q, want critical naming the token", v.Status, v.Summary)
	}
	if f := find(t, v, "admin token valid"); !strings.Contains(f.Hint, "register_new_matrix_user") {
		t.Errorf("got hint %q, want the steps after a reset", f.Hint)
	}
}

func TestUsersCannotJoinRooms(t *testing.T) {
	v := run(t, bedDeps(), diagnose.CannotJoinRooms)
	// The real settings of the bed's homeserver.yaml, as written there.
	want(t, find(t, v, "account registration"), health.OK, `^enable_registration false, registration_requires_token false \(default\), enable_registration_without_verification false \(default\)`)
	want(t, find(t, v, "join rate limits"), health.OK, `^rc_joins.local 10000/s burst 10000, rc_joins.remote 10000/s burst 10000, rc_joins_per_room 10000/s burst 10000$`)
	want(t, find(t, v, "server-wide restrictions"), health.OK, `limit_usage_by_mau off`)
	want(t, find(t, v, "blocked rooms"), health.OK, `no room is blocked`)
	if !strings.Contains(v.Summary, "not joining rooms") {
		t.Errorf("summary %q does not correct the guide's advice", v.Summary)
	}
}

func TestRoomGiven(t *testing.T) {
	ctx := ctxT(t)
	alice, err := bed.Synapse.Register(ctx, "diag-alice", false)
	if err != nil {
		t.Fatal(err)
	}
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "Diag \x1b[31mred\x1b[0m room",
		Members: []synapsetest.SeededUser{{UserID: alice.UserID, Token: alice.AccessToken}}, Messages: 2})
	if err != nil {
		t.Fatal(err)
	}
	d := bedDeps()
	d.RoomID = room
	v := run(t, d, diagnose.CannotJoinRooms)
	f := find(t, v, "room can be joined")
	want(t, f, health.Warn, `join rule invite, 2 joined members \(2 local\)`)
	if !strings.Contains(f.Evidence, `"Diag red room"`) || !strings.Contains(f.Hint, "invite-only") {
		t.Errorf("got %+v, want the cleaned name and the invite-only hint", f)
	}

	v = run(t, d, diagnose.RoomSyncFailing)
	want(t, find(t, v, "room state"), health.OK, `including m.room.create`)
	want(t, find(t, v, "forward extremities"), health.OK, `^room .* has 1 forward extremities \(admin API\)$`)
	want(t, find(t, v, "errors in Synapse's log"), -1, `lines of `+regexp.QuoteMeta(bed.Synapse.LogPath))

	d.RoomID = "!nosuchroom:" + bed.Synapse.ServerName
	v = run(t, d, diagnose.CannotJoinRooms)
	want(t, find(t, v, "room can be joined"), health.Crit, `does not know room`)
	if v.Status != health.Crit {
		t.Errorf("got %s, want critical", v.Status)
	}
}

func TestBlockedRoomAndExtremities(t *testing.T) {
	ctx := ctxT(t)
	blocked := "!blocked-by-diag-test:" + bed.Synapse.ServerName
	setBlock(t, blocked, true)
	t.Cleanup(func() { setBlock(t, blocked, false) })

	v := run(t, bedDeps(), diagnose.CannotJoinRooms)
	want(t, find(t, v, "blocked rooms"), health.Warn, `^1 blocked rooms refuse every join: `+regexp.QuoteMeta(blocked))
	d := bedDeps()
	d.RoomID = blocked
	v = run(t, d, diagnose.CannotJoinRooms)
	want(t, find(t, v, "room can be joined"), health.Crit, `is blocked by `+regexp.QuoteMeta(bed.Synapse.AdminUserID))

	// Twelve forward extremities in a room nobody uses (Synapse never reads
	// it). Their events do not exist, so this session skips the foreign key
	// checks (replica role; the bed's user is a superuser).
	conn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	fake := "!many-extremities:" + bed.Synapse.ServerName
	for i := range 12 {
		if _, err := conn.Exec(ctx, `INSERT INTO event_forward_extremities (event_id, room_id) VALUES ($1, $2)`, fmt.Sprintf("$fake%d", i), fake); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), `DELETE FROM event_forward_extremities WHERE room_id = $1`, fake)
	})
	v = run(t, bedDeps(), diagnose.HighMemory)
	want(t, find(t, v, "forward extremities"), health.Warn, `^most per room: `+regexp.QuoteMeta(fake)+` 12, `)
	if v.Status < health.Warn || !strings.Contains(v.Summary, "forward extremities (warning)") {
		t.Errorf("got %s %q, want the extremities in the summary", v.Status, v.Summary)
	}
}

func setBlock(t *testing.T, room string, block bool) {
	t.Helper()
	asAdmin(t, http.MethodPut, "/_synapse/admin/v1/rooms/"+strings.ReplaceAll(room, "!", "%21")+"/block", fmt.Sprintf(`{"block": %v}`, block))
}

// asAdmin sends one request to the bed's Synapse with the admin's token and
// fails the test unless it answers 200.
func asAdmin(t *testing.T, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, bed.Synapse.BaseURL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bed.Synapse.AdminToken.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
}

func TestRoomSyncFailing(t *testing.T) {
	asAdmin(t, http.MethodGet, "/_matrix/client/v3/sync?timeout=0", "") // an initial sync, so there is a sync time to read
	v := run(t, bedDeps(), diagnose.RoomSyncFailing)
	want(t, find(t, v, "database round trip"), health.OK, `^SELECT 1 took`)
	want(t, find(t, v, "room state"), health.Unknown, `no room given`)
	find(t, v, "errors in Synapse's log")
	want(t, find(t, v, "sync response times"), health.OK, `^[1-9]\d* initial or full-state syncs since start took [0-9.]+ s on average`)
}

func TestHighMemory(t *testing.T) {
	v := run(t, bedDeps(), diagnose.HighMemory)
	want(t, find(t, v, "CPU and memory"), health.OK, `^Synapse uses`)
	want(t, find(t, v, "database connection pool"), health.OK, `^database.args.cp_min 1, database.args.cp_max 5; transactions waited [0-9.]+ ms on average`)
	if !strings.Contains(v.Summary, "does not reduce memory") {
		t.Errorf("summary %q does not weigh the guide's pool advice", v.Summary)
	}
}

// composeStats is what `docker compose stats --no-stream --format json` prints.
func composeStats(mem string) string {
	return `{"BlockIO":"1MB / 0B","CPUPerc":"93.10%","Container":"ab12","ID":"ab12","MemPerc":"x","MemUsage":"` + mem + ` / 7.667GiB","Name":"matrix-synapse-1","NetIO":"1kB / 2kB","PIDs":"40"}`
}

func TestComposeStats(t *testing.T) {
	stub := servicestest.Install(t, "docker", "echo '"+composeStats("7.2GiB")+"'")
	d := bedDeps()
	d.Services = config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/matrix/docker-compose.yml", SynapseService: "synapse"}
	v := run(t, d, diagnose.HighMemory)
	f := find(t, v, "CPU and memory")
	want(t, f, health.Crit, `^Synapse uses 7.2 GiB \(94% of 7.7 GiB container limit\) and 93% of one CPU core \(docker compose stats\)$`)
	if !strings.Contains(f.Hint, "workers") || !strings.Contains(f.Hint, "cache") {
		t.Errorf("got hint %q", f.Hint)
	}
	wantArgs := "compose -f /srv/matrix/docker-compose.yml stats --no-stream --format json synapse"
	if calls := stub.Calls(t); len(calls) != 1 || strings.Join(calls[0], " ") != wantArgs {
		t.Errorf("docker got %q, want %q", calls, wantArgs)
	}
}

func TestComposeStatsFailsFallsBackToMetrics(t *testing.T) {
	servicestest.Install(t, "docker", `echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1`)
	d := bedDeps()
	d.Services = config.Services{Kind: config.ServicesCompose, ComposeProject: "matrix"}
	v := run(t, d, diagnose.SlowAfterReset)
	want(t, find(t, v, "CPU and memory"), health.OK, `\(metrics\) \(the service manager failed: .*docker: exit status 1: Cannot connect to the Docker daemon`)

	d.MetricsURLs = nil
	v = run(t, d, diagnose.SlowAfterReset)
	want(t, find(t, v, "CPU and memory"), health.Unknown, `Cannot connect to the Docker daemon`)
}

func TestSystemdStats(t *testing.T) {
	// CPUUsageNSec grows by 0.1 s of CPU between the two readings 200 ms apart: 50%.
	dir := t.TempDir()
	servicestest.Install(t, "systemctl", `n=$(cat `+dir+`/n 2>/dev/null || echo 0); echo $((n+1)) > `+dir+`/n
printf 'MemoryCurrent=%d\nCPUUsageNSec=%d\nActiveState=active\nMainPID=4242\n' 314572800 $((5000000000 + n*100000000))`)
	d := bedDeps()
	d.Services = config.Services{Kind: config.ServicesSystemd, SynapseUnit: "matrix-synapse"}
	v := run(t, d, diagnose.HighMemory)
	want(t, find(t, v, "CPU and memory"), health.OK, `^Synapse uses 300 MiB \(\d+% of [0-9.]+ GiB host memory\) and (4[0-9]|50)% of one CPU core \(systemctl show\)$`)

	servicestest.Install(t, "systemctl", `printf 'MemoryCurrent=[not set]\nCPUUsageNSec=[not set]\nActiveState=failed\nMainPID=0\n'`)
	v = run(t, d, diagnose.HighMemory)
	want(t, find(t, v, "CPU and memory"), health.Crit, `the Synapse unit is failed`)
}

// TestNothingConfigured: without any dependency every symptom still gives a
// verdict, made of Unknown findings that say what is missing.
func TestNothingConfigured(t *testing.T) {
	for _, s := range diagnose.Symptoms() {
		v, err := diagnose.Run(ctxT(t), diagnose.Deps{Timeout: time.Second}, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != health.Unknown || len(v.Findings) == 0 || !strings.HasPrefix(lastSentence(v.Summary), "Nothing could be checked") {
			t.Errorf("%s: got %s %q, want unknown saying nothing could be checked", s.ID, v.Status, v.Summary)
		}
		for _, f := range v.Findings {
			if f.Status != health.Unknown || f.Evidence == "" {
				t.Errorf("%s: got %+v, want unknown with a reason", s.ID, f)
			}
		}
	}
}

func lastSentence(s string) string {
	if i := strings.Index(s, "Nothing could be checked"); i >= 0 {
		return s[i:]
	}
	return s
}

func TestDatabaseDown(t *testing.T) {
	d := bedDeps()
	d.SynapseDB = synapse.NewSecret("postgres://synapse:hunter2@127.0.0.1:1/synapse?connect_timeout=2")
	v := run(t, d, diagnose.RoomSyncFailing)
	f := find(t, v, "database round trip")
	want(t, f, health.Crit, `^cannot connect: `)
	if strings.Contains(f.Evidence, "hunter2") {
		t.Errorf("evidence %q shows the password", f.Evidence)
	}
}

// TestSynapseStopped stops the bed's Synapse (and starts it again after).
func TestSynapseStopped(t *testing.T) {
	bed.Synapse.Stop()
	t.Cleanup(func() {
		if err := bed.Synapse.Restart(context.Background()); err != nil {
			t.Errorf("restart Synapse: %v", err)
		}
	})
	v := run(t, bedDeps(), diagnose.ConnectionErrors)
	if v.Status != health.Crit || !strings.HasPrefix(v.Summary, "Synapse is unreachable: cannot reach Synapse at "+bed.Synapse.BaseURL) {
		t.Errorf("got %s %q, want critical saying Synapse is unreachable", v.Status, v.Summary)
	}
	want(t, find(t, v, "Synapse reachable"), health.Crit, `connection refused`)
	want(t, find(t, v, "admin token valid"), health.Unknown, `not checked: Synapse is unreachable`)
	want(t, find(t, v, "Synapse database reachable"), health.OK, `^PostgreSQL`)

	v = run(t, bedDeps(), diagnose.CannotJoinRooms)
	want(t, find(t, v, "Synapse responds"), health.Crit, `cannot reach Synapse`)
}

// TestLogErrorsWarn drives the "errors in Synapse's log" finding to a
// warning with a real error of the bed's Synapse: a room queued for a
// sliding-sync recalculation cannot be deleted (element-hq/synapse#19822),
// and Synapse logs the failed task at ERROR.
func TestLogErrorsWarn(t *testing.T) {
	ctx := ctxT(t)
	errorLines := func(f diagnose.Finding) int {
		t.Helper()
		if f.Status == health.OK {
			return 0
		}
		var n int
		if _, err := fmt.Sscanf(f.Evidence, "%d ERROR or CRITICAL lines", &n); err != nil {
			t.Fatalf("evidence %q does not count the error lines", f.Evidence)
		}
		return n
	}
	before := errorLines(find(t, run(t, bedDeps(), diagnose.RoomSyncFailing), "errors in Synapse's log"))

	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "diag-log-error"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `INSERT INTO sliding_sync_joined_rooms_to_recalculate (room_id) VALUES ($1) ON CONFLICT DO NOTHING`, room); err != nil {
		t.Fatal(err)
	}
	cl := bed.Synapse.Client()
	deleteID, err := cl.DeleteRoom(ctx, room, synapse.DeleteRoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := cl.WaitDelete(ctx, deleteID, 100*time.Millisecond, nil); err == nil || st == nil || st.Status != "failed" {
		t.Fatalf("deleting a room queued for recalculation: %+v, %v; want Synapse's task to fail", st, err)
	}
	t.Cleanup(func() { // leave the bed without the queued room
		ctx := context.Background()
		_, _ = conn.Exec(ctx, `DELETE FROM sliding_sync_joined_rooms_to_recalculate WHERE room_id = $1`, room)
		if id, err := cl.DeleteRoom(ctx, room, synapse.DeleteRoomOptions{}); err == nil {
			_, _ = cl.WaitDelete(ctx, id, 100*time.Millisecond, nil)
		}
	})

	f := find(t, run(t, bedDeps(), diagnose.RoomSyncFailing), "errors in Synapse's log")
	want(t, f, health.Warn, `^[1-9]\d* ERROR or CRITICAL lines in the last \d+ lines of `+regexp.QuoteMeta(bed.Synapse.LogPath)+`; the latest: `)
	if after := errorLines(f); after <= before {
		t.Errorf("%d error lines after Synapse's task failed, %d before; want more", after, before)
	}
	if !strings.Contains(f.Hint, "synops logs") {
		t.Errorf("hint %q does not say how to follow the log", f.Hint)
	}
}
