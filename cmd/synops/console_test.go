package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/synapse"
	"synops/synapse/synapsetest"
)

// tmux drives the real binary in a real terminal, as an operator would.
type tmux struct {
	t       *testing.T
	session string
}

func startTmux(t *testing.T, w, h int, env []string, argv ...string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed (make deps installs it)")
	}
	tm := &tmux{t: t, session: fmt.Sprintf("synops-e2e-%d", os.Getpid())}
	args := []string{"new-session", "-d", "-s", tm.session, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	// The shell keeps the pane open after synops exits, so its exit status
	// and anything it printed stay readable.
	args = append(args, "sh", "-c", `"$@"; echo "SYNOPS EXITED $?"; sleep 600`, "sh")
	args = append(args, argv...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", tm.session).Run() })
	return tm
}

func (tm *tmux) keys(keys ...string) {
	tm.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", tm.session}, keys...)...).CombinedOutput(); err != nil {
		tm.t.Fatalf("send-keys %v: %v\n%s", keys, err, out)
	}
}

// goTo switches to the pane with this title through the command palette,
// as the panes' numbers change when one is added.
func (tm *tmux) goTo(pane string) {
	tm.t.Helper()
	tm.keys(":")
	tm.waitFor("the palette", 5*time.Second, func(s string) bool { return strings.Contains(s, "go to ") })
	tm.keys("-l", "go to "+pane)
	tm.keys("Enter")
}

func (tm *tmux) screen() string {
	out, err := exec.Command("tmux", "capture-pane", "-p", "-t", tm.session).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// waitFor polls the screen until cond holds or the limit passes.
func (tm *tmux) waitFor(what string, limit time.Duration, cond func(string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(limit)
	var s string
	for time.Now().Before(deadline) {
		if s = tm.screen(); cond(s) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	tm.t.Fatalf("waited %s for %s; screen:\n%s", limit, what, s)
	return s
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "synops")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func lineWith(screen, needle string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, needle) {
			return l
		}
	}
	return ""
}

// TestConsoleEndToEnd runs the real binary in tmux against the real Synapse:
// the health pane fills in, turns red within an interval when Synapse dies,
// keeps answering keys, and turns green again when Synapse is back.
func TestConsoleEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"SYNOPS_CONFIG=" + cfg, "HOME=" + dir, "XDG_STATE_HOME=" + filepath.Join(dir, "state"), "TERM=xterm-256color"}
	tm := startTmux(t, 120, 40, env, bin, "--interval", "1s")

	row := "Synapse: /health"
	tm.waitFor("the health pane with Synapse up", 30*time.Second, func(s string) bool {
		return strings.Contains(lineWith(s, row), "✔") && strings.Contains(s, "PostgreSQL")
	})
	s := tm.screen()
	for _, want := range []string{"1 Health", "sandbox", bed.Synapse.ServerName, "development", "Synapse ●"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}

	bed.Synapse.Kill()
	t.Cleanup(func() {
		if !bed.Synapse.Running() {
			_ = bed.Synapse.Restart(context.Background())
		}
	})
	killed := time.Now()
	tm.waitFor("Synapse's row to turn red", 15*time.Second, func(s string) bool {
		return strings.Contains(lineWith(s, row), "✘")
	})
	t.Logf("red %s after the kill (interval 1s)", time.Since(killed).Round(100*time.Millisecond))

	// The UI still answers keys while Synapse is down: open and close help.
	tm.keys("?")
	tm.waitFor("the help overlay", 5*time.Second, func(s string) bool { return strings.Contains(s, "press ? or esc to close") })
	tm.keys("Escape")
	tm.waitFor("help to close", 5*time.Second, func(s string) bool { return !strings.Contains(s, "press ? or esc to close") })

	if err := bed.Synapse.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	tm.waitFor("Synapse's row to turn green again", 20*time.Second, func(s string) bool {
		return strings.Contains(lineWith(s, row), "✔")
	})

	tm.keys("q")
	s = tm.waitFor("synops to exit", 5*time.Second, func(s string) bool { return strings.Contains(s, "SYNOPS EXITED") })
	if !strings.Contains(s, "SYNOPS EXITED 0") {
		t.Errorf("synops exited with an error:\n%s", s)
	}
}

