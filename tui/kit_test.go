package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"synops/ops"
	"synops/ops/logs"
	"synops/ops/rooms"
	"synops/synapse"
)

// The action list is the only source of a pane's keys, help and palette: a
// mutating action is absent from all three in read-only mode, and its key
// does nothing there.
func TestActionsDriveKeysHelpAndPalette(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m, _ := newRoot(t, ro, 100, 30)
		s := send(m)
		s(press("2"))
		if footer := screen(m); !strings.Contains(footer, "i inspect thing") || strings.Contains(footer, "D delete thing") == ro {
			t.Errorf("read-only=%v: footer\n%s", ro, footer)
		}
		s(press("?"))
		if full := screen(m); !strings.Contains(full, "inspect thing") || strings.Contains(full, "delete thing") == ro {
			t.Errorf("read-only=%v: full help\n%s", ro, full)
		}
		s(press("esc"))
		s(press(":"))
		pal := screen(m)
		if !strings.Contains(pal, "things: inspect") || strings.Contains(pal, "things: delete") == ro {
			t.Errorf("read-only=%v: palette\n%s", ro, pal)
		}
		s(press("esc"))
		drain(m, s(press("D")))
		if (m.confirm != nil) == ro {
			t.Errorf("read-only=%v: D opened the confirm dialog = %v", ro, m.confirm != nil)
		}
		// The palette cannot reach a hidden action either.
		if got := m.panes[1].Update(ActionMsg{Action: "delete"}); ro && got != nil {
			t.Error("read-only: the delete action ran from an ActionMsg")
		}
	}
}

// stubBackups is the backup gate's view of a catalog: one verified backup at
// a given time, or none.
type stubBackups struct{ at time.Time }

func (b stubBackups) NewestVerified(context.Context) (time.Time, string, error) {
	return b.at, "synapse-20261123.dump", nil
}

