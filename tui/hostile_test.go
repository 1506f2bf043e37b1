package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/diagnose"
	"synops/ops/health"
	"synops/ops/logs"
	"synops/ops/rooms"
	"synops/ops/text"
	"synops/synapse"
)

// hostile is text anyone with a room can put into its state: OSC title,
// hyperlink and clipboard writes, DCS and APC strings, a clear screen, an
// 8-bit CSI, a bidi override, zero-width characters, tabs and newlines.
const hostile = "A\x1b]0;PWNED\x07B\x1b]8;;https://evil.example\x1b\\C\x1b]52;c;cHduZWQ=\x07D\x1bP$qm\x1b\\E" +
	"\x1b_apc\x1b\\F\x1b[2JG\u009b2JH\u202eI\u200bJ\u2066K\tL\nM"

// checkRaw fails when s carries anything but text and SGR colour sequences:
// another escape, a C0 or C1 control, a bidi control or a zero-width space.
func checkRaw(t *testing.T, where, s string) {
	t.Helper()
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := i + 1
			if j < len(s) && s[j] == '[' {
				j++
				for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == ':') {
					j++
				}
				if j < len(s) && s[j] == 'm' {
					i = j + 1
					continue
				}
			}
			t.Errorf("%s: an escape other than SGR at %d: %q", where, i, s[i:min(i+12, len(s))])
			return
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			t.Errorf("%s: control character %U at %d", where, r, i)
			return
		case text.IsInvisible(r):
			t.Errorf("%s: invisible or bidi character %U at %d", where, r, i)
			return
		}
		i += n
	}
}

func hostileRooms() []synapse.Room {
	rs := syntheticRooms(20)
	rs[0].Name = hostile
	rs[1].CanonicalAlias = "#" + hostile + ":sandbox.local"
	rs[2].Name = strings.Repeat("長い名前", 2500) // 10k characters
	return rs
}

// Every part of the console that shows server text shows it cleaned, checked
// on what the pane or the chrome drew (before the frame's own cleaning, so a
// pane that forgets fails here) and on the frame the terminal gets.
func TestHostileTextEverywhere(t *testing.T) {
	m, rp := roomsRoot(t, false, 10, 120, 40)
	s := send(m)
	rp.list.gen = 2
	s(roomsLoadedMsg{gen: 2, rooms: hostileRooms(), at: fixedNow})
	check := func(where string) {
		t.Helper()
		checkRaw(t, where+" (pane)", m.panes[m.active].View())
		checkRaw(t, where+" (frame)", m.frame())
		checkRaw(t, where+" (screen)", m.View().Content)
	}
	if got := screen(m); !strings.Contains(got, "ABCDEFGH2JHIJK L M") && !strings.Contains(got, "ABCDEFG") {
		t.Errorf("the hostile room's cleaned name is not shown:\n%s", got)
	}
	check("rooms table")

	// The detail: name, topic, join rule, history visibility, members.
	s(press("g"))
	s(press("enter"))
	id := rp.target()
	d := &synapse.RoomDetails{Room: synapse.Room{RoomID: id, Name: hostile, JoinRules: "public" + hostile,
		HistoryVisibility: "shared" + hostile}, Topic: hostile}
	s(roomDetail(id, &rooms.Impact{Room: d, SizeBytes: -1, LocalMembers: []string{"@x:hs (" + hostile + ")"},
		Retention: []byte(`{"max_lifetime":"` + hostile + `"}`), ServerPolicy: hostile, StateTypes: map[string]int{hostile: 1}}))
	check("room detail")

	// The confirm dialog of a plan whose impact quotes the server.
	p := ops.NewPlan("rooms.delete", id, "sandbox.local", "development", fixedNow)
	p.Steps = []ops.Step{{Title: "purge " + hostile, Risk: ops.Irreversible}}
	p.Impact = []string{hostile, "members: " + hostile}
	p.LosesData = true
	drain(m, s(planned(rp, "delete", p, false, "no verified backup "+hostile)))
	if m.confirm == nil {
		t.Fatal("no confirm dialog")
	}
	check("confirm dialog")
	s(press("esc"))
	drain(m, nil)

	// The job strip, the history and the toast of a job that failed with a
	// server's error body.
	drain(m, m.c.Jobs.Run(JobSpec{Title: "Delete room " + hostile, Owner: "elsewhere",
		Fn: func(_ context.Context, progress func(ops.Progress)) (JobResult, error) {
			return JobResult{}, errors.New("synapse said: " + hostile)
		}}))
	check("job strip and toast")
	s(press("J"))
	check("job history")
	s(press("esc"))
}