// TestConsoleDeletesRoom deletes a room through the Rooms pane of the real
// binary: filter, D, the typed room ID, the job, Synapse's confirmation and
// the cleared application reference.
func TestConsoleDeletesRoom(t *testing.T) {
	ctx := context.Background()
	bin := buildBinary(t)
	name := fmt.Sprintf("e2e-doomed-%d", time.Now().UnixNano()%1e6)
	id, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: name, Messages: 2})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO "events" ("slug","name","startDate","endDate","matrixRoomId") VALUES ($1,$1,now(),now(),$2)`, name, id); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	tm := startTmux(t, 140, 40, []string{"SYNOPS_CONFIG=" + cfg, "HOME=" + dir, "XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, bin)
	tm.waitFor("the console", 20*time.Second, func(s string) bool { return strings.Contains(s, "2 Rooms") })
	tm.keys("2")
	tm.waitFor("the room list", 20*time.Second, func(s string) bool { return strings.Contains(s, "sorted by name") })
	tm.keys("/")
	tm.keys("-l", name)
	tm.keys("Enter")
	tm.waitFor("the filtered room", 10*time.Second, func(s string) bool { return strings.Contains(s, "1 of ") && strings.Contains(s, name) })
	tm.keys("D")
	tm.waitFor("the confirm dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Delete room") && strings.Contains(s, "Type the target")
	})
	tm.keys("Enter") // Enter alone must not confirm
	time.Sleep(300 * time.Millisecond)
	if !strings.Contains(tm.screen(), "Type the target") {
		t.Fatal("Enter alone closed the dialog")
	}
	tm.keys("-l", id+" without backup")
	tm.keys("Enter")
	tm.waitFor("the deletion to finish", 60*time.Second, func(s string) bool { return strings.Contains(s, "app references cleared") })
	if _, err := bed.Synapse.Client().Room(ctx, id); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("room after delete: got %v, want M_NOT_FOUND", err)
	}
	var refs int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM "events" WHERE "matrixRoomId" = $1`, id).Scan(&refs); err != nil || refs != 0 {
		t.Errorf("app references left: %d (%v)", refs, err)
	}
	log, err := os.ReadFile(filepath.Join(state, "synops", "audit.log"))
	if err != nil || !strings.Contains(string(log), `"target":"`+id+`"`) || !strings.Contains(string(log), `"outcome":"ok"`) {
		t.Errorf("audit log lacks the deletion: %v\n%s", err, log)
	}
	tm.keys("q")
}

// TestConsoleFinishesInterruptedDeletion: a deletion an earlier run left in
// the journal is announced at start and on the Rooms pane, and F finishes it
// after the server name is typed.
func TestConsoleFinishesInterruptedDeletion(t *testing.T) {
	ctx := context.Background()
	bin := buildBinary(t)
	name := fmt.Sprintf("e2e-interrupted-%d", time.Now().UnixNano()%1e6)
	dir := t.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	id := interruptedDeletion(t, state, name)
	tm := startTmux(t, 140, 40, []string{"SYNOPS_CONFIG=" + cfg, "HOME=" + dir, "XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, bin)
	tm.waitFor("the start notice", 20*time.Second, func(s string) bool { return strings.Contains(s, "interrupted room deletions: 1") })
	tm.keys("2")
	tm.waitFor("the rooms header", 20*time.Second, func(s string) bool { return strings.Contains(s, "interrupted deletions: 1 (F finishes them)") })
	tm.keys("F")
	tm.waitFor("the confirm dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Finish interrupted deletions") && strings.Contains(s, "Type the target")
	})
	tm.keys("-l", bed.Synapse.ServerName)
	tm.keys("Enter")
	tm.waitFor("the deletions to finish", 60*time.Second, func(s string) bool { return strings.Contains(s, "finished 1, pending 0") })
	tm.waitFor("the header to clear", 20*time.Second, func(s string) bool { return !strings.Contains(s, "interrupted deletions") })
	if _, err := bed.Synapse.Client().Room(ctx, id); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("room after finishing: got %v, want M_NOT_FOUND", err)
	}
	data, err := os.ReadFile(filepath.Join(state, "synops", "rooms-journal.json"))
	if err != nil || !strings.Contains(string(data), `"stage": "done"`) {
		t.Errorf("journal after finishing: %v\n%s", err, data)
	}
	tm.keys("q")
}