// The runner takes a change from plan to job through the typed confirm: with
// a fresh backup the target approves; without one only the target followed by
// the waiver does, and the approval says so.
func TestRunnerWaiver(t *testing.T) {
	tests := []struct {
		name     string
		backupAt time.Time
		typed    []string // typed in turn; Enter after each
		opens    bool     // the dialog shows the waiver warning
		waived   bool
	}{
		{"fresh backup", fixedNow.Add(-time.Hour), []string{"!thing:sandbox.local"}, false, false},
		{"no backup", time.Time{}, []string{"!thing:sandbox.local", " without backup"}, true, true},
		{"stale backup", fixedNow.Add(-72 * time.Hour), []string{"!thing:sandbox.local", " without backup"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newRoot(t, false, 100, 40)
			m.c.Approvals = &ops.Guard{Backups: stubBackups{at: tt.backupAt}, FreshWithin: 24 * time.Hour, Now: m.c.Now}
			tp := m.panes[1].(*testPane)
			s := send(m)
			s(press("2"))
			drain(m, s(press("D")))
			if m.confirm == nil {
				t.Fatal("D did not open the confirm dialog")
			}
			got := screen(m)
			for _, want := range []string{"Delete thing", "the thing has 3 parts", "delete the thing", "irreversible"} {
				if !strings.Contains(got, want) {
					t.Errorf("dialog lacks %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "without backup") != tt.opens {
				t.Errorf("dialog asks for the waiver = %v, want %v:\n%s", !tt.opens, tt.opens, got)
			}
			for i, part := range tt.typed {
				typeText(t, s, part)
				drain(m, s(press("enter")))
				if last := i == len(tt.typed)-1; (m.confirm == nil) != last {
					t.Fatalf("after typing %q the dialog is open = %v", strings.Join(tt.typed[:i+1], ""), m.confirm != nil)
				}
			}
			drain(m, nil)
			if len(tp.applied) != 1 {
				t.Fatalf("applied %d times, want once", len(tp.applied))
			}
			if a := tp.applied[0]; a.WithoutBackup != tt.waived || a.Typed != "!thing:sandbox.local" {
				t.Errorf("approval typed %q waived %v, want the target and waived %v", a.Typed, a.WithoutBackup, tt.waived)
			}
			if !strings.Contains(screen(m), "thing deleted") {
				t.Errorf("no summary after the job:\n%s", screen(m))
			}
		})
	}
}

// A failed job stays on the strip with its error until dismissed, and the
// history keeps it with the error in full; a running job can be cancelled.
func TestJobsKeepFailuresAndCancel(t *testing.T) {
	m, _ := newRoot(t, false, 100, 30)
	now := fixedNow
	m.c.Now = func() time.Time { return now }
	m.c.Jobs.now = m.c.Now
	s := send(m)
	long := "restore failed: " + strings.Repeat("pg_restore: error: could not execute query ", 6) + "THE END"
	drain(m, m.c.Jobs.Run(JobSpec{Title: "Restore backup b1", Owner: "Things",
		Fn: func(context.Context, func(ops.Progress)) (JobResult, error) { return JobResult{}, errors.New(long) }}))
	now = now.Add(time.Hour)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	if strip := screen(m); !strings.Contains(strip, "✘ Restore backup b1") {
		t.Fatalf("an hour later the failed job is not on the strip:\n%s", strip)
	}
	s(press("J"))
	hist := screen(m)
	if !strings.Contains(hist, "Restore backup b1") || !strings.Contains(strings.Join(strings.Fields(hist), " "), "THE END") {
		t.Errorf("history lacks the job or the end of its error:\n%s", hist)
	}
	s(press("x")) // dismiss
	s(press("esc"))
	if strings.Contains(screen(m), "✘ Restore backup b1") {
		t.Errorf("the dismissed job is still on the strip:\n%s", screen(m))
	}
	if len(m.c.Jobs.All()) != 1 {
		t.Errorf("history has %d jobs, want 1", len(m.c.Jobs.All()))
	}

	started := make(chan struct{})
	cmd := m.c.Jobs.Run(JobSpec{Title: "Dump database", Owner: "Things",
		Fn: func(ctx context.Context, _ func(ops.Progress)) (JobResult, error) {
			close(started)
			<-ctx.Done()
			return JobResult{}, ctx.Err()
		}})
	<-started
	s(press("J"))
	if !strings.Contains(screen(m), "⟳") {
		t.Fatalf("the running job is not in the history:\n%s", screen(m))
	}
	s(press("x")) // the newest job is selected: cancel it
	drain(m, cmd)
	var x *Job
	for _, j := range m.c.Jobs.All() {
		if j.Title == "Dump database" {
			x = j
		}
	}
	if x == nil || x.State != JobFailed || x.Detail != "cancelled" {
		t.Errorf("cancelled job: %+v", x)
	}
}

// thing is a row of the table tests.
type thing struct {
	id, name string
	size     int
}

func thingTable(c *Common, rows []thing) *Table[thing] {
	cols := []Column[thing]{
		{Title: "Name", Cell: func(r *thing) string { return r.name }, SortText: func(r *thing) string { return strings.ToLower(r.name) }},
		{Title: "ID", Min: 8, Max: 20, Cell: func(r *thing) string { return r.id }, SortText: func(r *thing) string { return r.id }},
		{Title: "Size", Width: 6, Cell: func(r *thing) string { return fmt.Sprint(r.size) }, Less: func(a, b *thing) bool { return a.size < b.size }},
		{Title: "Note", Width: 4, Cell: func(*thing) string { return "·" }},
	}
	t := NewTable(c, cols, 0, func(r *thing) string { return r.id }, func(r *thing) string { return strings.ToLower(r.name + "\x00" + r.id) })
	t.SetSize(80, 10)
	t.SetRows(rows)
	return t
}

func sampleThings() []thing {
	return []thing{
		{"!a:hs", "Alpha", 30}, {"!b:hs", "会议室 planning", 10}, {"!c:hs", "🎉 party room", 20},
		{"!d:hs", "beta", 50}, {"!e:hs", "Ｆｕｌｌ width", 40}, {"!f:hs", "evil \x1b]0;x\x07\u202e name", 5},
	}
}

func rowIDs(t *Table[thing]) []string {
	var out []string
	for _, i := range t.view {
		out = append(out, t.rows[i].id)
	}
	return out
}

func TestTableSortFilterSelection(t *testing.T) {
	c := testCommon(false)
	tb := thingTable(c, sampleThings())
	key := func(k string) { tb.Key(press(k)) }
	if got := strings.Join(rowIDs(tb), " "); got != "!a:hs !d:hs !f:hs !b:hs !e:hs !c:hs" {
		t.Errorf("by name: %s", got)
	}
	key("s") // ID
	key("s") // size (Note is not sortable)
	if got := strings.Join(rowIDs(tb), " "); got != "!f:hs !b:hs !c:hs !a:hs !e:hs !d:hs" {
		t.Errorf("by size ascending: %s", got)
	}
	key("S")
	if got := strings.Join(rowIDs(tb), " "); got != "!d:hs !e:hs !a:hs !c:hs !b:hs !f:hs" {
		t.Errorf("by size descending: %s", got)
	}
	if key("s"); tb.cols[tb.sortCol].Title != "Name" {
		t.Errorf("s after the last sortable column: %s, want Name again", tb.cols[tb.sortCol].Title)
	}
	key("S") // ascending again
	key("j")
	key("j") // third by name: !f
	if r := tb.Selected(); r == nil || r.id != "!f:hs" {
		t.Fatalf("selected %v, want !f:hs", r)
	}
	// A reload with other rows and order keeps the same row selected.
	rows := append([]thing{{"!z:hs", "aardvark", 1}}, sampleThings()...)
	rows[3], rows[6] = rows[6], rows[3]
	tb.SetRows(rows)
	if r := tb.Selected(); r == nil || r.id != "!f:hs" {
		t.Errorf("after a reload selected %v, want !f:hs", r)
	}
	// So does a re-sort.
	key("s")
	key("s")
	if r := tb.Selected(); r == nil || r.id != "!f:hs" {
		t.Errorf("after a re-sort selected %v, want !f:hs", r)
	}
	// The filter narrows, keeps the selection while it is shown, Esc clears.
	key("/")
	for _, r := range "room" {
		key(string(r))
	}
	if got := strings.Join(rowIDs(tb), " "); got != "!c:hs" {
		t.Errorf("filter room: %s", got)
	}
	key("enter")
	key("esc")
	if tb.Shown() != 7 {
		t.Errorf("esc: %d rows shown, want 7", tb.Shown())
	}
}

// Columns line up by display width: a CJK or emoji name takes two cells a
// character, and the next column starts at the same cell on every row.
func TestTableGoldenWide(t *testing.T) {
	c := testCommon(false)
	tb := thingTable(c, sampleThings())
	view := strings.Join(tb.View(), "\n")
	golden(t, filepath.Join("testdata", "table_wide_80.golden"), ansi.Strip(view))
	var idAt []int
	for _, l := range strings.Split(ansi.Strip(view), "\n")[1:] {
		i := strings.Index(l, "!")
		if i < 0 {
			t.Fatalf("row without an ID: %q", l)
		}
		idAt = append(idAt, ansi.StringWidth(l[:i]))
		if w := ansi.StringWidth(l); w > 80 {
			t.Errorf("row is %d wide: %q", w, l)
		}
	}
	for _, at := range idAt {
		if at != idAt[0] {
			t.Errorf("the ID column starts at cells %v, want one column", idAt)
			break
		}
	}
	for _, bad := range []string{"\x1b]0;x", "\x07", "\u202e"} {
		if strings.Contains(view, bad) {
			t.Errorf("a cell carries %q", bad)
		}
	}
}

// A detail view scrolls within its content: after running far past the end,
// one step up moves the view at once.
func TestDetailScrollsWithinBounds(t *testing.T) {
	m, rp := roomsRoot(t, false, 10, 80, 24)
	s := send(m)
	s(press("enter"))
	if rp.target() == "" || !rp.sub.Showing() {
		t.Fatal("enter did not open the detail")
	}
	im := &rooms.Impact{Room: &synapse.RoomDetails{Room: synapse.Room{RoomID: rp.target(), Name: "big room"}}, SizeBytes: -1}
	for i := 0; i < 60; i++ {
		im.LocalMembers = append(im.LocalMembers, fmt.Sprintf("@member%02d:sandbox.local", i))
	}
	s(roomDetail(rp.target(), im))
	for i := 0; i < 500; i++ {
		s(press("j"))
	}
	bottom := screen(m)
	if !strings.Contains(bottom, "@member59") {
		t.Fatalf("the end of the members is not shown after scrolling down:\n%s", bottom)
	}
	s(press("k"))
	if screen(m) == bottom {
		t.Error("one step up after scrolling past the end did not move the view")
	}
	s(press("g"))
	if !strings.Contains(screen(m), "topic:") {
		t.Errorf("g did not go back to the top:\n%s", screen(m))
	}
	s(press("esc"))
	if rp.sub.Showing() {
		t.Error("esc did not close the detail")
	}
}

// blockingFollower's Close waits until released, like a follower whose
// child process takes its time to exit.
type blockingFollower struct{ release, closed chan struct{} }

func (f *blockingFollower) Next(ctx context.Context, _ int) ([]logs.Line, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *blockingFollower) Close() error {
	<-f.release
	close(f.closed)
	return nil
}

// Closing the log view hands the follower's Close to a command: Update
// returns at once even when closing takes long.
func TestLogViewCloseDoesNotBlockUpdate(t *testing.T) {
	f := &blockingFollower{release: make(chan struct{}), closed: make(chan struct{})}
	c := testCommon(false)
	hp := NewHealthPane(c, HealthDeps{Source: noSource{}, Logs: func(context.Context) (LogFollower, string, error) {
		return f, "homeserver.log", nil
	}}, 2*time.Second)
	m := New(c, hp)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	s := send(m)
	drain(m, s(press("l")))
	if !hp.sub.Showing() {
		t.Fatal("l did not open the log view")
	}
	done := make(chan tea.Cmd)
	go func() { done <- s(press("esc")) }()
	var cmd tea.Cmd
	select {
	case cmd = <-done:
	case <-time.After(5 * time.Second):
		close(f.release)
		t.Fatal("Update blocked on closing the log view")
	}
	if hp.sub.Showing() {
		t.Error("esc did not close the log view")
	}
	close(f.release)
	for _, msg := range runCmd(cmd) {
		_ = msg
	}
	select {
	case <-f.closed:
	case <-time.After(5 * time.Second):
		t.Error("the follower was never closed")
	}
}
