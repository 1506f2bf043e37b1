package users_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"synops/ops"
	"synops/ops/users"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// TestDisableEnable is seed 004's incident action: after disable the account
// is in no room, has no device, cannot log in and its old tokens are dead;
// after enable it logs in again and is still in no room.
func TestDisableEnable(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "dis")
	rooms := joinRooms(t, a, 4)
	phone := mustLogin(t, a)
	c := bed.Synapse.Client()

	p, d := f.plan(t, users.Request{Action: users.Disable, UserID: a.UserID})
	if len(d.Rooms) != 4 || len(d.Devices) != 2 || d.Self {
		t.Errorf("impact: %d rooms, %d devices, self %v; want 4 rooms, 2 devices (registration and login), not self", len(d.Rooms), len(d.Devices), d.Self)
	}
	steps := stepTitles(p)
	for _, want := range []string{"suspend " + a.UserID, "leave its 4 rooms", "lock it", "log out every session: its 2 devices", "lift the suspension"} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps lack %q:\n%s", want, steps)
		}
	}
	if !strings.Contains(strings.Join(p.Impact, "\n"), "rejoins none of its rooms") || p.Target != a.UserID || p.Risk() != ops.Irreversible {
		t.Errorf("plan %s (target %s, risk %s) impact:\n%s", p.Kind, p.Target, p.Risk(), strings.Join(p.Impact, "\n"))
	}
	if st := readState(t, a.UserID); len(st.Rooms) != 4 || st.User.Suspended || st.User.Locked {
		t.Fatalf("planning changed the account: %s", st)
	}

	var left []string
	res, err := f.svc.Apply(ctx, p, approve(t, p), func(pr ops.Progress) {
		if pr.Stage == "leaving" {
			left = append(left, pr.Item)
			if pr.Total != 4 || pr.Done != len(left)-1 {
				t.Errorf("progress %+v: want done %d of 4", pr, len(left)-1)
			}
		}
	})
	if err != nil {
		t.Fatalf("disable: %v", err)
	}
	slices.Sort(left)
	if want := slices.Sorted(slices.Values(rooms)); !slices.Equal(left, want) {
		t.Errorf("progress named rooms %v, want one report per room %v", left, want)
	}
	if res.RoomsLeft != 4 || !strings.Contains(res.Summary, "left 4 rooms") {
		t.Errorf("result %+v", res)
	}

	st := readState(t, a.UserID)
	if len(st.Rooms) != 0 || len(st.Devices) != 0 || !st.User.Locked || st.User.Suspended || st.User.Deactivated {
		t.Errorf("after disable: %s; want no room, no device, locked, not suspended, not deactivated", st)
	}
	for _, r := range rooms {
		members, err := c.RoomMembers(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(members, a.UserID) {
			t.Errorf("room %s still lists %s as joined", r, a.UserID)
		}
	}
	if _, err := login(t, a, synapsetest.Password(a.local)); !errors.Is(err, synapse.ErrUserLocked) {
		t.Errorf("login after disable: got %v, want M_USER_LOCKED", err)
	}
	for _, tok := range []synapse.Secret{a.Token, phone.AccessToken} {
		if _, err := c.WithToken(tok).Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) {
			t.Errorf("an old token after disable: got %v, want M_UNKNOWN_TOKEN (logged out, not just locked)", err)
		}
	}
	e, ok := f.svc.Journal.Get(a.UserID)
	if !ok || e.Stage != users.StageDone || len(e.Left) != 4 || e.WeSuspended {
		t.Errorf("journal entry %+v, want done with 4 rooms left", e)
	}
	if got := f.phases(t, a.UserID); !slices.Equal(got, []string{"users.disable start:", "users.disable end:ok"}) {
		t.Errorf("audit: %v", got)
	}
	if _, err := c.Whoami(ctx); err != nil {
		t.Fatalf("the admin token stopped working: %v", err)
	}

	// Disabling again has nothing to do.
	if _, _, err := f.svc.Plan(ctx, users.Request{Action: users.Disable, UserID: a.UserID}); !errors.Is(err, users.ErrNothingToDo) {
		t.Errorf("second disable: got %v, want nothing to do", err)
	}

	p, _ = f.plan(t, users.Request{Action: users.Enable, UserID: a.UserID})
	impact := strings.Join(p.Impact, "\n")
	if !strings.Contains(impact, "rejoins none of the 4 rooms its disable left") || !strings.Contains(stepTitles(p), "unlock "+a.UserID) {
		t.Errorf("enable plan:\n%s\n%s", stepTitles(p), impact)
	}
	if _, err := f.svc.Apply(ctx, p, approve(t, p), nil); err != nil {
		t.Fatalf("enable: %v", err)
	}
	if _, err := login(t, a, synapsetest.Password(a.local)); err != nil {
		t.Errorf("login after enable: %v", err)
	}
	if st := readState(t, a.UserID); st.User.Locked || st.User.Suspended || len(st.Rooms) != 0 {
		t.Errorf("after enable: %s; want unlocked, not suspended, and still in no room", st)
	}
	if e, _ := f.svc.Journal.Get(a.UserID); e.Stage != users.StageEnabled {
		t.Errorf("journal after enable: %+v", e)
	}
	f.noSecret(t)
}

