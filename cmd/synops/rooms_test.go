package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"synops/ops/audit"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// roomsEnv writes a profile for the bed and returns the environment that
// selects it, with the audit log and journal under a fresh state directory.
func roomsCLIEnv(t *testing.T) (env map[string]string, state string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	state = filepath.Join(dir, "state")
	return map[string]string{"SYNOPS_CONFIG": cfg, "HOME": dir, "XDG_STATE_HOME": state}, state
}

// cli is synops() that turns a panic of the command into a test failure, so
// one broken command does not take the package's other tests down with it.
func cli(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("synops %s panicked: %v\n%s", strings.Join(args, " "), r, debug.Stack())
		}
	}()
	return synops(t, env, args...)
}

func roomsCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func cliRoomExists(t *testing.T, id string) bool {
	t.Helper()
	_, err := bed.Synapse.Client().Room(roomsCtx(t), id)
	switch {
	case err == nil:
		return true
	case errors.Is(err, synapse.ErrNotFound):
		return false
	}
	t.Fatalf("room %s: %v", id, err)
	return false
}

func roomCount(t *testing.T) int {
	t.Helper()
	p, err := bed.Synapse.Client().ListRoomsPage(roomsCtx(t), synapse.ListRoomsOptions{PageSize: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.Total
}

// waitRoomsListed waits until the admin room list (which only shows rooms
// Synapse has statistics for) holds every id.
func waitRoomsListed(t *testing.T, ids []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, err := bed.Synapse.Client().AllRooms(roomsCtx(t), synapse.ListRoomsOptions{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range all {
			seen[r.RoomID] = true
		}
		missing := 0
		for _, id := range ids {
			if !seen[id] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rooms not listed after 30s", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRoomsListJSONPages(t *testing.T) {
	ctx := roomsCtx(t)
	env, _ := roomsCLIEnv(t)
	// More than one page of Synapse's default 100.
	var seeded []string
	if n := roomCount(t); n <= 100 {
		specs := make([]synapsetest.RoomSpec, 101-n+5)
		for i := range specs {
			specs[i] = synapsetest.RoomSpec{Name: fmt.Sprintf("cli-list-%03d", i)}
		}
		ids, err := bed.Synapse.SeedRooms(ctx, specs)
		if err != nil {
			t.Fatal(err)
		}
		seeded = ids
		waitRoomsListed(t, ids)
	}
	total := roomCount(t)
	if total <= 100 {
		t.Fatalf("only %d rooms; the test needs more than a page", total)
	}
	out, errs, code := cli(t, env, "rooms", "list", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var list []synapse.Room
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("rooms list --json is not a JSON array of rooms: %v\n%.500s", err, out)
	}
	if len(list) != total {
		t.Errorf("got %d rooms, want all %d (more than one page)", len(list), total)
	}
	seen := map[string]bool{}
	for _, r := range list {
		if seen[r.RoomID] {
			t.Errorf("room %s listed twice", r.RoomID)
		}
		seen[r.RoomID] = true
	}
	for _, id := range seeded {
		if !seen[id] {
			t.Errorf("seeded room %s missing from the list", id)
		}
	}
	if strings.Contains(out+errs, bed.Synapse.AdminToken.Reveal()) {
		t.Error("the token was printed")
	}
}

func TestRoomsShow(t *testing.T) {
	ctx := roomsCtx(t)
	env, _ := roomsCLIEnv(t)
	id, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "cli-show \x1b[31mred\x1b[0m", Topic: "a topic to show", Messages: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := cli(t, env, "rooms", "show", id)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{id, "cli-show", "topic: a topic to show", "1 joined members: 1 local, 0 remote",
		"members: " + bed.Synapse.AdminUserID, "blocked false"} {
		if !strings.Contains(out, want) {
			t.Errorf("rooms show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("rooms show passed an escape sequence from the room name to the terminal:\n%q", out)
	}
	out, errs, code = cli(t, env, "rooms", "show", id, "--json")
	var im struct {
		Room struct {
			RoomID string `json:"room_id"`
		} `json:"room"`
		LocalMembers []string `json:"local_members"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &im) != nil || im.Room.RoomID != id || len(im.LocalMembers) != 1 {
		t.Errorf("rooms show --json: exit %d, %+v\n%s%s", code, im, out, errs)
	}
	_, errs, code = cli(t, env, "rooms", "show", "!nosuchroom:"+bed.Synapse.ServerName)
	if code == 0 || !strings.Contains(errs, "!nosuchroom:"+bed.Synapse.ServerName) || !strings.Contains(errs, "M_NOT_FOUND") {
		t.Errorf("rooms show of an unknown room: exit %d\n%s", code, errs)
	}
}

func TestRoomsPurgeCLI(t *testing.T) {
	ctx := roomsCtx(t)
	env, _ := roomsCLIEnv(t)
	// Three rooms old enough for --older-than 1s, so the dry run has rooms
	// to list (and must not delete them).
	prefix := fmt.Sprintf("cli-dry-%d-", time.Now().UnixNano()%1e6)
	old, err := bed.Synapse.SeedRooms(ctx, []synapsetest.RoomSpec{{Name: prefix + "a"}, {Name: prefix + "b"}, {Name: prefix + "c"}})
	if err != nil {
		t.Fatal(err)
	}
	waitRoomsListed(t, old)
	time.Sleep(1500 * time.Millisecond)
	before := roomCount(t)
	out, errs, code := cli(t, env, "rooms", "purge", "--older-than", "1s", "--match", "^"+prefix)
	if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "rooms.purge") || !strings.Contains(out, "delete and purge 3 rooms") {
		t.Errorf("purge without --apply: exit %d, want a dry run of 3 rooms\n%s%s", code, out, errs)
	}
	for _, id := range old {
		if !strings.Contains(out, id) {
			t.Errorf("the dry run does not list %s:\n%s", id, out)
		}
	}
	out, errs, code = cli(t, env, "rooms", "purge", "--older-than", "1s", "--match", "^"+prefix, "--json")
	var dry struct {
		DryRun bool `json:"dry_run"`
		Plan   struct {
			Target string `json:"target"`
		} `json:"plan"`
		Rooms []struct {
			RoomID string `json:"room_id"`
		} `json:"rooms"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &dry) != nil || !dry.DryRun || dry.Plan.Target != bed.Synapse.ServerName || len(dry.Rooms) != 3 {
		t.Errorf("purge --json dry run: exit %d %+v, want the 3 rooms\n%s%s", code, dry, out, errs)
	}
	if after := roomCount(t); after != before {
		t.Errorf("a dry run changed the room count from %d to %d", before, after)
	}
	for _, id := range old {
		if !cliRoomExists(t, id) {
			t.Errorf("the dry run deleted %s", id)
		}
	}

	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"rooms", "purge"}, 2, "--older-than is required"},
		{[]string{"rooms", "purge", "--older-than", "-1d"}, 2, "negative"},
		{[]string{"rooms", "purge", "--older-than=-1d"}, 2, "negative"},
		{[]string{"rooms", "purge", "--older-than", "abc"}, 2, `invalid duration "abc"`},
		{[]string{"rooms", "purge", "--older-than", "0d"}, 2, "--older-than must be more than 0"},
		// Ages too long for a time.Duration are refused, not wrapped round
		// to a recent time (213504d once meant "25 minutes ago").
		{[]string{"rooms", "purge", "--older-than", "106752d"}, 2, `--older-than: duration "106752d" is too large: at most 106751d`},
		{[]string{"rooms", "purge-history", "!any:" + bed.Synapse.ServerName, "--before", "213504d"}, 2, `--before: duration "213504d" is too large: at most 106751d`},
		{[]string{"rooms", "purge-history", "!any:" + bed.Synapse.ServerName, "--before", "1969-07-20"}, 2, "before 1970-01-01"},
		{[]string{"rooms", "purge", "--older-than", "30d", "--apply"}, 2, "--yes --confirm=<server name>"},
		{[]string{"rooms", "purge", "--unfinished", "--older-than", "30d"}, 2, "--unfinished selects no new rooms"},
		{[]string{"rooms", "purge", "--unfinished", "--match", "x"}, 2, "--unfinished selects no new rooms"},
		{[]string{"rooms", "purge", "--unfinished", "--apply"}, 2, "--yes --confirm=<server name>"},
		{[]string{"rooms", "purge", "--older-than", "30d", "--match", "(["}, 1, "not a valid regular expression"},
		{[]string{"rooms", "purge", "--older-than", "30d", "--max-concurrency", "0"}, 2, "--max-concurrency must be between 1 and 64"},
		{[]string{"rooms", "purge", "--older-than", "30d", "--exclude", "general"}, 1, `invalid room ID "general"`},
		{[]string{"rooms", "delete", "general"}, 2, "invalid room ID"},
		{[]string{"rooms", "delete", "!bad room:example.org"}, 2, "invalid room ID"},
		{[]string{"rooms", "show", "#alias:example.org"}, 2, "invalid room ID"},
		{[]string{"rooms", "block", "nope"}, 2, "invalid room ID"},
		{[]string{"rooms", "purge-history", "nope", "--before", "30d"}, 2, "invalid room ID"},
		{[]string{"rooms", "delete"}, 2, "give exactly one room ID"},
	}
	for _, tt := range tests {
		out, errs, code := cli(t, env, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("synops %s: exit %d, want %d with %q\n%s%s", strings.Join(tt.args, " "), code, tt.code, tt.want, out, errs)
		}
		if strings.Contains(errs, "goroutine ") {
			t.Errorf("synops %s printed a stack trace", strings.Join(tt.args, " "))
		}
	}
	if after := roomCount(t); after != before {
		t.Errorf("refused commands changed the room count from %d to %d", before, after)
	}
}

func TestRoomsDeleteCLI(t *testing.T) {
	ctx := roomsCtx(t)
	env, state := roomsCLIEnv(t)
	id, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "cli-delete", Messages: 2})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	slug := fmt.Sprintf("cli-delete-%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `INSERT INTO "events" ("slug","name","startDate","endDate","matrixRoomId") VALUES ($1,$1,now(),now(),$2)`, slug, id); err != nil {
		t.Fatal(err)
	}
	refs := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM "events" WHERE "matrixRoomId" = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	unchanged := func(what string) {
		t.Helper()
		if !cliRoomExists(t, id) || refs() != 1 {
			t.Fatalf("%s changed something: room exists %v, %d references", what, cliRoomExists(t, id), refs())
		}
	}

	out, errs, code := cli(t, env, "rooms", "delete", id)
	if code != 2 || !strings.Contains(errs, "--yes --confirm=") || !strings.Contains(errs, id) {
		t.Errorf("delete without --yes and no terminal: exit %d, want 2 with the --yes --confirm hint\n%s", code, errs)
	}
	if !strings.Contains(out, "rooms.delete") || !strings.Contains(out, "irreversible") {
		t.Errorf("the plan was not shown before asking:\n%s", out)
	}
	unchanged("delete without --yes")

	_, errs, code = cli(t, env, "rooms", "delete", id, "--yes", "--confirm=!wrong:"+bed.Synapse.ServerName, "--without-backup")
	if code == 0 || !strings.Contains(errs, "not approved") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("delete confirmed with another ID: exit %d\n%s", code, errs)
	}
	unchanged("a wrong confirmation")

	_, errs, code = cli(t, env, "rooms", "delete", id, "--yes")
	if code != 2 || !strings.Contains(errs, "--confirm") {
		t.Errorf("--yes without --confirm: exit %d\n%s", code, errs)
	}
	unchanged("--yes without --confirm")

	_, errs, code = cli(t, env, "rooms", "delete", id, "--yes", "--confirm="+id)
	if code == 0 || !strings.Contains(errs, "no verified backup") || !strings.Contains(errs, "--without-backup") {
		t.Errorf("delete without a backup or --without-backup: exit %d, want a refusal naming --without-backup\n%s", code, errs)
	}
	unchanged("delete without a backup")

	_, errs, code = cli(t, env, "--read-only", "rooms", "delete", id, "--yes", "--confirm="+id, "--without-backup")
	if code == 0 || !strings.Contains(errs, "read-only") {
		t.Errorf("delete in read-only mode: exit %d\n%s", code, errs)
	}
	unchanged("delete in read-only mode")

	if err := bed.WaitSettled(roomsCtx(t), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cli(t, env, "rooms", "delete", id, "--yes", "--confirm="+id, "--without-backup")
	if code != 0 || !strings.Contains(out, "deleted "+id) || !strings.Contains(out, "1 application references cleared") {
		t.Fatalf("delete --without-backup: exit %d\n%s%s", code, out, errs)
	}
	if cliRoomExists(t, id) || refs() != 0 {
		t.Errorf("after the delete: room exists %v, %d references", cliRoomExists(t, id), refs())
	}
	logPath := filepath.Join(state, "synops", "audit.log")
	es, err := audit.Read(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, e := range es {
		if e.Target == id {
			phases = append(phases, e.Phase+":"+e.Outcome)
		}
	}
	// The wrong confirmation, the missing backup and read-only mode are each
	// logged as refused (the usage errors never got as far as a plan's
	// approval); then the delete's start and its ok end.
	if got, want := strings.Join(phases, " "), "refused: refused: refused: start: end:ok"; got != want {
		t.Errorf("audit phases for %s: %q; want %q", id, got, want)
	}
	data, _ := os.ReadFile(logPath)
	if strings.Contains(string(data)+out+errs, bed.Synapse.AdminToken.Reveal()) {
		t.Error("the admin token leaked into the audit log or the output")
	}
	if st, err := os.Stat(logPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
}

// TestRoomsPurgeUnfinishedCLI: deletions the console or an earlier run left
// in the journal are listed by the dry run and finished by --apply, with the
// server name as approval. One was under way in Synapse (synops follows it
// and clears the application's reference); the other was recorded as about
// to be asked and never reached Synapse, so synops itself must send it, and
// since that loses data it needs the backup waiver.
func TestRoomsPurgeUnfinishedCLI(t *testing.T) {
	ctx := roomsCtx(t)
	env, state := roomsCLIEnv(t)
	deleting := interruptedDeletion(t, state, "cli-unfinished")
	requested := requestedDeletion(t, state, "cli-unasked")
	conn, err := pgx.Connect(ctx, bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	out, errs, code := cli(t, env, "rooms", "purge", "--unfinished")
	if code != 0 || !strings.Contains(out, deleting) || !strings.Contains(out, "unfinished: deleting") ||
		!strings.Contains(out, requested) || !strings.Contains(out, "unfinished: requested") || !strings.Contains(out, "add --apply to finish") {
		t.Errorf("dry run: exit %d, want both journal rooms listed\n%s%s", code, out, errs)
	}
	_, errs, code = cli(t, env, "rooms", "purge", "--unfinished", "--apply", "--yes", "--confirm="+bed.Synapse.ServerName)
	if code == 0 || !strings.Contains(errs, "no verified backup") || !cliRoomExists(t, requested) {
		t.Errorf("--unfinished --apply without the waiver, with a deletion Synapse may never have had: exit %d, want a refusal and the room kept\n%s", code, errs)
	}
	if tasks := deleteTasks(t, requested); len(tasks) != 0 {
		t.Fatalf("Synapse has delete tasks %+v for %s before synops asked", tasks, requested)
	}

	out, errs, code = cli(t, env, "rooms", "purge", "--unfinished", "--apply", "--yes", "--confirm="+bed.Synapse.ServerName, "--without-backup")
	if code != 0 || !strings.Contains(out, "2 deleted, 0 pending") {
		t.Fatalf("--unfinished --apply: exit %d\n%s%s", code, out, errs)
	}
	for _, id := range []string{deleting, requested} {
		if cliRoomExists(t, id) {
			t.Errorf("room %s still exists", id)
		}
		var refs int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM "events" WHERE "matrixRoomId" = $1`, id).Scan(&refs); err != nil || refs != 0 {
			t.Errorf("room %s: %d application references left (%v); synops clears them", id, refs, err)
		}
	}
	// The requested room was deleted by synops's request: Synapse ran one
	// deletion for it, the one the journal records.
	journal := readJournal(t, state)
	tasks := deleteTasks(t, requested)
	if len(tasks) != 1 || tasks[0].Status != "complete" || journal[requested].DeleteID != tasks[0].ID || journal[requested].Stage != "done" {
		t.Errorf("Synapse's deletions of %s: %+v; journal %+v; want one, complete, the journal's", requested, tasks, journal[requested])
	}
	if e := journal[deleting]; e.Stage != "done" {
		t.Errorf("journal entry of %s: %+v, want done", deleting, e)
	}

	out, errs, code = cli(t, env, "rooms", "purge", "--unfinished", "--apply", "--yes", "--confirm="+bed.Synapse.ServerName)
	if code != 0 || !strings.Contains(out, "no unfinished deletions") {
		t.Errorf("second run: exit %d, want nothing to do\n%s%s", code, out, errs)
	}
}

// interruptedDeletion creates a room with an application reference, has
// Synapse start deleting it, and writes the journal a run leaves when it
// stops while Synapse works: the room at stage "deleting" with Synapse's
// delete ID, in the state directory state/synops. Synapse deletes the room
// whatever synops does; clearing the reference is synops's part.
func interruptedDeletion(t *testing.T, state, name string) (roomID string) {
	t.Helper()
	ctx := roomsCtx(t)
	id := roomWithRef(t, name)
	if err := bed.WaitSettled(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	deleteID, err := bed.Synapse.Client().DeleteRoom(ctx, id, synapse.DeleteRoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addJournalEntry(t, state, map[string]string{"room_id": id, "name": name, "stage": "deleting", "delete_id": deleteID})
	return id
}

// requestedDeletion creates a room with an application reference and writes
// the journal entry a run leaves when it stops just before its delete
// request reached Synapse: stage "requested", no delete ID. Nothing asks
// Synapse to delete the room: only synops finishing the journal can.
func requestedDeletion(t *testing.T, state, name string) (roomID string) {
	t.Helper()
	id := roomWithRef(t, name)
	if err := bed.WaitSettled(roomsCtx(t), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	addJournalEntry(t, state, map[string]string{"room_id": id, "name": name, "stage": "requested"})
	return id
}

func roomWithRef(t *testing.T, name string) string {
	t.Helper()
	ctx := roomsCtx(t)
	id, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	slug := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `INSERT INTO "events" ("slug","name","startDate","endDate","matrixRoomId") VALUES ($1,$1,now(),now(),$2)`, slug, id); err != nil {
		t.Fatal(err)
	}
	return id
}

type journalEntry struct {
	RoomID   string `json:"room_id"`
	Stage    string `json:"stage"`
	DeleteID string `json:"delete_id"`
}

// addJournalEntry adds e to the room journal in state/synops.
func addJournalEntry(t *testing.T, state string, e map[string]string) {
	t.Helper()
	path := filepath.Join(state, "synops", "rooms-journal.json")
	var list []map[string]string
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatal(err)
		}
	}
	e["updated"] = time.Now().UTC().Format(time.RFC3339)
	data, err := json.Marshal(append(list, e))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readJournal(t *testing.T, state string) map[string]journalEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "synops", "rooms-journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []journalEntry
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]journalEntry{}
	for _, e := range list {
		out[e.RoomID] = e
	}
	return out
}

// deleteTasks lists Synapse's room deletions of roomID, whatever their status.
func deleteTasks(t *testing.T, roomID string) []synapse.ScheduledTask {
	t.Helper()
	tasks, err := bed.Synapse.Client().ScheduledTasks(roomsCtx(t), "shutdown_and_purge_room", roomID, "")
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// TestRoomsChangesCLI: block, unblock, purge-history and delete --block from
// the command line, each checked by reading Synapse's state back.
func TestRoomsChangesCLI(t *testing.T) {
	ctx := roomsCtx(t)
	env, state := roomsCLIEnv(t)
	cl := bed.Synapse.Client()
	room, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "cli-changes", Messages: 6})
	if err != nil {
		t.Fatal(err)
	}
	blocked := func(id string) bool {
		t.Helper()
		b, _, err := cl.RoomBlocked(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	out, errs, code := cli(t, env, "rooms", "block", room, "--yes", "--confirm="+room)
	if code != 0 || !strings.Contains(out, "blocked "+room) {
		t.Fatalf("rooms block: exit %d\n%s%s", code, out, errs)
	}
	if b, by, err := cl.RoomBlocked(ctx, room); err != nil || !b || by != bed.Synapse.AdminUserID {
		t.Errorf("after rooms block: blocked %v by %q (%v), want blocked by %s", b, by, err, bed.Synapse.AdminUserID)
	}
	out, errs, code = cli(t, env, "rooms", "unblock", room, "--yes", "--confirm="+room)
	if code != 0 || !strings.Contains(out, "unblocked "+room) || blocked(room) {
		t.Errorf("rooms unblock: exit %d, blocked %v\n%s%s", code, blocked(room), out, errs)
	}

	// Messages older than a second go, except the room's newest event, which
	// Synapse keeps; the state stays.
	db, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	messages := func() (n int, newest string) {
		t.Helper()
		if err := db.QueryRow(ctx, `SELECT count(*) FROM events WHERE room_id = $1 AND type = 'm.room.message'`, room).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT event_id FROM events WHERE room_id = $1 ORDER BY stream_ordering DESC LIMIT 1`, room).Scan(&newest); err != nil {
			t.Fatal(err)
		}
		return n, newest
	}
	n, newest := messages()
	if n != 6 {
		t.Fatalf("seeded %d messages, want 6", n)
	}
	before, err := cl.Room(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	out, errs, code = cli(t, env, "rooms", "purge-history", room, "--before", "1s", "--local", "--yes", "--confirm="+room, "--without-backup")
	if code != 0 || !strings.Contains(out, "purged the history of "+room) {
		t.Fatalf("rooms purge-history: exit %d\n%s%s", code, out, errs)
	}
	var left []string
	rows, err := db.Query(ctx, `SELECT event_id FROM events WHERE room_id = $1 AND type = 'm.room.message'`, room)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left = append(left, id)
	}
	if len(left) != 1 || left[0] != newest {
		t.Errorf("messages after purge-history --before 1s: %v, want only the newest event %s", left, newest)
	}
	if after, err := cl.Room(ctx, room); err != nil || after.StateEvents != before.StateEvents {
		t.Errorf("state events after purge-history: %+v (%v), want %d", after, err, before.StateEvents)
	}

	if err := bed.WaitSettled(ctx, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	out, errs, code = cli(t, env, "rooms", "delete", room, "--block", "--yes", "--confirm="+room, "--without-backup")
	if code != 0 || !strings.Contains(out, "deleted "+room) {
		t.Fatalf("rooms delete --block: exit %d\n%s%s", code, out, errs)
	}
	if cliRoomExists(t, room) {
		t.Error("the room survived rooms delete")
	}
	if !blocked(room) {
		t.Error("rooms delete --block left the room ID unblocked")
	}
	tasks := deleteTasks(t, room)
	if j := readJournal(t, state)[room]; len(tasks) != 1 || tasks[0].Status != "complete" || j.DeleteID != tasks[0].ID {
		t.Errorf("Synapse's deletions of the room: %+v, journal %+v; want one, complete, the journal's", tasks, j)
	}
	var kinds []string
	es, err := audit.Read(filepath.Join(state, "synops", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Target == room && e.Phase == "end" && e.Outcome == "ok" {
			kinds = append(kinds, e.Action)
		}
	}
	if got, want := strings.Join(kinds, " "), "rooms.block rooms.unblock rooms.purge_history rooms.delete"; got != want {
		t.Errorf("audit log: ok ends %q, want %q", got, want)
	}
}

// TestRoomsPurgeApplyCLI: the retention purge as cron runs it, its pace
// capped by rooms.purge.max_concurrency in the profile, and by
// --max-concurrency over that.
func TestRoomsPurgeApplyCLI(t *testing.T) {
	ctx := roomsCtx(t)
	env, _ := roomsCLIEnv(t)
	data, err := os.ReadFile(env["SYNOPS_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["profiles"].(map[string]any)["sandbox"].(map[string]any)["rooms"] = map[string]any{"purge": map[string]any{"max_concurrency": 3}}
	if data, err = yaml.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env["SYNOPS_CONFIG"], data, 0o600); err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("cli-apply-%d-", time.Now().UnixNano()%1e6)
	ids, err := bed.Synapse.SeedRooms(ctx, []synapsetest.RoomSpec{{Name: prefix + "a"}, {Name: prefix + "b"}, {Name: prefix + "c"}, {Name: prefix + "x-d"}})
	if err != nil {
		t.Fatal(err)
	}
	waitRoomsListed(t, ids)
	time.Sleep(1500 * time.Millisecond)
	apply := []string{"rooms", "purge", "--older-than", "1s", "--apply", "--yes", "--confirm=" + bed.Synapse.ServerName, "--without-backup"}
	out, errs, code := cli(t, env, append(apply, "--match", "^"+prefix+"[abc]")...)
	if code != 0 || !strings.Contains(out, "3 deleted, 0 pending, 0 skipped, 0 failed") || !strings.Contains(out, "at most 3)") {
		t.Fatalf("purge --apply with max_concurrency 3 in the profile: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cli(t, env, append(apply, "--match", "^"+prefix+"x", "--max-concurrency", "1")...)
	if code != 0 || !strings.Contains(out, "1 deleted") || !strings.Contains(out, "deletions at once: up to 1 (limit 1, at most 1)") {
		t.Fatalf("purge --apply --max-concurrency 1: exit %d\n%s%s", code, out, errs)
	}
	for _, id := range ids {
		if cliRoomExists(t, id) {
			t.Errorf("room %s survived", id)
		}
	}
}