// TestConsoleQuitEndsLogChildren: the log view follows a command (journalctl
// for a systemd profile, here a stub that starts a child of its own); after
// q, neither the command nor its child is left running.
func TestConsoleQuitEndsLogChildren(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The log file is not on this machine (as when it lives in a container):
	// the log comes from the service manager's command.
	conf := strings.Replace(string(data), bed.Synapse.LogPath, filepath.Join(dir, "elsewhere", "homeserver.log"), 1)
	conf = strings.Replace(conf, "environment: development", "environment: development\n        services:\n            kind: systemd", 1)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	stubs := t.TempDir()
	pids := filepath.Join(stubs, "pids")
	journalctl := "#!/bin/sh\necho $$ >> " + pids + "\nsleep 1000 &\necho $! >> " + pids +
		"\necho '2026-12-01T00:00:00+0000 box synapse[1]: stub journal line'\nwait\n"
	systemctl := "#!/bin/sh\necho ActiveState=active\n"
	for name, body := range map[string]string{"journalctl": journalctl, "systemctl": systemctl} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"SYNOPS_CONFIG=" + cfg, "HOME=" + dir, "XDG_STATE_HOME=" + filepath.Join(dir, "state"), "TERM=xterm-256color"}
	// tmux keeps its own PATH whatever -e says: set it on the command.
	tm := startTmux(t, 120, 40, env, "env", "PATH="+stubs+":"+os.Getenv("PATH"), bin)
	tm.waitFor("the health pane", 30*time.Second, func(s string) bool { return strings.Contains(s, "1 Health") })
	tm.keys("l")
	tm.waitFor("the stub's journal line", 20*time.Second, func(s string) bool { return strings.Contains(s, "stub journal line") })
	data, _ = os.ReadFile(pids)
	started := strings.Fields(string(data))
	if len(started) != 2 {
		t.Fatalf("the stub recorded pids %q, want the command and its child", started)
	}
	for _, pid := range started {
		if !alive(pid) {
			t.Fatalf("pid %s is not running while the log view is open", pid)
		}
	}
	tm.keys("q")
	s := tm.waitFor("synops to exit", 15*time.Second, func(s string) bool { return strings.Contains(s, "SYNOPS EXITED") })
	if !strings.Contains(s, "SYNOPS EXITED 0") {
		t.Errorf("synops exited with an error:\n%s", s)
	}
	for _, pid := range started {
		if alive(pid) {
			t.Errorf("pid %s (%s) outlived the console", pid, procName(pid))
			_ = exec.Command("kill", "-9", pid).Run()
		}
	}
}

// alive is whether pid runs (a zombie waiting for its reaper counts as gone).
func alive(pid string) bool {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return len(f) > 2 && f[2] != "Z" && f[2] != "X"
}

func procName(pid string) string {
	data, _ := os.ReadFile("/proc/" + pid + "/cmdline")
	return strings.ReplaceAll(string(data), "\x00", " ")
}