// TestDisableInterrupted: Synapse is killed while the account leaves its
// rooms; a second run, once Synapse is back, finishes with no room joined.
func TestDisableInterrupted(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "disint")
	rooms := joinRooms(t, a, 8)

	p, _ := f.plan(t, users.Request{Action: users.Disable, UserID: a.UserID})
	killed := false
	_, err := f.svc.Apply(ctx, p, approve(t, p), func(pr ops.Progress) {
		if pr.Stage == "leaving" && pr.Done == 3 && !killed {
			killed = true
			bed.Synapse.Kill()
		}
	})
	if !killed {
		t.Fatal("the disable never reached its fourth room")
	}
	if restartErr := bed.Synapse.Restart(ctx); restartErr != nil {
		t.Fatalf("restart Synapse: %v", restartErr)
	}
	if err == nil || !strings.Contains(err.Error(), "run the same disable again") {
		t.Fatalf("interrupted disable: got %v, want an error that says to run it again", err)
	}
	e, ok := f.svc.Journal.Get(a.UserID)
	if !ok || e.Stage != users.StageLeaving || len(e.Left) != 3 || !e.WeSuspended {
		t.Errorf("journal after the interruption: %+v; want stage leaving, 3 rooms left, suspended by the disable", e)
	}
	st := readState(t, a.UserID)
	if len(st.Rooms) != 5 || !st.User.Suspended || st.User.Locked {
		t.Errorf("after the interruption: %s; want 5 rooms joined, suspended, not locked", st)
	}

	p2, _ := f.plan(t, users.Request{Action: users.Disable, UserID: a.UserID})
	if !strings.Contains(strings.Join(p2.Impact, "\n"), `resumes the disable an earlier run left at stage "leaving" (3 rooms left so far)`) {
		t.Errorf("the second plan does not say it resumes:\n%s", strings.Join(p2.Impact, "\n"))
	}
	if strings.Contains(stepTitles(p2), "suspend "+a.UserID) {
		t.Errorf("the second plan suspends again:\n%s", stepTitles(p2))
	}
	res, err := f.svc.Apply(ctx, p2, approve(t, p2), nil)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if res.RoomsLeft != 5 {
		t.Errorf("second run left %d rooms, want the 5 remaining", res.RoomsLeft)
	}
	st = readState(t, a.UserID)
	if len(st.Rooms) != 0 || len(st.Devices) != 0 || !st.User.Locked || st.User.Suspended {
		t.Errorf("after the second run: %s; want no room, no device, locked, the disable's suspension lifted", st)
	}
	e, _ = f.svc.Journal.Get(a.UserID)
	if e.Stage != users.StageDone || len(e.Left) != len(rooms) {
		t.Errorf("journal: %+v, want done with all %d rooms", e, len(rooms))
	}
	if _, err := login(t, a, synapsetest.Password(a.local)); !errors.Is(err, synapse.ErrUserLocked) {
		t.Errorf("login after the finished disable: got %v, want M_USER_LOCKED", err)
	}
	f.noSecret(t)
}

// TestDisableLockedAccountInRooms: an account locked by hand (or by a run
// that could not leave every room) still leaves them: it is logged out,
// unlocked while it leaves, and locked again.
func TestDisableLockedAccountInRooms(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "dislock")
	joinRooms(t, a, 2)
	c := bed.Synapse.Client()
	if err := c.SetLocked(ctx, a.UserID, true); err != nil {
		t.Fatal(err)
	}
	p, _ := f.plan(t, users.Request{Action: users.Disable, UserID: a.UserID})
	if !strings.Contains(stepTitles(p), "then unlock it for as long as leaving its rooms takes") {
		t.Errorf("plan does not say it unlocks the account while it leaves:\n%s", stepTitles(p))
	}
	if _, err := f.svc.Apply(ctx, p, approve(t, p), nil); err != nil {
		t.Fatal(err)
	}
	if st := readState(t, a.UserID); len(st.Rooms) != 0 || len(st.Devices) != 0 || !st.User.Locked || st.User.Suspended {
		t.Errorf("after disable: %s", st)
	}
}

// TestEnableAfterInterruptedDisable: an enable after a disable that stopped
// halfway lifts the suspension that disable set.
func TestEnableAfterInterruptedDisable(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	a := newAccount(t, "enint")
	if err := bed.Synapse.Client().SetSuspended(ctx, a.UserID, true); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Journal.Set(users.Entry{UserID: a.UserID, Stage: users.StageLeaving, WeSuspended: true}); err != nil {
		t.Fatal(err)
	}
	p, _ := f.plan(t, users.Request{Action: users.Enable, UserID: a.UserID})
	if !strings.Contains(stepTitles(p), "lift the suspension an unfinished disable left") {
		t.Errorf("enable plan:\n%s", stepTitles(p))
	}
	if _, err := f.svc.Apply(ctx, p, approve(t, p), nil); err != nil {
		t.Fatal(err)
	}
	if st := readState(t, a.UserID); st.User.Suspended || st.User.Locked {
		t.Errorf("after enable: %s", st)
	}
	data, err := os.ReadFile(f.journalPath)
	if err != nil || !strings.Contains(string(data), `"stage": "enabled"`) {
		t.Errorf("journal file: %s %v", data, err)
	}
}
