package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/pgtest"
	"synops/ops/testbed"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// consoleResetBox is a box of its own to reset: a second Synapse on the package's
// PostgreSQL with its own database, an application database, and the
// sandbox's config (services through the control script, reset.path
// standalone, the stand-in application). The package's shared Synapse is
// left alone.
func consoleResetBox(t *testing.T) (cfg, state string, b *testbed.Bed) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := pgtest.UniqueName("consolereset")
	dsn, err := bed.PG.CreateDatabase(ctx, name, pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appDSN, err := bed.PG.CreateDatabase(ctx, pgtest.UniqueName("consoleresetapp"), pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := testbed.CreateAppSchema(ctx, appDSN); err != nil {
		t.Fatal(err)
	}
	syn, err := synapsetest.Start(ctx, synapsetest.Options{ServerName: "reset.console.test",
		Extra: map[string]any{"server_notices": map[string]any{"system_mxid_localpart": "notices", "room_name": "Server Notices"}},
		DB:    synapsetest.DB{Host: bed.PG.Host(), Port: bed.PG.Port(), User: bed.PG.User(), Password: bed.PG.Password(), Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(syn.Close)
	b = &testbed.Bed{PG: bed.PG, Synapse: syn, SynapseDB: dsn, SynapseName: name, AppDB: appDSN}
	if _, err := b.SeedSample(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if cfg, err = b.WriteBoxConfig(dir); err != nil {
		t.Fatal(err)
	}
	// The reset starts Synapse again through the control script, outside
	// this test's reach: the script stops it.
	t.Cleanup(func() { _ = exec.Command(testbed.ControlScript(dir), "stop").Run() })
	return cfg, filepath.Join(dir, "state"), b
}

// TestConsoleReset walks seed 000's reset in the Reset pane of the real
// console, in tmux, from the first check to the final health check: the
// team is told with a server notice, a backup taken and verified, the
// server name typed to start, and again for each destructive step; the
// first of those is declined and the console quits, and the next console
// announces the unfinished reset and resumes it at that step. After
// it the server holds none of its users or rooms, the new admin's token is
// in synops' token file and the application's .env (mode 0600), the
// application's references are cleared, and the console, still running,
// lists the empty server with the new token.
func TestConsoleReset(t *testing.T) {
	bin := buildBinary(t)
	cfg, state, b := consoleResetBox(t)
	server := b.Synapse.ServerName
	old := b.Synapse.AdminToken
	env := []string{"SYNOPS_CONFIG=" + cfg, "SYNOPS_PROFILE=sandbox", "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state, "TERM=xterm-256color"}
	tm := startTmux(t, 140, 50, env, bin)
	tm.waitFor("the console", 20*time.Second, func(s string) bool { return strings.Contains(s, "Reset") })
	tm.goTo("reset")
	s := tm.waitFor("the checklist", 30*time.Second, func(s string) bool { return strings.Contains(s, "Before the reset") && strings.Contains(s, "Steps") })
	for _, want := range []string{"✗ A verified backup is fresh enough", "b takes and verifies a backup now", "n sends a notice", "runs: " + filepath.Dir(cfg)} {
		if !strings.Contains(s, want) {
			t.Errorf("the checklist lacks %q:\n%s", want, s)
		}
	}
	// Not ready: the team has not been told. S says so and changes nothing.
	tm.keys("S")
	tm.waitFor("the refusal", 20*time.Second, func(s string) bool { return strings.Contains(s, "not ready: The team has been told") })

	tm.keys("n")
	tm.waitFor("the notice's dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Tell the team") && strings.Contains(s, "Type the target")
	})
	tm.keys("-l", server)
	tm.keys("Enter")
	tm.waitFor("the notice", 30*time.Second, func(s string) bool { return strings.Contains(s, "✓ The team has been told") })

	tm.keys("b")
	tm.waitFor("the backup", 120*time.Second, func(s string) bool { return strings.Contains(s, "✓ A verified backup is fresh enough") })

	tm.keys("S")
	s = tm.waitFor("the reset's dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Reset the Matrix database") && strings.Contains(s, "Type the target")
	})
	if !strings.Contains(s, "deletes all 9 local accounts") || !strings.Contains(s, "(destructive: asks again)") {
		t.Errorf("the reset's dialog does not say what is lost:\n%s", s)
	}
	tm.keys("-l", server+"x")
	tm.keys("Enter")
	time.Sleep(500 * time.Millisecond)
	if s := tm.screen(); !strings.Contains(s, "Type the target") {
		t.Fatalf("a wrong server name closed the dialog:\n%s", s)
	}
	tm.keys("BSpace")
	tm.keys("Enter")

	// Interrupted: the first destructive step is declined and the console
	// quits. The next console says a reset is unfinished, and S resumes it
	// at that step.
	tm.waitFor("the first destructive step", time.Minute, func(s string) bool {
		return strings.Contains(s, "Reset step") && strings.Contains(s, "step 2 of 10: Drop the database")
	})
	tm.keys("Escape")
	tm.waitFor("the dialog to close", 10*time.Second, func(s string) bool { return !strings.Contains(s, "Type the target") })
	tm.keys("q")
	tm.waitFor("synops to exit", 10*time.Second, func(s string) bool { return strings.Contains(s, "SYNOPS EXITED") })
	_ = exec.Command("tmux", "kill-session", "-t", tm.session).Run()
	tm = startTmux(t, 140, 50, env, bin)
	tm.waitFor("the unfinished reset's notice", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "a reset of "+server) && strings.Contains(s, "is unfinished")
	})
	tm.goTo("reset")
	tm.waitFor("the resumed checklist", 30*time.Second, func(s string) bool { return strings.Contains(s, "resuming an earlier run at step 2 of 10") })
	tm.keys("S")
	s = tm.waitFor("the resumed reset's dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Reset the Matrix database") && strings.Contains(s, "Type the target")
	})
	if strings.Contains(s, "1. Stop the Matrix Synapse service") || !strings.Contains(s, "2. Drop the database") {
		t.Errorf("the resumed reset's dialog does not start at step 2:\n%s", s)
	}
	tm.keys("-l", server)
	tm.keys("Enter")
	asked := 0
	for {
		s = tm.waitFor("the next step or the end", 3*time.Minute, func(s string) bool {
			return strings.Contains(s, "The reset is complete") || strings.Contains(s, "Reset step") && strings.Contains(s, "Type the target") || strings.Contains(s, "✘")
		})
		if strings.Contains(s, "The reset is complete") || strings.Contains(s, "✘") {
			break
		}
		asked++
		tm.keys("-l", server)
		tm.keys("Enter")
		tm.waitFor("the dialog to close", 20*time.Second, func(s string) bool { return !strings.Contains(s, "Type the target") })
	}
	if !strings.Contains(s, "The reset is complete") {
		t.Fatalf("the reset did not complete:\n%s", s)
	}
	if asked != 3 {
		t.Errorf("the destructive steps asked %d times, want 3 (drop the database, the media store, the application's references)", asked)
	}
	if !strings.Contains(lineWith(s, "Final check"), "✓") || !strings.Contains(s, "/health ok") {
		t.Errorf("no final check on screen:\n%s", s)
	}

	// The server, read back: the old token and users are gone, the new
	// token is where synops and the application read it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _ := synapse.New(b.Synapse.BaseURL, old, synapse.WithRetries(0))
	if _, err := c.Whoami(ctx); err == nil {
		t.Error("the old admin token still works after the reset")
	}
	tokFile := filepath.Join(filepath.Dir(cfg), "admin.token")
	newTok := synapse.NewSecret(readTrim(t, tokFile))
	nc := c.WithToken(newTok)
	if users, err := nc.ListUsersPage(ctx, synapse.ListUsersOptions{PageSize: 50}, ""); err != nil || users.Total != 1 {
		t.Errorf("users after the reset: %+v, %v; want only the new admin", users, err)
	}
	if rooms, err := nc.ListRoomsPage(ctx, synapse.ListRoomsOptions{PageSize: 50}, 0); err != nil || rooms.Total != 0 {
		t.Errorf("rooms after the reset: %+v, %v; want none", rooms, err)
	}
	dotenv, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "app", ".env"))
	if err != nil || !strings.Contains(string(dotenv), "MATRIX_ADMIN_TOKEN="+newTok.Reveal()+"\n") {
		t.Errorf("the application's .env does not hold the new token (%v)", err)
	}
	for _, f := range []string{tokFile, filepath.Join(filepath.Dir(cfg), "app", ".env")} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	cn, err := pgx.Connect(ctx, b.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	var refs int
	if err := cn.QueryRow(ctx, `SELECT (SELECT count(*) FROM "events" WHERE "matrixRoomId" IS NOT NULL) + (SELECT count(*) FROM "chatRooms")`).Scan(&refs); err != nil || refs != 0 {
		t.Errorf("application references after the reset: %d, %v", refs, err)
	}

	// The console follows the new token: the Rooms pane lists the empty
	// server, the Health pane's token check names the new token.
	tm.goTo("rooms")
	tm.waitFor("the empty room list", 20*time.Second, func(s string) bool { return strings.Contains(s, "Rooms  0 rooms") })
	tm.goTo("health")
	tm.waitFor("the new token in the health checks", 20*time.Second, func(s string) bool {
		return strings.Contains(lineWith(s, "admin token valid"), newTok.Hint()) && strings.Contains(lineWith(s, "admin token valid"), "✔")
	})
	tm.keys("q")
	s = tm.waitFor("synops to exit", 10*time.Second, func(s string) bool { return strings.Contains(s, "SYNOPS EXITED") })
	if strings.Contains(s, newTok.Reveal()) || strings.Contains(s, old.Reveal()) {
		t.Error("a token was on screen")
	}
}