// A pane that draws raw server text still cannot reach the terminal with it:
// the frame is cleaned as a whole.
func TestFrameIsCleanedWhateverAPaneDraws(t *testing.T) {
	c := testCommon(false)
	m := New(c, &rawPane{*newTestPane(c)})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	checkRaw(t, "screen", m.View().Content)
	if !strings.Contains(screen(m), "ABCDEFG") {
		t.Errorf("the text itself is gone:\n%s", screen(m))
	}
	if title := m.View().WindowTitle; strings.ContainsAny(title, "\x1b\x07") {
		t.Errorf("window title %q", title)
	}
}

// rawPane forgets to clean what it draws.
type rawPane struct{ testPane }

func (*rawPane) Title() string { return "Raw" }
func (*rawPane) View() string  { return "raw: " + hostile }

// The log view shows the lines it gets cleaned, even from a follower that
// did not clean them, and filters them.
func TestLogViewShowsLinesCleaned(t *testing.T) {
	f := &linesFollower{lines: []logs.Line{{Text: "INFO first line", Level: "INFO"}, {Text: "ERROR " + hostile, Level: "ERROR"}, {Text: "INFO third", Level: "INFO"}}}
	c := testCommon(false)
	hp := NewHealthPane(c, HealthDeps{Source: noSource{}, Logs: func(context.Context) (LogFollower, string, error) {
		return f, "journalctl -u matrix-synapse " + hostile, nil
	}}, 2*time.Second)
	m := New(c, hp)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	s := send(m)
	drain(m, s(press("l")))
	got := screen(m)
	for _, want := range []string{"first line", "ERROR ABCDEFG", "third", "3 lines"} {
		if !strings.Contains(got, want) {
			t.Errorf("log view lacks %q:\n%s", want, got)
		}
	}
	checkRaw(t, "log view (pane)", hp.View())
	s(press("/"))
	typeText(t, s, "third")
	if got := screen(m); strings.Contains(got, "first line") || !strings.Contains(got, "1 of 3 lines") {
		t.Errorf("filter: \n%s", got)
	}
}

// linesFollower hands out its lines once, then waits.
type linesFollower struct {
	lines []logs.Line
	given bool
}

func (f *linesFollower) Next(ctx context.Context, _ int) ([]logs.Line, error) {
	if !f.given {
		f.given = true
		return f.lines, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *linesFollower) Close() error { return nil }

// The diagnosis runs a symptom's checks as a job and shows its verdict and
// evidence, cleaned.
func TestDiagnoseViewShowsVerdict(t *testing.T) {
	c := testCommon(false)
	hp := NewHealthPane(c, HealthDeps{Source: noSource{}, Diagnose: verdicts{}}, 2*time.Second)
	m := New(c, hp)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	s := send(m)
	s(press("d"))
	drain(m, s(press("enter")))
	got := screen(m)
	for _, want := range []string{"registration is closed", "enable_registration: false", "→ set enable_registration", "✘"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, got)
		}
	}
	checkRaw(t, "diagnose view (pane)", hp.View())
	if jobs := c.Jobs.All(); len(jobs) != 1 || jobs[0].State != JobDone {
		t.Errorf("jobs %+v, want one done", jobs)
	}
}

