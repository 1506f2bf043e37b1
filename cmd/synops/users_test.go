package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops/audit"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// usersCLIEnv is roomsCLIEnv with the debug log at debug level, so the
// secret tests scan everything synops writes.
func usersCLIEnv(t *testing.T) (env map[string]string, state string) {
	env, state = roomsCLIEnv(t)
	env["SYNOPS_DEBUG"] = "1"
	return env, state
}

// synopsIn is synops() with stdin.
func synopsIn(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

type cliAccount struct {
	synapsetest.SeededUser
	local string
}

func newCLIAccount(t *testing.T, tag string) cliAccount {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	local := tag + "-" + hex.EncodeToString(b)
	r, err := bed.Synapse.Register(roomsCtx(t), local, false)
	if err != nil {
		t.Fatal(err)
	}
	return cliAccount{SeededUser: synapsetest.SeededUser{UserID: r.UserID, Token: r.AccessToken}, local: local}
}

func cliLogin(t *testing.T, local string, pw synapse.Secret) error {
	t.Helper()
	anon, _ := synapse.New(bed.Synapse.BaseURL, synapse.Secret{}, synapse.WithRetries(0))
	_, err := anon.Login(roomsCtx(t), local, pw, "")
	return err
}

func cliUser(t *testing.T, id string) *synapse.User {
	t.Helper()
	u, err := bed.Synapse.Client().User(roomsCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// stateFiles are what synops wrote in the state directory: the audit log,
// the debug log and the users journal.
func stateFiles(t *testing.T, state string) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"audit.log", "synops.log", "users-journal.json"} {
		data, err := os.ReadFile(filepath.Join(state, "synops", name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

func TestUsersListShowCLI(t *testing.T) {
	ctx := roomsCtx(t)
	env, _ := usersCLIEnv(t)
	a := newCLIAccount(t, "clilist")
	dn := "Mallory \x1b[2J\x1b]0;owned\x07"
	if _, err := bed.Synapse.Client().ModifyUser(ctx, a.UserID, synapse.UserChanges{DisplayName: &dn}); err != nil {
		t.Fatal(err)
	}
	if _, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "clilist room", Members: []synapsetest.SeededUser{a.SeededUser}}); err != nil {
		t.Fatal(err)
	}
	if err := bed.Synapse.Client().SetLocked(ctx, a.UserID, true); err != nil {
		t.Fatal(err)
	}

	out, errs, code := cli(t, env, "users", "list", "--json", "--search", a.local)
	var rows []struct {
		Name   string   `json:"name"`
		Locked bool     `json:"locked"`
		Badges []string `json:"badges"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Name != a.UserID || !rows[0].Locked || strings.Join(rows[0].Badges, ",") != "locked" {
		t.Errorf("users list --json: exit %d %+v\n%s%s", code, rows, out, errs)
	}
	out, errs, code = cli(t, env, "users", "list", "--locked")
	if code != 0 || !strings.Contains(out, a.UserID) || strings.Contains(out, bed.Synapse.AdminUserID) {
		t.Errorf("users list --locked: exit %d\n%s%s", code, out, errs)
	}
	out, _, _ = cli(t, env, "users", "list", "--admins")
	if !strings.Contains(out, bed.Synapse.AdminUserID) || !strings.Contains(out, "self,admin") || strings.Contains(out, a.UserID) {
		t.Errorf("users list --admins:\n%s", out)
	}
	out, _, _ = cli(t, env, "users", "list", "--deactivated")
	if strings.Contains(out, a.UserID) || strings.Contains(out, bed.Synapse.AdminUserID) {
		t.Errorf("users list --deactivated lists active accounts:\n%s", out)
	}
	out, errs, code = cli(t, env, "users", "list")
	if code != 0 || !strings.Contains(out, a.UserID) || strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("users list: exit %d (a display name's escapes must not pass)\n%q%s", code, out, errs)
	}

	out, errs, code = cli(t, env, "users", "show", a.UserID)
	if code != 0 || !strings.Contains(out, "locked") || !strings.Contains(out, "joined to 1 room:") || !strings.Contains(out, "clilist room") {
		t.Errorf("users show: exit %d\n%s%s", code, out, errs)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("users show passed the display name's escape sequences: %q", out)
	}
	_, errs, code = cli(t, env, "users", "show", "@clilist-nobody:"+bed.Synapse.ServerName)
	if code != 1 || !strings.Contains(errs, "M_NOT_FOUND") || !strings.Contains(errs, "synops users list") {
		t.Errorf("users show of an unknown account: exit %d\n%s", code, errs)
	}
}

func TestUsersDisableEnableCLI(t *testing.T) {
	ctx := roomsCtx(t)
	env, state := usersCLIEnv(t)
	a := newCLIAccount(t, "clidis")
	for i := range 2 {
		if _, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "clidis " + string(rune('a'+i)), Members: []synapsetest.SeededUser{a.SeededUser}}); err != nil {
			t.Fatal(err)
		}
	}
	joined := func() int {
		rs, err := bed.Synapse.Client().UserJoinedRooms(ctx, a.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	unchanged := func(what string) {
		t.Helper()
		if u := cliUser(t, a.UserID); u.Locked || u.Suspended || joined() != 2 {
			t.Fatalf("%s changed the account: locked %v suspended %v, %d rooms", what, u.Locked, u.Suspended, joined())
		}
	}

	out, errs, code := cli(t, env, "users", "disable", a.UserID)
	if code != 2 || !strings.Contains(errs, "--yes --confirm=") || !strings.Contains(out, "users.disable") || !strings.Contains(out, "leave its 2 rooms") {
		t.Errorf("disable with no terminal: exit %d\n%s%s", code, out, errs)
	}
	unchanged("disable without --yes")
	_, errs, code = cli(t, env, "users", "disable", a.UserID, "--yes", "--confirm=@someone:"+bed.Synapse.ServerName)
	if code != 1 || !strings.Contains(errs, "not approved") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("disable confirmed with another ID: exit %d\n%s", code, errs)
	}
	unchanged("a wrong confirmation")
	_, errs, code = cli(t, env, "--read-only", "users", "disable", a.UserID, "--yes", "--confirm="+a.UserID)
	if code != 1 || !strings.Contains(errs, "read-only") {
		t.Errorf("disable in read-only mode: exit %d\n%s", code, errs)
	}
	unchanged("read-only mode")

	out, errs, code = cli(t, env, "users", "disable", a.UserID, "--yes", "--confirm="+a.UserID)
	if code != 0 || !strings.Contains(out, "disabled "+a.UserID+": left 2 rooms") || strings.Count(errs, " leaving") != 2 {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errs)
	}
	if u := cliUser(t, a.UserID); !u.Locked || joined() != 0 {
		t.Errorf("after disable: locked %v, %d rooms", u.Locked, joined())
	}
	if err := cliLogin(t, a.local, synapsetest.Password(a.local)); !errors.Is(err, synapse.ErrUserLocked) {
		t.Errorf("login after disable: %v", err)
	}
	out, _, code = cli(t, env, "users", "disable", a.UserID, "--yes", "--confirm="+a.UserID)
	if code != 0 || !strings.Contains(out, "already disabled") {
		t.Errorf("second disable: exit %d\n%s", code, out)
	}
	out, errs, code = cli(t, env, "users", "enable", a.UserID, "--yes", "--confirm="+a.UserID)
	if code != 0 || !strings.Contains(out, "rejoins none of the 2 rooms") || !strings.Contains(out, "enabled "+a.UserID) {
		t.Errorf("enable: exit %d\n%s%s", code, out, errs)
	}
	if err := cliLogin(t, a.local, synapsetest.Password(a.local)); err != nil {
		t.Errorf("login after enable: %v", err)
	}
	es, err := audit.Read(filepath.Join(state, "synops", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, e := range es {
		if e.Target == a.UserID {
			phases = append(phases, e.Action+":"+e.Phase+":"+e.Outcome)
		}
	}
	want := "users.disable:refused: users.disable:refused: users.disable:start: users.disable:end:ok users.enable:start: users.enable:end:ok"
	if got := strings.Join(phases, " "); got != want {
		t.Errorf("audit: %s\nwant %s", got, want)
	}
	if strings.Contains(stateFiles(t, state), bed.Synapse.AdminToken.Reveal()) {
		t.Error("the admin token is in the state files")
	}
}

// TestUsersSecretsShownOnce: a generated password and a login-as token are
// printed exactly once, on stdout, and nowhere in the audit log, the debug
// log or the journal; a password given on stdin is printed nowhere.
func TestUsersSecretsShownOnce(t *testing.T) {
	env, state := usersCLIEnv(t)
	a := newCLIAccount(t, "clisecret")

	out, errs, code := cli(t, env, "users", "reset-password", a.UserID, "--yes", "--confirm="+a.UserID)
	if code != 0 || !strings.Contains(out, "shown this once") {
		t.Fatalf("reset-password: exit %d\n%s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	pw := synapse.NewSecret(lines[len(lines)-1])
	if len(pw.Reveal()) < 26 || strings.Count(out+errs, pw.Reveal()) != 1 {
		t.Fatalf("the generated password %q is not printed exactly once:\n%s%s", pw.Reveal(), out, errs)
	}
	if err := cliLogin(t, a.local, pw); err != nil {
		t.Errorf("the generated password does not log in: %v", err)
	}
	if err := cliLogin(t, a.local, synapsetest.Password(a.local)); err == nil {
		t.Error("the old password still logs in")
	}

	out, errs, code = cli(t, env, "users", "login-as", a.UserID, "--valid-for", "10m", "--yes", "--confirm="+a.UserID)
	if code != 0 {
		t.Fatalf("login-as: exit %d\n%s%s", code, out, errs)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	tok := synapse.NewSecret(lines[len(lines)-1])
	if !strings.HasPrefix(tok.Reveal(), "syt_") || strings.Count(out+errs, tok.Reveal()) != 1 {
		t.Fatalf("the token %q is not printed exactly once:\n%s%s", tok.Hint(), out, errs)
	}
	w, err := bed.Synapse.Client().WithToken(tok).Whoami(roomsCtx(t))
	if err != nil || w.UserID != a.UserID {
		t.Errorf("the login-as token: %+v %v", w, err)
	}

	typed := synapse.NewSecret("typed-on-stdin-" + a.local)
	out, errs, code = synopsIn(t, env, typed.Reveal()+"\n", "users", "reset-password", a.UserID, "--password-stdin", "--keep-devices", "--yes", "--confirm="+a.UserID)
	if code != 0 || strings.Contains(out+errs, typed.Reveal()) || strings.Contains(out, "shown this once") {
		t.Fatalf("reset-password --password-stdin: exit %d (the typed password is never printed)\n%s%s", code, out, errs)
	}
	if err := cliLogin(t, a.local, typed); err != nil {
		t.Errorf("the password from stdin does not log in: %v", err)
	}
	if _, err := bed.Synapse.Client().WithToken(tok).Whoami(roomsCtx(t)); err != nil {
		t.Errorf("--keep-devices: the login-as token stopped working: %v", err)
	}
	_, errs, code = synopsIn(t, env, "short\n", "users", "reset-password", a.UserID, "--password-stdin", "--yes", "--confirm="+a.UserID)
	if code != 1 || !strings.Contains(errs, "too short") {
		t.Errorf("a short password: exit %d\n%s", code, errs)
	}

	files := stateFiles(t, state)
	if !strings.Contains(files, "users.reset_password") || !strings.Contains(files, "level=DEBUG") {
		t.Fatalf("the audit and debug logs do not record the changes, so scanning them proves nothing:\n%s", files)
	}
	for name, s := range map[string]synapse.Secret{"generated password": pw, "login-as token": tok, "typed password": typed, "admin token": bed.Synapse.AdminToken} {
		if strings.Contains(files, s.Reveal()) {
			t.Errorf("the %s is in the audit log, debug log or journal", name)
		}
	}
}

func TestUsersDeactivateCLI(t *testing.T) {
	env, _ := usersCLIEnv(t)
	a := newCLIAccount(t, "clierase")
	ctx := roomsCtx(t)
	dn := "To Be Erased"
	if _, err := bed.Synapse.Client().ModifyUser(ctx, a.UserID, synapse.UserChanges{DisplayName: &dn}); err != nil {
		t.Fatal(err)
	}

	_, errs, code := cli(t, env, "users", "deactivate", a.UserID, "--erase", "--yes", "--confirm="+a.UserID)
	if code != 1 || !strings.Contains(errs, "no verified backup") || !strings.Contains(errs, "--without-backup") {
		t.Errorf("erase without a backup: exit %d\n%s", code, errs)
	}
	_, errs, code = cli(t, env, "users", "deactivate", a.UserID, "--erase", "--yes", "--confirm="+a.local, "--without-backup")
	if code != 1 || !strings.Contains(errs, "not approved") {
		t.Errorf("erase confirmed with the localpart only: exit %d\n%s", code, errs)
	}
	if u := cliUser(t, a.UserID); u.Deactivated || u.DisplayName != dn {
		t.Fatalf("a refused erase changed the account: %+v", u)
	}
	out, errs, code := cli(t, env, "users", "deactivate", a.UserID, "--erase", "--redact-events", "--yes", "--confirm="+a.UserID, "--without-backup")
	if code != 0 || !strings.Contains(out, "deactivated and erased "+a.UserID) || !strings.Contains(out, "irreversible") {
		t.Fatalf("erase: exit %d\n%s%s", code, out, errs)
	}
	if u := cliUser(t, a.UserID); !u.Deactivated || !u.Erased || u.DisplayName != "" {
		t.Errorf("after erase: %+v", u)
	}

	// The token's own account, and usage mistakes.
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"users", "lock", bed.Synapse.AdminUserID, "--yes", "--confirm=" + bed.Synapse.AdminUserID}, 1, "synops' admin token belongs to"},
		{[]string{"users", "deactivate", bed.Synapse.AdminUserID, "--erase", "--yes", "--confirm=" + bed.Synapse.AdminUserID, "--without-backup"}, 1, "synops' admin token belongs to"},
		{[]string{"users", "admin", bed.Synapse.AdminUserID, "--revoke", "--yes", "--confirm=" + bed.Synapse.AdminUserID}, 1, "refusing to revoke admin from " + bed.Synapse.AdminUserID},
		{[]string{"users", "lock", "alice"}, 2, `invalid user ID "alice"`},
		{[]string{"users", "disable"}, 2, "give exactly one user ID"},
		{[]string{"users", "admin", a.UserID}, 2, "exactly one of --grant and --revoke"},
		{[]string{"users", "deactivate", a.UserID, "--redact-events"}, 2, "--redact-events goes with --erase"},
		{[]string{"users", "login-as", a.UserID, "--valid-for", "0s"}, 2, "--valid-for must be more than 0"},
		{[]string{"users", "login-as", a.UserID, "--valid-for", "30d", "--yes", "--confirm=" + a.UserID}, 1, "up to 168h0m0s"},
		{[]string{"users", "lock", "@nobody-here:" + bed.Synapse.ServerName, "--yes", "--confirm=@nobody-here:" + bed.Synapse.ServerName}, 1, "M_NOT_FOUND"},
		{[]string{"users", "lock", a.UserID, "--yes", "--confirm=" + a.UserID}, 1, "it is deactivated"},
		{[]string{"users", "list", "--sort", "size"}, 2, `--sort "size" is not a column`},
	}
	for _, tt := range tests {
		out, errs, code := cli(t, env, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("synops %s: exit %d, want %d with %q\n%s%s", strings.Join(tt.args, " "), code, tt.code, tt.want, out, errs)
		}
	}
	if u := cliUser(t, bed.Synapse.AdminUserID); !u.Admin || u.Locked || u.Deactivated {
		t.Errorf("the admin's own account changed: %+v", u)
	}
}
