package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"synops/ops"
	"synops/ops/users"
	"synops/synapse"
)

func syntheticUsers(n int) []users.User {
	us := make([]users.User, n)
	for i := range us {
		us[i] = users.User{ListedUser: synapse.ListedUser{Name: fmt.Sprintf("@user%06d:sandbox.local", i),
			DisplayName: fmt.Sprintf("User %06d", n-i), CreationTS: fixedNow.Add(-time.Duration(i) * time.Hour).UnixMilli(),
			LastSeenTS: fixedNow.Add(-time.Duration(i%30) * time.Minute).UnixMilli()}}
	}
	us[0].Admin, us[0].Self = true, true
	us[1].Locked = true
	us[2].Deactivated, us[2].Erased = true, true
	us[3].DisplayName = "Mallory \x1b]0;pwned\x07\u202e"
	us[4].ShadowBanned = true
	return us
}

func usersRoot(t testing.TB, readOnly bool, n, w, h int) (*Model, *UsersPane) {
	c := testCommon(readOnly)
	up := NewUsersPane(c, nil) // data arrives as messages; no source is called
	m := New(c, NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second), up)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(press("2"))
	up.list.gen = 1
	m.Update(usersLoadedMsg{gen: 1, users: syntheticUsers(n), at: fixedNow})
	return m, up
}

func TestUsersGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		m, up := usersRoot(t, false, 50, size[0], size[1])
		got := screen(m)
		golden(t, filepath.Join("testdata", fmt.Sprintf("users_%dx%d.golden", size[0], size[1])), got)
		for i, l := range strings.Split(got, "\n") {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Errorf("%dx%d line %d is %d wide", size[0], size[1], i, w)
			}
		}
		checkRaw(t, "users pane", up.View())
		for _, want := range []string{"self", "locked", "erased", "shadow-banned", "Mallory"} {
			if !strings.Contains(got, want) {
				t.Errorf("%dx%d: the table lacks %q", size[0], size[1], want)
			}
		}
	}
}

// The account actions are keys, help and palette entries only when changes
// are allowed; in read-only mode none of them plans.
func TestUsersReadOnly(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m, _ := usersRoot(t, ro, 10, 120, 40)
		s := send(m)
		for _, k := range []string{"d", "e", "l", "u", "z", "Z", "p", "a", "A", "i", "R", "D", "E"} {
			if cmd := s(press(k)); (cmd != nil) == ro {
				t.Errorf("read-only=%v: %s produced a command = %v", ro, k, cmd != nil)
			}
			m.runner.ask = nil // the questions of i and E
		}
		s(press("?"))
		if got := screen(m); strings.Contains(got, "disable access") == ro || strings.Contains(got, "deactivate") == ro {
			t.Errorf("read-only=%v: help\n%s", ro, got)
		}
		s(press("esc"))
		s(press(":"))
		typeText(t, s, "users:")
		if got := screen(m); strings.Contains(got, "disable access of the selected account") == ro {
			t.Errorf("read-only=%v: palette\n%s", ro, got)
		}
	}
}

// A generated password reaches the screen once, in its own box, and is gone
// when the box closes: not in the toast, the job strip or the history.
func TestUsersRevealsSecretOnce(t *testing.T) {
	m, up := usersRoot(t, false, 10, 120, 40)
	up.src = &planOnlyUsers{req: new(users.Request)}
	s := send(m)
	secret := synapse.NewSecret("correct-horse-battery-staple-42")
	res := &users.Result{Summary: "new password set for @user000005:sandbox.local", Password: secret}
	done := JobDoneMsg{ID: 1, Owner: ownerUsers, Action: "reset-password", Target: "@user000005:sandbox.local",
		Result: JobResult{Summary: res.Summary, Value: res}}
	for _, msg := range runCmd(up.Update(done)) {
		if _, ok := msg.(RevealMsg); ok {
			s(msg)
		}
	}
	if m.reveal == nil || !strings.Contains(screen(m), secret.Reveal()) {
		t.Fatalf("the password is not shown:\n%s", screen(m))
	}
	if n := strings.Count(screen(m), secret.Reveal()); n != 1 {
		t.Errorf("the password is on screen %d times", n)
	}
	s(press("esc"))
	if m.reveal != nil || strings.Contains(screen(m), secret.Reveal()) {
		t.Errorf("the password stayed after esc:\n%s", screen(m))
	}
	s(press("J"))
	if strings.Contains(screen(m), secret.Reveal()) {
		t.Errorf("the job history shows the password:\n%s", screen(m))
	}
}

// Erase asks whether to redact, refuses an answer that is neither, and its
// dialog wants the user ID and the waiver when no backup covers it.
func TestUsersErasePlansWithRedactAnswer(t *testing.T) {
	m, up := usersRoot(t, false, 10, 120, 40)
	var got users.Request
	src := &planOnlyUsers{req: &got}
	up.src = src
	up.actions = NewActions(up.c, up.userActions(src)...)
	s := send(m)
	s(press("j"))
	drain(m, s(press("E")))
	if m.runner.ask == nil {
		t.Fatal("E did not ask whether to redact")
	}
	typeText(t, s, "maybe")
	drain(m, s(press("enter")))
	if m.runner.ask == nil || !strings.Contains(screen(m), "answer yes or no") {
		t.Fatalf("a bad answer closed the question:\n%s", screen(m))
	}
	for range "maybe" {
		s(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	typeText(t, s, "yes")
	drain(m, s(press("enter")))
	if got.Action != users.Erase || !got.Redact || got.UserID != shownUser(up, 1) {
		t.Errorf("planned %+v, want erase with redaction of %s", got, shownUser(up, 1))
	}
	if m.confirm == nil || !strings.Contains(screen(m), "without backup") {
		t.Errorf("the erase dialog does not ask for the waiver:\n%s", screen(m))
	}
}

func (p *planOnlyUsers) List(context.Context, users.Filter) ([]users.User, error) {
	return syntheticUsers(10), nil
}

func (p *planOnlyUsers) Interrupted() []users.Entry { return nil }

func shownUser(up *UsersPane, i int) string { return up.table.rows[up.table.view[i]].Name }

// planOnlyUsers plans like ops/users (an irreversible, data-losing plan
// naming the account) and records the request; it is never applied here.
type planOnlyUsers struct {
	UsersSource
	req *users.Request
}

func (p *planOnlyUsers) Plan(_ context.Context, req users.Request) (*ops.Plan, *users.Detail, error) {
	*p.req = req
	pl := ops.NewPlan(string(req.Action), req.UserID, "sandbox.local", "development", fixedNow)
	pl.Steps = []ops.Step{{Title: "deactivate and erase", Risk: ops.Irreversible}}
	pl.LosesData = true
	return pl, nil, nil
}

// BenchmarkUsersKeypress100k is one cursor move and a redraw with 100k accounts.
func BenchmarkUsersKeypress100k(b *testing.B) {
	m, _ := usersRoot(b, false, 100000, 160, 48)
	benchUpDown(b, m)
}

// BenchmarkUsersFilter100k is one filter keystroke over 100k accounts.
func BenchmarkUsersFilter100k(b *testing.B) {
	m, _ := usersRoot(b, false, 100000, 160, 48)
	s := send(m)
	s(press("/"))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			s(press("7"))
		} else {
			s(tea.KeyPressMsg{Code: tea.KeyBackspace})
		}
		_ = m.View()
	}
}
