package users_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/users"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

func TestListAndBadges(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	c := bed.Synapse.Client()
	tag := "lst" + randHex(2)
	plain, adm, locked, gone := newAccount(t, tag), newAccount(t, tag), newAccount(t, tag), newAccount(t, tag)
	if err := c.SetAdmin(ctx, adm.UserID, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.SetAdmin(ctxT(t), adm.UserID, false) })
	if err := c.SetLocked(ctx, locked.UserID, true); err != nil {
		t.Fatal(err)
	}
	if err := c.DeactivateUser(ctx, gone.UserID, true); err != nil {
		t.Fatal(err)
	}
	list := func(fl users.Filter) map[string][]string {
		t.Helper()
		us, err := f.svc.List(ctx, fl)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, u := range us {
			out[u.Name] = u.Badges()
		}
		return out
	}
	got := list(users.Filter{Search: tag})
	want := map[string][]string{plain.UserID: nil, adm.UserID: {"admin"}, locked.UserID: {"locked"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("default list (active accounts, locked ones too):\n got %v\nwant %v", got, want)
	}
	if got := list(users.Filter{Search: tag, Deactivated: true}); fmt.Sprint(got) != fmt.Sprint(map[string][]string{gone.UserID: {"deactivated", "erased"}}) {
		t.Errorf("deactivated: %v", got)
	}
	if got := list(users.Filter{Search: tag, Locked: true}); len(got) != 1 || got[locked.UserID] == nil {
		t.Errorf("locked: %v", got)
	}
	if got := list(users.Filter{Search: tag, Admins: true}); len(got) != 1 || got[adm.UserID] == nil {
		t.Errorf("admins: %v", got)
	}
	if got := list(users.Filter{Search: tag, All: true}); len(got) != 4 {
		t.Errorf("all: %v", got)
	}
	self := list(users.Filter{Search: "admin", Admins: true})
	if !slices.Contains(self[bed.Synapse.AdminUserID], "self") {
		t.Errorf("the token's own account is not marked self: %v", self)
	}
}