type verdicts struct{}

func (verdicts) Symptoms() []diagnose.Symptom {
	return []diagnose.Symptom{{ID: "cannot-join", Title: "Users cannot join rooms"}}
}

func (v verdicts) ForRoom(string) Diagnoser { return v }

func (verdicts) Run(_ context.Context, id string) (diagnose.Verdict, error) {
	return diagnose.Verdict{Status: health.Crit, Summary: "registration is closed " + hostile, Findings: []diagnose.Finding{
		{Check: "registration", Status: health.Crit, Evidence: "enable_registration: false " + hostile, Hint: "set enable_registration " + hostile},
	}}, nil
}

// Sorting by age puts the youngest first (S the oldest); by size the
// smallest first (S the largest).
func TestRoomsSortByAgeAndSize(t *testing.T) {
	m, rp := roomsRoot(t, false, 6, 120, 30)
	s := send(m)
	ages, sizes := map[string]time.Time{}, map[string]int64{}
	for i := 0; i < 6; i++ {
		id := fmt.Sprintf("!room%06d:sandbox.local", i)
		ages[id] = fixedNow.Add(-time.Duration([]int{5, 1, 9, 3, 7, 2}[i]) * 24 * time.Hour)
		sizes[id] = []int64{300, 100, 600, 200, 500, 400}[i] << 20
	}
	s(roomExtrasMsg{gen: rp.list.gen, ages: ages, sizes: sizes})
	order := func() string {
		var ids []string
		for i := 0; i < rp.table.Shown(); i++ {
			ids = append(ids, strings.TrimPrefix(strings.TrimSuffix(shownRoom(rp, i).RoomID, ":sandbox.local"), "!room0000"))
		}
		return strings.Join(ids, " ")
	}
	for rp.table.cols[rp.table.sortCol].Title != "Age" {
		s(press("s"))
	}
	if got := order(); got != "01 05 03 00 04 02" {
		t.Errorf("by age: %s, want youngest first", got)
	}
	if !strings.Contains(screen(m), "sorted by age ↑") {
		t.Errorf("header does not say the sort:\n%s", screen(m))
	}
	s(press("S"))
	if got := order(); got != "02 04 00 03 05 01" {
		t.Errorf("by age reversed: %s, want oldest first", got)
	}
	s(press("S"))
	for rp.table.cols[rp.table.sortCol].Title != "Size" {
		s(press("s"))
	}
	if got := order(); got != "01 03 00 05 04 02" {
		t.Errorf("by size: %s, want smallest first", got)
	}
	s(press("S"))
	if got := order(); got != "02 04 05 00 03 01" {
		t.Errorf("by size reversed: %s, want largest first", got)
	}
	if top := screen(m); !strings.Contains(top, "600 MiB") {
		t.Errorf("sizes not shown:\n%s", top)
	}
}