// TestConsoleUsers drives the Users pane of the real binary against the real
// Synapse: disable an account (it leaves its rooms, is locked, its devices
// are gone), enable it, then reset its password: the generated password is
// shown once in its own box, logs in, is gone from the screen when the box
// closes, and is in none of the files synops wrote.
func TestConsoleUsers(t *testing.T) {
	ctx := roomsCtx(t)
	bin := buildBinary(t)
	a := newCLIAccount(t, fmt.Sprintf("tuiuser%d", time.Now().UnixNano()%1e6))
	for i := range 2 {
		if _, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: a.local + " room " + string(rune('a'+i)),
			Members: []synapsetest.SeededUser{a.SeededUser}}); err != nil {
			t.Fatal(err)
		}
	}
	env, state := roomsCLIEnv(t)
	tm := startTmux(t, 140, 40, []string{"SYNOPS_CONFIG=" + env["SYNOPS_CONFIG"], "HOME=" + env["HOME"],
		"XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, bin)
	tm.waitFor("the console", 20*time.Second, func(s string) bool { return strings.Contains(s, "3 Users") })
	tm.goTo("users")
	tm.waitFor("the accounts", 20*time.Second, func(s string) bool { return strings.Contains(s, "sorted by user") })
	tm.keys("/")
	tm.keys("-l", a.local)
	tm.keys("Enter")
	tm.waitFor("the account", 10*time.Second, func(s string) bool { return strings.Contains(s, "1 of ") && strings.Contains(s, a.UserID) })

	tm.keys("d")
	tm.waitFor("the disable dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Disable access") && strings.Contains(s, "Type the target")
	})
	tm.keys("-l", a.UserID)
	tm.keys("Enter")
	tm.waitFor("the disable to finish", 60*time.Second, func(s string) bool { return strings.Contains(s, "✔ Disable access") })
	if rs, err := bed.Synapse.Client().UserJoinedRooms(ctx, a.UserID); err != nil || len(rs) != 0 {
		t.Errorf("after disable the account is in %v (%v)", rs, err)
	}
	if devs, err := bed.Synapse.Client().UserDevices(ctx, a.UserID); err != nil || len(devs) != 0 {
		t.Errorf("after disable the account has devices %v (%v)", devs, err)
	}
	if u := cliUser(t, a.UserID); !u.Locked {
		t.Error("after disable the account is not locked")
	}

	tm.keys("e")
	tm.waitFor("the enable dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Enable access") && strings.Contains(s, "Type the target")
	})
	tm.keys("-l", a.UserID)
	tm.keys("Enter")
	tm.waitFor("the enable to finish", 30*time.Second, func(s string) bool { return strings.Contains(s, "✔ Enable access") })
	if u := cliUser(t, a.UserID); u.Locked {
		t.Error("after enable the account is still locked")
	}

	tm.keys("p")
	tm.waitFor("the password dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Reset password") && strings.Contains(s, "Type the target")
	})
	tm.keys("-l", a.UserID)
	tm.keys("Enter")
	s := tm.waitFor("the new password", 30*time.Second, func(s string) bool { return strings.Contains(s, "New password for") })
	var pw string
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.Contains(l, "New password for") && i+2 < len(lines) {
			pw = strings.Trim(strings.TrimSpace(lines[i+2]), "│ ")
		}
	}
	if len(pw) < 12 || strings.Contains(pw, " ") {
		t.Fatalf("no password read from the box (%q):\n%s", pw, s)
	}
	if err := cliLogin(t, a.local, synapse.NewSecret(pw)); err != nil {
		t.Errorf("the shown password does not log in: %v", err)
	}
	tm.keys("Escape")
	tm.waitFor("the box to close", 10*time.Second, func(s string) bool { return !strings.Contains(s, "New password for") })
	if strings.Contains(tm.screen(), pw) {
		t.Error("the password is still on screen after the box closed")
	}
	tm.keys("J")
	tm.waitFor("the job history", 10*time.Second, func(s string) bool { return strings.Contains(s, "since the console started") })
	if strings.Contains(tm.screen(), pw) {
		t.Error("the job history shows the password")
	}
	tm.keys("Escape")
	time.Sleep(200 * time.Millisecond) // Esc and q in one read are alt+q
	tm.keys("q")
	tm.waitFor("synops to exit", 10*time.Second, func(s string) bool { return strings.Contains(s, "SYNOPS EXITED") })
	files := stateFiles(t, state)
	if !strings.Contains(files, "users.reset_password") {
		t.Fatalf("the state files do not record the reset:\n%.2000s", files)
	}
	if strings.Contains(files, pw) {
		t.Error("the password is in a file synops wrote")
	}
}