func TestInspectImpact(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "insp")
	rooms := joinRooms(t, a, 3)
	mustLogin(t, a)
	if _, err := bed.Synapse.UploadMedia(ctx, a.Token, "x.bin", make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	dn := "Inspect \x1b]0;pwned\x07Me"
	if _, err := bed.Synapse.Client().ModifyUser(ctx, a.UserID, synapse.UserChanges{DisplayName: &dn}); err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.Inspect(ctx, a.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.RoomIDs(); !slices.Equal(got, slices.Sorted(slices.Values(rooms))) {
		t.Errorf("rooms %v, want %v", got, rooms)
	}
	if d.Rooms[0].Name == "" || len(d.Devices) != 2 || d.Media.Count != 1 || d.Media.Bytes != 2048 || d.Self || d.User.Admin {
		t.Errorf("detail: rooms %+v devices %d media %+v self %v admin %v", d.Rooms, len(d.Devices), d.Media, d.Self, d.User.Admin)
	}
	lines := strings.Join(d.Lines(time.Now()), "\n")
	for _, want := range []string{"a user, active", "joined to 3 rooms", "2 devices", "1 media file, 2.0 KiB"} {
		if !strings.Contains(lines, want) {
			t.Errorf("impact lacks %q:\n%s", want, lines)
		}
	}
	if strings.ContainsAny(lines, "\x1b\x07") {
		t.Errorf("the display name's escape sequence reached the impact lines: %q", lines)
	}
	me, err := f.svc.Inspect(ctx, bed.Synapse.AdminUserID)
	if err != nil {
		t.Fatal(err)
	}
	if !me.Self || !strings.Contains(strings.Join(me.Lines(time.Now()), "\n"), "the account synops' admin token belongs to") {
		t.Errorf("self not told: %v %v", me.Self, me.Lines(time.Now()))
	}
}

func TestSuspendLockAdmin(t *testing.T) {
	f := newFixture(t)
	a := newAccount(t, "flags")
	check := func(what string, ok func(synapse.User) bool) {
		t.Helper()
		if st := readState(t, a.UserID); !ok(st.User) {
			t.Errorf("after %s: %+v", what, st.User)
		}
	}
	f.run(t, users.Request{Action: users.Suspend, UserID: a.UserID})
	check("suspend", func(u synapse.User) bool { return u.Suspended })
	f.run(t, users.Request{Action: users.Unsuspend, UserID: a.UserID})
	check("unsuspend", func(u synapse.User) bool { return !u.Suspended })
	f.run(t, users.Request{Action: users.Lock, UserID: a.UserID})
	check("lock", func(u synapse.User) bool { return u.Locked })
	if _, err := login(t, a, synapsetest.Password(a.local)); !errors.Is(err, synapse.ErrUserLocked) {
		t.Errorf("login while locked: %v", err)
	}
	f.run(t, users.Request{Action: users.Unlock, UserID: a.UserID})
	check("unlock", func(u synapse.User) bool { return !u.Locked })
	f.run(t, users.Request{Action: users.GrantAdmin, UserID: a.UserID})
	check("grant", func(u synapse.User) bool { return u.Admin })
	f.run(t, users.Request{Action: users.RevokeAdmin, UserID: a.UserID})
	check("revoke", func(u synapse.User) bool { return !u.Admin })
	if _, _, err := f.svc.Plan(ctxT(t), users.Request{Action: users.Unlock, UserID: a.UserID}); !errors.Is(err, users.ErrNothingToDo) {
		t.Errorf("unlock of an unlocked account: %v, want nothing to do", err)
	}
	got := f.phases(t, a.UserID)
	if len(got) != 12 || got[0] != "users.suspend start:" || got[11] != "users.revoke_admin end:ok" {
		t.Errorf("audit: %v", got)
	}
}

func TestResetPasswordGenerated(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "pwgen")
	p, _ := f.plan(t, users.Request{Action: users.ResetPassword, UserID: a.UserID})
	if !strings.Contains(stepTitles(p), "one synops generates and shows once") || !strings.Contains(stepTitles(p), "log out its 1 device") {
		t.Errorf("steps:\n%s", stepTitles(p))
	}
	res, err := f.svc.Apply(ctx, p, approve(t, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Password.Reveal()) < 26 {
		t.Fatalf("generated password of %d characters", len(res.Password.Reveal()))
	}
	if _, err := login(t, a, res.Password); err != nil {
		t.Errorf("the generated password does not log in: %v", err)
	}
	if _, err := login(t, a, synapsetest.Password(a.local)); err == nil {
		t.Error("the old password still logs in")
	}
	if _, err := bed.Synapse.Client().WithToken(a.Token).Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("the old session after the reset: %v, want logged out", err)
	}
	out, _ := json.Marshal(res)
	pj, _ := json.Marshal(p)
	if strings.Contains(string(out)+string(pj), res.Password.Reveal()) || strings.Contains(fmt.Sprintf("%v %+v", res, res), res.Password.Reveal()) {
		t.Error("the password shows in the result (JSON or printed) or in the plan")
	}
	f.noSecret(t, res.Password)
}

