package reset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/pgtest"
	"synops/ops/testbed"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

func killSelf() error { return syscall.Kill(os.Getpid(), syscall.SIGKILL) }

// standalone is a Synapse of its own on the bed's PostgreSQL, driven by
// custom service commands (a script that signals it through its pid file
// and starts it again with the same command line), with an OpenMeet-style
// application database: what a standalone reset resets.
type standalone struct {
	syn    *synapsetest.Server
	script string
	sp     spec
	calls  string // where the script wrapper records its calls
}

func newStandalone(t *testing.T, server string) *standalone {
	t.Helper()
	ctx := ctxT(t, 5*time.Minute)
	name := pgtest.UniqueName("reset")
	dsn, err := bed.PG.CreateDatabase(ctx, name, pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appDSN, err := bed.PG.CreateDatabase(ctx, pgtest.UniqueName("resetapp"), pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := testbed.CreateAppSchema(ctx, appDSN); err != nil {
		t.Fatal(err)
	}
	syn, err := synapsetest.Start(ctx, synapsetest.Options{ServerName: server, Extra: serverNotices(),
		DB: synapsetest.DB{Host: bed.PG.Host(), Port: bed.PG.Port(), User: bed.PG.User(), Password: bed.PG.Password(), Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(syn.Close)
	dir := t.TempDir()
	s := &standalone{syn: syn, script: filepath.Join(dir, "synctl"), calls: filepath.Join(dir, "calls")}
	if err := syn.WriteControlScript(s.script + ".real"); err != nil {
		t.Fatal(err)
	}
	// The profile's commands go through a wrapper that notes each call, so
	// a test can tell whether synops stopped Synapse.
	wrapper := fmt.Sprintf("#!/bin/sh\necho \"$1\" >> %s\nexec %s.real \"$@\"\n", s.calls, s.script)
	if err := os.WriteFile(s.script, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	// Whatever the test did, the Synapse the script may have started goes.
	t.Cleanup(func() { _ = exec.Command(s.script+".real", "stop").Run() })

	state := t.TempDir()
	app := t.TempDir()
	own := filepath.Join(state, "admin.token")
	if err := os.WriteFile(own, []byte(syn.AdminToken.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(app, ".env")
	if err := os.WriteFile(envFile, []byte("NODE_ENV=development\nMATRIX_ADMIN_TOKEN="+syn.AdminToken.Reveal()+"\nMATRIX_URL="+syn.BaseURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	restart := filepath.Join(app, "restart-api")
	if err := os.WriteFile(restart, []byte("#!/bin/sh\necho restarting the OpenMeet API\necho \"$(date +%s)\" >> "+filepath.Join(app, "restarted")+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The application's own check: the token in its environment must be
	// the one its env file holds.
	check := filepath.Join(app, "check-matrix")
	if err := os.WriteFile(check, []byte("#!/bin/sh\ngrep -qx \"MATRIX_ADMIN_TOKEN=$MATRIX_ADMIN_TOKEN\" "+envFile+" || { echo 'the env file holds another token' >&2; exit 1; }\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.sp = spec{
		Server: server, Environment: "development", BaseURL: syn.BaseURL, Token: syn.AdminToken.Reveal(),
		Secret: syn.SharedSecret.Reveal(), SynapseDB: dsn, AppDB: appDSN, MediaStore: syn.MediaStore,
		Services: config.Services{Kind: config.ServicesCustom,
			Start: []string{s.script, "start"}, Stop: []string{s.script, "stop"}, Status: []string{s.script, "status"}},
		Reset:    config.Reset{Path: config.ResetStandalone, StartTimeout: 3 * time.Minute, RestartApp: []string{restart}},
		StateDir: state, AuditPath: filepath.Join(state, "audit.log"), BackupDir: filepath.Join(t.TempDir(), "backups"),
		JobLog: filepath.Join(state, "reset-jobs.log"), OwnToken: own, EnvFile: envFile, Check: []string{check},
		FreshWithin: time.Hour,
	}
	return s
}

// scriptCalls is what the service commands were asked to do.
func (s *standalone) scriptCalls(t *testing.T) []string {
	data, err := os.ReadFile(s.calls)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

func (s *standalone) db(t *testing.T) string { return s.sp.SynapseDB }

// seed fills the server with users, rooms, messages and media, and the
// application database with events and chat rooms that point at the rooms.
func (s *standalone) seed(t *testing.T) (users []synapsetest.SeededUser, rooms []string) {
	t.Helper()
	ctx := ctxT(t, 3*time.Minute)
	users, err := s.syn.SeedUsers(ctx, "member", 3)
	if err != nil {
		t.Fatal(err)
	}
	rooms, err = s.syn.SeedRooms(ctx, []synapsetest.RoomSpec{
		{Name: "Event: Go meetup", Members: users, Messages: 3},
		{Name: "Event: Pub quiz", Members: users[:1], Messages: 1},
		{Name: "General", Public: true, Members: users, Messages: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.syn.UploadMedia(ctx, users[0].Token, "slides.pdf", []byte("%PDF-1.4 slides")); err != nil {
		t.Fatal(err)
	}
	cn, err := pgx.Connect(ctx, s.sp.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	for i, r := range rooms[:2] {
		var id int
		if err := cn.QueryRow(ctx, `INSERT INTO "events" ("slug","name","startDate","endDate","matrixRoomId") VALUES ($1,$2,now(),now(),$3) RETURNING "id"`,
			fmt.Sprintf("event-%d", i), "event", r).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := cn.Exec(ctx, `INSERT INTO "chatRooms" ("name","matrixRoomId","eventId") VALUES ('chat', $1, $2)`, r, id); err != nil {
			t.Fatal(err)
		}
	}
	return users, rooms
}

// TestStandaloneResetEndToEnd is seed 000's standalone procedure run by
// synops against a real Synapse and PostgreSQL, interrupted on the way: a
// first run is killed (SIGKILL) right after it dropped the database, and a
// second run resumes at the step after and completes the reset. Afterwards
// the old users and rooms are gone, the new admin's token works and sits
// in the files written with mode 0600 (the old files kept), the
// application's references are cleared, /health answers, and the audit log
// has a start and an end line for every step.
func TestStandaloneResetEndToEnd(t *testing.T) {
	const server = "reset.test"
	s := newStandalone(t, server)
	users, rooms := s.seed(t)
	e := s.sp.mustBuild(t)
	ctx := ctxT(t, 10*time.Minute)
	oldToken := s.syn.AdminToken

	// The checklist: admin access verified, no backup yet, team not told.
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	cl := p.Checklist
	if it := cl.Item(ItemAdmin); it.Status != OK || !strings.Contains(it.Evidence, s.syn.AdminUserID+" (token syt_") {
		t.Errorf("admin item: %+v", it)
	}
	if it := cl.Item(ItemTeam); it.Status != Pending {
		t.Errorf("team item: %+v, want pending", it)
	}
	if it := cl.Item(ItemBackup); it.Status != Fail || !slices.Contains(it.Offer, OfferBackup) {
		t.Errorf("backup item: %+v, want failed with the offer to take one", it)
	}
	if it := cl.Item(ItemEnvironment); it.Status != OK || !strings.Contains(it.Evidence, "4 local users") || !regexp.MustCompile(`\d+ rooms`).MatchString(it.Evidence) {
		t.Errorf("environment item: %+v", it)
	}
	if b := p.Blocking(); len(b) != 1 || b[0].ID != ItemTeam {
		t.Errorf("blocking: %+v, want the team item only (the backup is the gate's)", b)
	}

	// Tell the team with a server notice to every local user. Whether
	// Synapse will take one is read from homeserver.yaml.
	bare := filepath.Join(t.TempDir(), "homeserver.yaml")
	if err := os.WriteFile(bare, []byte("server_name: "+server+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.svc.HomeserverYAML = bare
	np, err := e.svc.PlanNotify(ctx, "Matrix goes down for a reset at noon")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(np.Impact, func(l string) bool {
		return strings.Contains(l, bare+" has no server_notices") && strings.Contains(l, "reset.notify_room")
	}) {
		t.Errorf("notice plan on a homeserver.yaml without server_notices: impact %q, want it said", np.Impact)
	}
	e.svc.HomeserverYAML = s.syn.ConfigPath
	np, err = e.svc.PlanNotify(ctx, "Matrix goes down for a reset at noon")
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(np.Impact, func(l string) bool { return strings.Contains(l, "server_notices") }) {
		t.Errorf("notice plan on a homeserver.yaml with server_notices: impact %q, want no warning", np.Impact)
	}
	na, err := approveAll(ctx, e.guard, np, server, false)
	if err != nil {
		t.Fatal(err)
	}
	told, err := e.svc.ApplyNotify(ctx, np, na, nil)
	if err != nil {
		t.Fatal(err)
	}
	if told.How != "server notice" || told.Detail != "sent to 4 of 4 local users" {
		t.Errorf("told: %+v", told)
	}
	s.assertNoticeReceived(t, users[0], "Matrix goes down for a reset at noon")

	// Take and verify a backup now, as the checklist offers.
	bp, err := e.svc.PlanBackup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.TakeBackup(ctx, bp, nil); err != nil {
		t.Fatal(err)
	}

	p, err = e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Blocking(); len(b) > 0 {
		t.Fatalf("still blocked: %+v", b)
	}
	for _, id := range []string{ItemTeam, ItemBackup} {
		if it := p.Checklist.Item(id); it.Status != OK {
			t.Errorf("%s after telling and the backup: %+v", id, it)
		}
	}
	dbName := dbName(config.NewDSN(s.db(t)))
	want := map[StepID]string{
		StepStop:           s.script + " stop",
		StepDropDatabase:   `DROP DATABASE IF EXISTS "` + dbName + `" WITH (FORCE)`,
		StepCreateDatabase: `CREATE DATABASE "` + dbName + `" OWNER "postgres" ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0`,
		StepRecreateMedia:  "rm -rf " + s.syn.MediaStore + "/*",
		StepStart:          s.script + " start",
		StepRestartApp:     s.sp.Reset.RestartApp[0],
	}
	var ids []StepID
	for _, st := range p.Steps {
		ids = append(ids, st.ID)
		if w, ok := want[st.ID]; ok && (len(st.Commands) == 0 || !strings.HasPrefix(st.Commands[0], w)) {
			t.Errorf("step %s shows %q, want it to run %q", st.ID, st.Commands, w)
		}
	}
	wantIDs := []StepID{StepStop, StepDropDatabase, StepCreateDatabase, StepRecreateMedia, StepStart,
		StepRegisterAdmin, StepWriteToken, StepClearAppRefs, StepRestartApp, StepFinalCheck}
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("steps %v, want %v", ids, wantIDs)
	}

	// First run, in a process of its own: killed right after the drop.
	raw, _ := json.Marshal(s.sp)
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), helperEnv+"="+string(raw))
	out, err := child.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the first run: %v, want it killed by SIGKILL after the drop\n%s", err, out)
	}
	st, err := e.svc.Status(ctx)
	if err != nil || st == nil {
		t.Fatalf("state after the kill: %v %v", st, err)
	}
	if st.Phase != Running || !st.done(StepDropDatabase) || st.Step(StepCreateDatabase).Status != StepPending {
		t.Fatalf("state after the kill: phase %s, steps %+v", st.Phase, st.Steps)
	}
	if exists := databaseExists(t, dbName); exists {
		t.Fatal("the database still exists after the first run dropped it")
	}
	if s.stillAnswers(ctx) {
		t.Fatal("Synapse still answers after the first run stopped it")
	}

	// Second run: resumes at creating the database, after the checks that guard it.
	p, err = e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Resume || p.Current().ID != StepCreateDatabase {
		t.Fatalf("resume: %v at %s, want to resume at %s", p.Resume, p.Current().ID, StepCreateDatabase)
	}
	if it := p.Checklist.Item(ItemAdmin); it.Status != Skipped {
		t.Errorf("admin item on resume: %+v, want skipped (Synapse is stopped by the reset)", it)
	}
	a, err := approveAll(ctx, e.guard, p.Op, server, false)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.svc.Start(ctx, p, a)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	confirmed := map[string]bool{}
	err = w.Run(ctx, func(ctx context.Context, p *ops.Plan) (ops.Approval, error) {
		confirmed[p.Kind] = true
		return approveAll(ctx, e.guard, p, server, false)
	}, func(pr ops.Progress) { lines = append(lines, pr.String()) })
	if err != nil {
		t.Fatalf("the second run: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if !confirmed[StepRecreateMedia.Kind()] || !confirmed[StepClearAppRefs.Kind()] || confirmed[StepStart.Kind()] {
		t.Errorf("confirmed %v: want each destructive step (media, app references) asked once more, and no other", confirmed)
	}
	t.Logf("the second run:\n%s", strings.Join(lines, "\n"))
	st = w.State()
	if st.Phase != Done || st.Kept != "" {
		t.Errorf("state: %s, kept token %q; want done, no token kept", st.Phase, st.Kept)
	}

	// The server is fresh: the old users and rooms are gone.
	admin := s.syn.Client().WithToken(synapse.Secret{})
	newToken := readEnvToken(t, s.sp.EnvFile)
	nc := admin.WithToken(newToken)
	who, err := nc.Whoami(ctx)
	if err != nil || who.UserID != "@admin:"+server {
		t.Fatalf("the new token: %v %v", who, err)
	}
	all, err := nc.AllUsers(ctx, synapse.ListUsersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Name != who.UserID || !all[0].Admin {
		t.Errorf("users after the reset: %+v, want only the new admin", all)
	}
	for _, u := range users {
		if _, err := nc.User(ctx, u.UserID); !errors.Is(err, synapse.ErrNotFound) {
			t.Errorf("%s after the reset: %v, want not found", u.UserID, err)
		}
	}
	rl, err := nc.ListRoomsPage(ctx, synapse.ListRoomsOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rl.Total != 0 {
		t.Errorf("rooms after the reset: %d (%v), want none of %v", rl.Total, rl.Rooms, rooms)
	}
	if _, err := admin.WithToken(oldToken).Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("the old token after the reset: %v, want unknown", err)
	}
	if err := admin.Health(ctx); err != nil {
		t.Errorf("/health: %v", err)
	}

	// The token is where the application reads it, 0600, the old file kept.
	for _, f := range []string{s.sp.EnvFile, s.sp.OwnToken} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode())
		}
	}
	if got := strings.TrimSpace(readFile(t, s.sp.OwnToken)); got != newToken.Reveal() {
		t.Errorf("synops' own token file holds %s, want the new token %s", synapse.NewSecret(got).Hint(), newToken.Hint())
	}
	env := readFile(t, s.sp.EnvFile)
	if !strings.Contains(env, "NODE_ENV=development\n") || !strings.Contains(env, "MATRIX_URL="+s.syn.BaseURL) {
		t.Errorf("the env file lost its other lines:\n%s", env)
	}
	baks, _ := filepath.Glob(s.sp.EnvFile + ".synops-bak-*")
	if len(baks) != 1 || !strings.Contains(readFile(t, baks[0]), "MATRIX_ADMIN_TOKEN="+oldToken.Reveal()) {
		t.Errorf("backups of the env file: %v, want one holding the old token", baks)
	}

	// The application's references are cleared, and it was restarted.
	if ev, cr := appRefs(t, s.sp.AppDB); ev != 0 || cr != 0 {
		t.Errorf("app references after the reset: %d events, %d chat rooms; want none", ev, cr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.sp.EnvFile), "restarted")); err != nil {
		t.Errorf("the application was not restarted: %v", err)
	}
	if left, _ := os.ReadDir(s.syn.MediaStore); len(left) != 0 {
		t.Errorf("the media store holds %d entries after the reset (the server writes none until used)", len(left))
	}
	if calls := s.scriptCalls(t); !slices.Contains(calls, "stop") || !slices.Contains(calls, "start") {
		t.Errorf("service commands: %v, want a stop and a start", calls)
	}

	// The audit log: a start and an end line for every step, across both runs.
	es := auditLines(t, s.sp.AuditPath)
	for _, id := range wantIDs {
		var starts, ends []string
		for _, e := range es {
			if e.Action == id.Kind() && e.Phase == "start" {
				starts = append(starts, e.PlanID)
			}
			if e.Action == id.Kind() && e.Phase == "end" && e.Outcome == "ok" {
				ends = append(ends, e.PlanID)
			}
		}
		if len(starts) != 1 || !slices.Equal(starts, ends) {
			t.Errorf("audit of %s: starts %v, ok ends %v; want one of each for the same plan", id, starts, ends)
		}
	}
	var resets []string
	for _, e := range es {
		if e.Action == KindReset {
			resets = append(resets, e.Phase+" "+e.Outcome)
		}
	}
	if !slices.Equal(resets, []string{"start ", "start ", "end ok"}) {
		t.Errorf("audit of the reset itself: %v; want the killed run's start, then the second run's start and end", resets)
	}

	// No secret anywhere synops writes its records.
	for _, f := range []string{s.sp.AuditPath, StatePath(s.sp.StateDir), s.sp.JobLog} {
		data := readFile(t, f)
		for what, secret := range map[string]string{"new token": newToken.Reveal(), "old token": oldToken.Reveal(), "shared secret": s.syn.SharedSecret.Reveal()} {
			if strings.Contains(data, secret) {
				t.Errorf("%s holds the %s", f, what)
			}
		}
	}
	if !regexp.MustCompile(`"token_hint": "syt_…\w{4}"`).MatchString(readFile(t, StatePath(s.sp.StateDir))) {
		t.Errorf("the state file does not name the new token by its hint")
	}

	// Another reset: the backup taken before this one holds none of what
	// is on the server now, so it no longer satisfies the gate.
	again, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if it := again.Checklist.Item(ItemBackup); it.Status != Fail || !strings.Contains(it.Evidence, "before the server was reset") {
		t.Errorf("backup item after the reset: %+v; want failed, the backup predating the reset", it)
	}
	if ok, _ := e.svc.Guard.BackupState(ctx, again.Op); ok {
		t.Error("the gate lets the next reset run on a backup from before the last one")
	}
	// Telling the team about the next reset starts a new record; when the
	// last one ended is kept.
	if _, err := e.svc.ConfirmTold(ctx, "standup"); err != nil {
		t.Fatal(err)
	}
	again, err = e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if it := again.Checklist.Item(ItemTeam); it.Status != OK {
		t.Errorf("team item after telling them again: %+v", it)
	}
	if it := again.Checklist.Item(ItemBackup); it.Status != Fail || !strings.Contains(it.Evidence, "before the server was reset") {
		t.Errorf("backup item once the team was told of the next reset: %+v; want failed, the backup predating the last reset", it)
	}
	if ok, _ := e.svc.Guard.BackupState(ctx, again.Op); ok {
		t.Error("after the notice of the next reset, the gate lets it run on a backup from before the last one")
	}
}

func (s *standalone) stillAnswers(ctx context.Context) bool {
	c, _ := synapse.New(s.syn.BaseURL, synapse.Secret{}, synapse.WithTimeout(2*time.Second), synapse.WithRetries(0))
	return c.Health(ctx) == nil
}

func (s *standalone) assertNoticeReceived(t *testing.T, u synapsetest.SeededUser, body string) {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	c := s.syn.Client()
	rs, err := c.UserMemberships(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for room := range rs {
		msgs, err := s.syn.Messages(ctx, room, "m.room.message")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var content struct {
				Body string `json:"body"`
			}
			_ = json.Unmarshal(m.Content, &content)
			if m.Sender == "@notices:"+s.syn.ServerName && content.Body == body {
				return
			}
		}
	}
	t.Errorf("%s got no server notice %q (rooms %v)", u.UserID, body, rs)
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	cn, err := pgx.Connect(ctx, bed.PG.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	var n int
	if err := cn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func readEnvToken(t *testing.T, path string) synapse.Secret {
	t.Helper()
	for _, l := range strings.Split(readFile(t, path), "\n") {
		if v, ok := strings.CutPrefix(l, "MATRIX_ADMIN_TOKEN="); ok {
			return synapse.NewSecret(v)
		}
	}
	t.Fatalf("%s has no MATRIX_ADMIN_TOKEN line", path)
	return synapse.Secret{}
}