// TestConsoleRotatesToken rotates the admin token from the Security pane of
// the real binary: t, the server name typed, the job; the token file then
// holds a new admin's working token and the old one still works. The same
// console, reading its token file again, finishes: f, the old admin's ID
// typed; the old token is refused. No token is ever on screen.
func TestConsoleRotatesToken(t *testing.T) {
	ctx := context.Background()
	bin := buildBinary(t)
	b := newTokensBox(t, fmt.Sprintf("tui_old_%d", time.Now().UnixNano()%1e6))
	env := []string{"SYNOPS_CONFIG=" + b.env["SYNOPS_CONFIG"], "HOME=" + b.env["HOME"], "XDG_STATE_HOME=" + b.state, "TERM=xterm-256color"}
	screens := []string{}
	open := func() *tmux {
		tm := startTmux(t, 150, 40, env, bin)
		tm.waitFor("the console", 20*time.Second, func(s string) bool { return strings.Contains(s, "Security") })
		tm.goTo("security")
		tm.waitFor("the checks", 30*time.Second, func(s string) bool { return strings.Contains(s, "sorted by st") })
		return tm
	}
	tm := open()
	tm.keys("t")
	s := tm.waitFor("the rotation dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Rotate the admin token") && strings.Contains(s, "Type the target")
	})
	screens = append(screens, s)
	tm.keys("-l", bed.Synapse.ServerName)
	tm.keys("Enter")
	s = tm.waitFor("the rotation to finish", 60*time.Second, func(s string) bool { return strings.Contains(s, "✔ Rotate the admin token") })
	screens = append(screens, s)
	newTok := synapse.NewSecret(readTrim(t, b.tokFile))
	if newTok.Reveal() == b.old.Reveal() {
		t.Fatal("the token file still holds the old token")
	}
	if w, err := newClient(newTok).Whoami(ctx); err != nil || w.UserID == b.oldAdmin {
		t.Fatalf("the new token: %v %v", w, err)
	}
	if _, err := newClient(b.old).Whoami(ctx); err != nil {
		t.Errorf("the old token stopped working before finish: %v", err)
	}
	// The same console finishes: it reads its token file again (the
	// rotation wrote the new token there) instead of asking for a restart.
	tm.keys("f")
	tm.waitFor("the question", 20*time.Second, func(s string) bool { return strings.Contains(s, "deactivate the old admin") })
	tm.keys("-l", "no")
	tm.keys("Enter")
	s = tm.waitFor("the finish dialog", 20*time.Second, func(s string) bool {
		return strings.Contains(s, "Finish the token rotation") && strings.Contains(s, "Type the target")
	})
	screens = append(screens, s)
	tm.keys("-l", b.oldAdmin)
	tm.keys("Enter")
	s = tm.waitFor("the finish", 60*time.Second, func(s string) bool { return strings.Contains(s, "✔ Finish the token rotation") })
	screens = append(screens, s)
	if _, err := newClient(b.old).Whoami(ctx); err == nil {
		t.Error("the old token still works after finish")
	}
	if _, err := newClient(newTok).Whoami(ctx); err != nil {
		t.Errorf("the new token stopped working: %v", err)
	}
	tm.keys("q")
	for _, sc := range screens {
		for _, tok := range []synapse.Secret{b.old, newTok} {
			if strings.Contains(sc, tok.Reveal()) {
				t.Error("a token was on screen")
			}
		}
	}
}