func TestResetPasswordTyped(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "pwtyped")
	sess := mustLogin(t, a)
	pw := synapse.NewSecret("typed-" + randHex(8))
	if _, _, err := f.svc.Plan(ctx, users.Request{Action: users.ResetPassword, UserID: a.UserID, Password: synapse.NewSecret("short")}); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("a short typed password: %v", err)
	}
	p, _ := f.plan(t, users.Request{Action: users.ResetPassword, UserID: a.UserID, Password: pw, KeepDevices: true})
	pj, _ := json.Marshal(p)
	if strings.Contains(string(pj), pw.Reveal()) || !strings.Contains(string(pj), `"password_typed":true`) {
		t.Errorf("plan JSON: %s", pj)
	}
	res, err := f.svc.Apply(ctx, p, approve(t, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Password.IsZero() {
		t.Error("a typed password is handed back to show")
	}
	if _, err := login(t, a, pw); err != nil {
		t.Errorf("the typed password does not log in: %v", err)
	}
	if _, err := bed.Synapse.Client().WithToken(sess.AccessToken).Whoami(ctx); err != nil {
		t.Errorf("--keep-devices ended a session: %v", err)
	}
	// The typed password was held for that plan only.
	if _, err := f.svc.Apply(ctx, p, approve(t, p), nil); err == nil || !strings.Contains(err.Error(), "no longer held") {
		t.Errorf("a second apply of the same plan: %v", err)
	}
	f.noSecret(t, pw)
}

func TestLoginAs(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "puppet")
	p, _ := f.plan(t, users.Request{Action: users.LoginAs, UserID: a.UserID})
	if !strings.Contains(stepTitles(p), "for 1h0m0s from approval") {
		t.Errorf("default validity not one hour:\n%s", stepTitles(p))
	}
	before := time.Now()
	res, err := f.svc.Apply(ctx, p, approve(t, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := res.ValidUntil.Sub(before); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("valid until %s, %s from now; want an hour", res.ValidUntil, d)
	}
	w, err := bed.Synapse.Client().WithToken(res.Token).Whoami(ctx)
	if err != nil || w.UserID != a.UserID {
		t.Errorf("the token acts as %+v (%v), want %s", w, err, a.UserID)
	}
	if _, _, err := f.svc.Plan(ctx, users.Request{Action: users.LoginAs, UserID: a.UserID, ValidFor: 30 * 24 * time.Hour}); err == nil {
		t.Error("a 30-day login-as token was planned")
	}
	f.noSecret(t, res.Token)
}

func TestDeactivateAndErase(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	c := bed.Synapse.Client()

	a := newAccount(t, "deact")
	joinRooms(t, a, 2)
	p, _ := f.plan(t, users.Request{Action: users.Deactivate, UserID: a.UserID})
	if !p.LosesData || p.Risk() != ops.Irreversible {
		t.Errorf("deactivate plan: loses data %v, risk %s", p.LosesData, p.Risk())
	}
	// No backup and no waiver: refused, nothing changed.
	before := readState(t, a.UserID)
	ap, err := ops.Approve(p, a.UserID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Apply(ctx, p, ap, nil); !errors.Is(err, ops.ErrNoBackup) {
		t.Errorf("deactivate without a backup or waiver: %v, want ErrNoBackup", err)
	}
	if after := readState(t, a.UserID); after.String() != before.String() {
		t.Errorf("a refused deactivation changed the account:\n%s\n%s", before, after)
	}
	res, err := f.svc.Apply(ctx, p, approve(t, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := readState(t, a.UserID)
	if !st.User.Deactivated || st.User.Erased || len(st.Rooms) != 0 || len(st.Devices) != 0 || len(res.StillJoined) != 0 {
		t.Errorf("after deactivate: %s (result %+v)", st, res)
	}
	if _, err := login(t, a, synapsetest.Password(a.local)); err == nil {
		t.Error("a deactivated account logs in")
	}
	if _, _, err := f.svc.Plan(ctx, users.Request{Action: users.Deactivate, UserID: a.UserID}); !errors.Is(err, users.ErrNothingToDo) {
		t.Errorf("deactivate again: %v, want nothing to do", err)
	}
	// A deactivated account can still be erased.
	f.run(t, users.Request{Action: users.Erase, UserID: a.UserID})
	if st := readState(t, a.UserID); !st.User.Erased || st.User.DisplayName != "" {
		t.Errorf("erase after deactivation: %s", st)
	}

	// Erase, with the messages redacted: display name and avatar go, and
	// so does every message in every room it was in, left ones too.
	e := newAccount(t, "erase")
	rooms := joinRooms(t, e, 2)
	for _, r := range rooms {
		if err := bed.Synapse.SendText(ctx, e.Token, r, "erase me "+r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WithToken(e.Token).LeaveRoom(ctx, rooms[1]); err != nil {
		t.Fatal(err)
	}
	dn, av := "Erased Person", "mxc://"+bed.Synapse.ServerName+"/erased"
	if _, err := c.ModifyUser(ctx, e.UserID, synapse.UserChanges{DisplayName: &dn, AvatarURL: &av}); err != nil {
		t.Fatal(err)
	}
	p, _ = f.plan(t, users.Request{Action: users.Erase, UserID: e.UserID, Redact: true})
	if !strings.Contains(stepTitles(p), "in the 2 rooms it has been in") {
		t.Errorf("erase steps:\n%s", stepTitles(p))
	}
	res, err = f.svc.Apply(ctx, p, approve(t, p), nil)
	if err != nil {
		t.Fatal(err)
	}
	st = readState(t, e.UserID)
	if !st.User.Deactivated || !st.User.Erased || st.User.DisplayName != "" || st.User.AvatarURL != "" || len(st.Rooms) != 0 {
		t.Errorf("after erase: %s", st)
	}
	if res.RedactID == "" || len(res.FailedRedactions) != 0 {
		t.Errorf("result %+v", res)
	}
	for _, r := range rooms {
		evs, err := bed.Synapse.Messages(ctx, r, "m.room.message")
		if err != nil {
			t.Fatal(err)
		}
		mine := 0
		for _, ev := range evs {
			if ev.Sender == e.UserID {
				mine++
				if len(ev.Content) > 2 {
					t.Errorf("room %s: message %s not redacted: %s", r, ev.EventID, ev.Content)
				}
			}
		}
		if mine != 1 {
			t.Errorf("room %s: %d messages of the erased account, want its 1 (redacted)", r, mine)
		}
	}
	if _, _, err := f.svc.Plan(ctx, users.Request{Action: users.Erase, UserID: e.UserID}); !errors.Is(err, users.ErrNothingToDo) {
		t.Errorf("erase again: %v", err)
	}
}

func TestRedactEvents(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "redact")
	rooms := joinRooms(t, a, 2)
	for i := range 3 {
		if err := bed.Synapse.SendText(ctx, a.Token, rooms[0], fmt.Sprintf("spam %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bed.Synapse.SendText(ctx, a.Token, rooms[1], "keep me"); err != nil {
		t.Fatal(err)
	}
	p, _ := f.plan(t, users.Request{Action: users.RedactEvents, UserID: a.UserID, Rooms: rooms[:1], Reason: "spam"})
	if !p.LosesData || !strings.Contains(stepTitles(p), "in 1 room,") {
		t.Errorf("plan: loses data %v\n%s", p.LosesData, stepTitles(p))
	}
	var stages []string
	res, err := f.svc.Apply(ctx, p, approve(t, p), func(pr ops.Progress) { stages = append(stages, pr.Stage) })
	if err != nil {
		t.Fatal(err)
	}
	if res.RedactID == "" || !slices.Contains(stages, "redacting") {
		t.Errorf("result %+v, stages %v", res, stages)
	}
	count := func(room string) (redacted, intact int) {
		evs, err := bed.Synapse.Messages(ctx, room, "m.room.message")
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Sender == a.UserID {
				if len(ev.Content) > 2 {
					intact++
				} else {
					redacted++
				}
			}
		}
		return
	}
	if r, i := count(rooms[0]); r != 3 || i != 0 {
		t.Errorf("spam room: %d redacted, %d intact; want 3 and 0", r, i)
	}
	if r, i := count(rooms[1]); r != 0 || i != 1 {
		t.Errorf("other room: %d redacted, %d intact; want 0 and 1", r, i)
	}
}

// TestRefusals: each refusal changes nothing on the server, and the ones
// a plan reaches are in the audit log as refused.
func TestRefusals(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	c := bed.Synapse.Client()
	self := bed.Synapse.AdminUserID
	victim := newAccount(t, "refuse")
	joinRooms(t, victim, 1)

	// Admins that do not count: a deactivated one and a locked one.
	for _, mod := range []func(string) error{
		func(id string) error { return c.DeactivateUser(ctx, id, false) },
		func(id string) error { return c.SetLocked(ctx, id, true) },
	} {
		x := newAccount(t, "refadm")
		if err := c.SetAdmin(ctx, x.UserID, true); err != nil {
			t.Fatal(err)
		}
		if err := mod(x.UserID); err != nil {
			t.Fatal(err)
		}
	}
	admins, err := c.AllUsers(ctx, synapse.ListUsersOptions{Admins: ptr(true), Deactivated: ptr(false)})
	if err != nil || len(admins) != 1 || admins[0].Name != self {
		t.Fatalf("the test needs %s to be the only active unlocked admin, got %+v %v", self, admins, err)
	}

	tests := []struct {
		name    string
		req     users.Request
		wantErr error
		logged  bool // a refusal the audit log records
	}{
		{"deactivate own account", users.Request{Action: users.Deactivate, UserID: self}, users.ErrOwnAccount, true},
		{"erase own account", users.Request{Action: users.Erase, UserID: self, Redact: true}, users.ErrOwnAccount, true},
		{"lock own account", users.Request{Action: users.Lock, UserID: self}, users.ErrOwnAccount, true},
		{"disable own account", users.Request{Action: users.Disable, UserID: self}, users.ErrOwnAccount, true},
		{"revoke the last admin", users.Request{Action: users.RevokeAdmin, UserID: self}, users.ErrLastAdmin, true},
		{"unknown account", users.Request{Action: users.Disable, UserID: "@refuse-nobody-" + randHex(2) + ":" + bed.Synapse.ServerName}, synapse.ErrNotFound, false},
		{"malformed ID", users.Request{Action: users.Erase, UserID: "refuse"}, nil, false},
		{"another server's account", users.Request{Action: users.Lock, UserID: "@someone:elsewhere.example"}, nil, false},
	}
	for _, tt := range tests {
		before := readState(t, self)
		_, _, err := f.svc.Plan(ctx, tt.req)
		switch {
		case err == nil:
			t.Errorf("%s: planned, want a refusal", tt.name)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.wantErr)
		}
		if after := readState(t, self); after.String() != before.String() {
			t.Errorf("%s changed the admin's account", tt.name)
		}
		refused := slices.Contains(f.phases(t, tt.req.UserID), string(tt.req.Action)+" refused:")
		if refused != tt.logged {
			t.Errorf("%s: refused in the audit log %v, want %v (%v)", tt.name, refused, tt.logged, f.phases(t, tt.req.UserID))
		}
		t.Logf("%s: %v", tt.name, err)
	}
	// The unknown account was not created by the attempt, and a malformed
	// ID sends no request at all.
	for _, tt := range tests {
		if errors.Is(tt.wantErr, synapse.ErrNotFound) {
			if _, err := c.User(ctx, tt.req.UserID); !errors.Is(err, synapse.ErrNotFound) {
				t.Errorf("%s exists after the refused change: %v", tt.req.UserID, err)
			}
		}
	}
	var tr synapsetest.CountingTransport
	counted := &users.Service{Synapse: bed.Synapse.Client(synapse.WithHTTPClient(&http.Client{Transport: &tr})),
		Guard: f.guard, Journal: f.svc.Journal, Server: bed.Synapse.ServerName}
	var ve *synapse.ValidationError
	for _, bad := range []string{"refuse", "@refuse", "@ref use:" + bed.Synapse.ServerName, "@:x.y", ""} {
		if _, _, err := counted.Plan(ctx, users.Request{Action: users.Erase, UserID: bad}); !errors.As(err, &ve) {
			t.Errorf("malformed ID %q: %v, want a validation error", bad, err)
		}
	}
	if tr.Count() != 0 {
		t.Errorf("malformed IDs sent %d requests", tr.Count())
	}

	// Erase without the typed user ID: the approval is refused and the
	// guard will not run the plan.
	before := readState(t, victim.UserID)
	p, _ := f.plan(t, users.Request{Action: users.Erase, UserID: victim.UserID})
	for _, typed := range []string{"", "yes", victim.local, victim.UserID + " "} {
		if _, err := ops.Approve(p, typed, time.Now()); !errors.Is(err, ops.ErrNotApproved) {
			t.Errorf("approval typed %q: %v", typed, err)
		}
	}
	if _, err := f.svc.Apply(ctx, p, ops.Approval{WithoutBackup: true}, nil); !errors.Is(err, ops.ErrNotApproved) {
		t.Errorf("erase with no approval: %v, want not approved", err)
	}
	other, _ := f.plan(t, users.Request{Action: users.Lock, UserID: victim.UserID})
	if _, err := f.svc.Apply(ctx, p, approve(t, other), nil); !errors.Is(err, ops.ErrNotApproved) {
		t.Errorf("erase with another plan's approval: %v, want not approved", err)
	}
	if after := readState(t, victim.UserID); after.String() != before.String() {
		t.Errorf("a refused erase changed the account:\n%s\n%s", before, after)
	}

	// Read-only: every change is refused, nothing changes.
	f.guard.ReadOnly = true
	for _, act := range []users.Action{users.Disable, users.Lock, users.Suspend, users.ResetPassword, users.GrantAdmin,
		users.LoginAs, users.RedactEvents, users.Deactivate, users.Erase} {
		p, _ := f.plan(t, users.Request{Action: act, UserID: victim.UserID})
		res, err := f.svc.Apply(ctx, p, approve(t, p), nil)
		if !errors.Is(err, ops.ErrReadOnly) || res != nil {
			t.Errorf("%s in read-only mode: %+v %v", act, res, err)
		}
	}
	if after := readState(t, victim.UserID); after.String() != before.String() {
		t.Errorf("read-only mode changed the account:\n%s\n%s", before, after)
	}
	f.guard.ReadOnly = false
	// Two refused approvals of the erase, and the nine read-only refusals.
	phases := strings.Join(f.phases(t, victim.UserID), "\n")
	if strings.Contains(phases, "start") || strings.Count(phases, "refused") != 11 {
		t.Errorf("audit for the refused changes:\n%s", phases)
	}

	// Apply checks the rules again: an account deactivated since the plan
	// is not locked.
	p, _ = f.plan(t, users.Request{Action: users.Lock, UserID: victim.UserID})
	if err := c.DeactivateUser(ctx, victim.UserID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Apply(ctx, p, approve(t, p), nil); !errors.Is(err, users.ErrDeactivated) {
		t.Errorf("lock of an account deactivated since the plan: %v, want ErrDeactivated", err)
	}
	if st := readState(t, victim.UserID); st.User.Locked {
		t.Error("the account deactivated since the plan was locked")
	}
}

func ptr[T any](v T) *T { return &v }

// TestAppServiceUserImpact: a plan on a bridge's user says so.
func TestAppServiceUserImpact(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	id, err := bed.Synapse.RegisterAppServiceUser(ctx, bridge, bridge.UserPrefix+randHex(3))
	if err != nil {
		t.Fatal(err)
	}
	p, d := f.plan(t, users.Request{Action: users.Lock, UserID: id})
	if d.User.AppserviceID != bridge.ID {
		t.Errorf("appservice_id %q, want %q", d.User.AppserviceID, bridge.ID)
	}
	if impact := strings.Join(p.Impact, "\n"); !strings.Contains(impact, `an application-service user (registered by "synops-test-bridge")`) {
		t.Errorf("impact does not name the application service:\n%s", impact)
	}
	plain := newAccount(t, "notbridge")
	if _, d := f.plan(t, users.Request{Action: users.Lock, UserID: plain.UserID}); d.User.AppserviceID != "" {
		t.Errorf("a plain user has appservice_id %q", d.User.AppserviceID)
	}
}