// b and P reach their plans: block asks nothing first; purge history asks
// for a date, refuses a bad one, then plans with the date given. A fresh
// backup shows in the dialog and the bare room ID approves.
func TestRoomsBlockAndPurgeHistoryKeys(t *testing.T) {
	m, rp := roomsRoot(t, false, 10, 120, 40)
	src := &recordingRooms{}
	rp.src = src
	rp.actions = NewActions(rp.c, rp.roomActions(src)...)
	m.c.Approvals = &ops.Guard{Backups: stubBackups{at: fixedNow.Add(-time.Hour)}, FreshWithin: 24 * time.Hour, Now: m.c.Now}
	s := send(m)
	id := shownRoom(rp, 0).RoomID
	drain(m, s(press("b")))
	if m.confirm == nil || !strings.Contains(screen(m), "Block room") {
		t.Fatalf("b did not open the block dialog:\n%s", screen(m))
	}
	typeText(t, s, id)
	drain(m, s(press("enter")))
	if len(src.blocked) != 1 || src.blocked[0] != id {
		t.Errorf("blocked %v, want [%s]", src.blocked, id)
	}

	drain(m, s(press("P")))
	if m.runner.ask == nil || !strings.Contains(screen(m), "purge history of "+id) {
		t.Fatalf("P did not ask for the date:\n%s", screen(m))
	}
	typeText(t, s, "yesterday")
	drain(m, s(press("enter")))
	if m.runner.ask == nil || !strings.Contains(screen(m), "yesterday") {
		t.Fatalf("a bad date closed the question:\n%s", screen(m))
	}
	for range "yesterday" {
		s(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	typeText(t, s, "30d")
	drain(m, s(press("enter")))
	if m.confirm == nil {
		t.Fatalf("no purge dialog:\n%s", screen(m))
	}
	got := screen(m)
	for _, want := range []string{"Purge room history", "backup: verified backup synapse-20261123.dump"} {
		if !strings.Contains(got, want) {
			t.Errorf("dialog lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "without backup") {
		t.Errorf("a fresh backup exists, yet the dialog asks for the waiver:\n%s", got)
	}
	typeText(t, s, id)
	drain(m, s(press("enter")))
	want := fixedNow.Add(-30 * 24 * time.Hour)
	if len(src.purged) != 1 || src.purged[0].RoomID != id || !src.purged[0].Before.Equal(want) {
		t.Errorf("purged %+v, want %s before %s", src.purged, id, want)
	}
	if len(src.approvals) != 2 || src.approvals[0].WithoutBackup || src.approvals[1].WithoutBackup {
		t.Errorf("approvals %+v: with a fresh backup none may waive it", src.approvals)
	}
}

// recordingRooms is the ops side of the Rooms pane for key tests: it plans
// like ops/rooms (a plan naming the room) and records what it is asked to
// apply. The pane's real calls into Synapse are tested end to end in
// cmd/synops.
type recordingRooms struct {
	RoomsSource
	blocked   []string
	purged    []rooms.PurgeHistoryRequest
	approvals []ops.Approval
	req       rooms.PurgeHistoryRequest
}

func (r *recordingRooms) List(context.Context) ([]synapse.Room, error) {
	return syntheticRooms(10), nil
}
func (r *recordingRooms) Interrupted() []rooms.Entry             { return nil }
func (r *recordingRooms) Sizes(context.Context) map[string]int64 { return nil }
func (r *recordingRooms) CanReadAges() bool                      { return false }
func (r *recordingRooms) CreatedTimes(context.Context, []string) (map[string]time.Time, error) {
	return nil, nil
}

func (r *recordingRooms) PlanBlock(_ context.Context, id string, block bool) (*ops.Plan, error) {
	p := ops.NewPlan("rooms.block", id, "sandbox.local", "development", fixedNow)
	p.Steps = []ops.Step{{Title: "block", Risk: ops.Reversible}}
	return p, nil
}

func (r *recordingRooms) ApplyBlock(_ context.Context, p *ops.Plan, a ops.Approval) error {
	r.blocked, r.approvals = append(r.blocked, p.Target), append(r.approvals, a)
	return nil
}

func (r *recordingRooms) PlanPurgeHistory(_ context.Context, req rooms.PurgeHistoryRequest) (*ops.Plan, error) {
	r.req = req
	p := ops.NewPlan("rooms.purge_history", req.RoomID, "sandbox.local", "development", fixedNow)
	p.Steps = []ops.Step{{Title: "purge events before " + req.Before.String(), Risk: ops.Destructive}}
	p.LosesData = true
	return p, nil
}

func (r *recordingRooms) ApplyPurgeHistory(_ context.Context, p *ops.Plan, a ops.Approval, _ func(ops.Progress)) error {
	r.purged, r.approvals = append(r.purged, r.req), append(r.approvals, a)
	return nil
}