// TestConsoleBackups backs up and verifies from the Backups pane of the real
// binary: c, yes, the job with its progress; the catalog then holds a
// verified backup that `synops backup list` reports too, and a rooms delete
// passes the backup gate without the waiver.
func TestConsoleBackups(t *testing.T) {
	bin := buildBinary(t)
	env, state := roomsCLIEnv(t)
	tm := startTmux(t, 150, 40, []string{"SYNOPS_CONFIG=" + env["SYNOPS_CONFIG"], "HOME=" + env["HOME"],
		"XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, bin)
	tm.waitFor("the console", 20*time.Second, func(s string) bool { return strings.Contains(s, "4 Backups") })
	tm.goTo("backups")
	tm.waitFor("the catalog", 20*time.Second, func(s string) bool { return strings.Contains(s, "sorted by taken") })
	tm.keys("c")
	tm.waitFor("the question", 10*time.Second, func(s string) bool { return strings.Contains(s, "verify it by restoring") })
	tm.keys("-l", "yes")
	tm.keys("Enter")
	s := tm.waitFor("the backup", 120*time.Second, func(s string) bool { return strings.Contains(s, "✔ Back up") })
	if !strings.Contains(s, "verified by restoring") || !strings.Contains(lineWith(s, "synapse-"), "✓") {
		t.Errorf("no verified backup on screen:\n%s", s)
	}
	tm.keys("q")
	out, errs, code := cli(t, env, "backup", "list")
	if code != 0 || !strings.Contains(out, "✓") {
		t.Errorf("backup list after the console's backup: exit %d\n%s%s", code, out, errs)
	}
	id, err := bed.Synapse.CreateRoom(roomsCtx(t), synapsetest.RoomSpec{Name: "gated by the console's backup"})
	if err != nil {
		t.Fatal(err)
	}
	if out, errs, code := cli(t, env, "rooms", "delete", id, "--yes", "--confirm="+id); code != 0 {
		t.Errorf("delete with the console's verified backup and no --without-backup: exit %d\n%s%s", code, out, errs)
	}
}

// TestConsoleDiagnosesRoom: d on a room's detail in the Rooms pane runs the
// room's troubleshooting checks on that room, as `synops diagnose
// users-cannot-join-rooms --room` does: a blocked room is found blocked.
func TestConsoleDiagnosesRoom(t *testing.T) {
	ctx := context.Background()
	bin := buildBinary(t)
	name := fmt.Sprintf("e2e-blocked-%d", time.Now().UnixNano()%1e6)
	id, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.Synapse.Client().BlockRoom(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bed.Synapse.Client().BlockRoom(context.Background(), id, false) })
	env, state := roomsCLIEnv(t)
	tm := startTmux(t, 140, 40, []string{"SYNOPS_CONFIG=" + env["SYNOPS_CONFIG"], "HOME=" + env["HOME"], "XDG_STATE_HOME=" + state, "TERM=xterm-256color"}, bin)
	tm.waitFor("the console", 20*time.Second, func(s string) bool { return strings.Contains(s, "Rooms") })
	tm.goTo("rooms")
	tm.waitFor("the room list", 20*time.Second, func(s string) bool { return strings.Contains(s, "sorted by name") })
	tm.keys("/")
	tm.keys("-l", name)
	tm.keys("Enter")
	tm.waitFor("the filtered room", 10*time.Second, func(s string) bool { return strings.Contains(s, "1 of ") && strings.Contains(s, name) })
	tm.keys("Enter")
	tm.waitFor("the room's detail", 20*time.Second, func(s string) bool { return strings.Contains(s, "Room ") && strings.Contains(s, id) })
	tm.keys("d")
	tm.waitFor("the room's symptoms", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "Diagnose room "+id) && strings.Contains(s, "Users cannot join rooms") && !strings.Contains(s, "High memory")
	})
	tm.keys("Enter")
	s := tm.waitFor("the verdict", 60*time.Second, func(s string) bool { return strings.Contains(s, "is blocked") })
	if !strings.Contains(lineWith(s, "is blocked"), id) {
		t.Errorf("the verdict does not name the room:\n%s", s)
	}
	out, errs, code := cli(t, env, "diagnose", "users-cannot-join-rooms", "--room", id)
	if code == 0 || !strings.Contains(out, "room "+id+" is blocked") {
		t.Errorf("the CLI's diagnosis of the same room: exit %d\n%s%s", code, out, errs)
	}
	tm.keys("q")
}
