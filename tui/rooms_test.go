package tui

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"synops/ops"
	"synops/ops/rooms"
	"synops/synapse"
)

func syntheticRooms(n int) []synapse.Room {
	rs := make([]synapse.Room, n)
	for i := range rs {
		rs[i] = synapse.Room{RoomID: fmt.Sprintf("!room%06d:sandbox.local", i), Name: fmt.Sprintf("Room %06d", n-i),
			JoinedMembers: i % 50, JoinedLocalMembers: i % 7, StateEvents: 7 + i%13}
	}
	rs[3].Name = "Evil \x1b[2J\x1b]0;pwned\x07 room"
	rs[4].CanonicalAlias = "#general:sandbox.local"
	rs[5].Encryption = "m.megolm.v1.aes-sha2"
	return rs
}

func roomsRoot(t testing.TB, readOnly bool, n, w, h int) (*Model, *RoomsPane) {
	c := testCommon(readOnly)
	rp := NewRoomsPane(c, nil) // data arrives as messages; no source is called
	m := New(c, NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second), rp)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(press("2"))
	rp.list.gen = 1
	m.Update(roomsLoadedMsg{gen: 1, rooms: syntheticRooms(n), at: fixedNow})
	m.Update(roomExtrasMsg{gen: 1, ages: map[string]time.Time{"!room000001:sandbox.local": fixedNow.Add(-40 * 24 * time.Hour)},
		sizes: map[string]int64{"!room000002:sandbox.local": 3 << 20}})
	return m, rp
}

// planned is the runner's message for a plan of the pane's action: what the
// ops layer and the backup gate would have answered.
func planned(rp *RoomsPane, action string, p *ops.Plan, backupOK bool, note string) planReadyMsg {
	return planReadyMsg{owner: ownerRooms, action: action, change: rp.actions.Find(action).Change,
		req: ops.Request{Plan: p, BackupOK: backupOK, BackupNote: note}}
}

// shownRoom is the i-th room the table shows.
func shownRoom(rp *RoomsPane, i int) synapse.Room { return rp.table.rows[rp.table.view[i]] }

func TestRoomsFilterSortAndClean(t *testing.T) {
	m, rp := roomsRoot(t, false, 1000, 100, 30)
	s := send(m)
	if rp.table.Shown() != 1000 {
		t.Fatalf("got %d rows, want 1000", rp.table.Shown())
	}
	// Sorted by name ascending: "Room 000001" (the last index) first.
	if got := shownRoom(rp, 0).Name; got != "Evil \x1b[2J\x1b]0;pwned\x07 room" && !strings.HasPrefix(got, "Room 000001") {
		t.Errorf("first row %q", got)
	}
	s(press("s")) // by room label
	s(press("s")) // by members
	if got := rp.table.cols[rp.table.sortCol].Title; got != "Local/All" {
		t.Fatalf("sort column %q, want members (Local/All)", got)
	}
	s(press("S"))
	if top := shownRoom(rp, 0); top.JoinedMembers != 49 {
		t.Errorf("members descending: top has %d members, want 49", top.JoinedMembers)
	}
	s(press("/"))
	typeText(t, s, "general")
	if rp.table.Shown() != 1 || shownRoom(rp, 0).CanonicalAlias != "#general:sandbox.local" {
		t.Errorf("filter: %d rows", rp.table.Shown())
	}
	s(press("esc"))
	// The hostile room on screen: its name is shown, cleaned.
	s(press("/"))
	typeText(t, s, "evil")
	s(press("enter"))
	if got := screen(m); rp.table.Shown() != 1 || !strings.Contains(got, "Evil  room") {
		t.Fatalf("the hostile room is not on screen:\n%s", got)
	}
	checkRaw(t, "rooms pane", rp.View())
	checkRaw(t, "screen", m.View().Content)
}

func TestRoomsReadOnly(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m, _ := roomsRoot(t, ro, 10, 100, 30)
		s := send(m)
		cmd := s(press("D"))
		if (cmd != nil) == ro {
			t.Errorf("read-only=%v: D produced a command = %v", ro, cmd != nil)
		}
		s(press("?"))
		if strings.Contains(screen(m), "delete room") == ro {
			t.Errorf("read-only=%v: help lists delete = %v", ro, !ro)
		}
	}
}

func TestRoomsPlanOpensTypedConfirm(t *testing.T) {
	m, rp := roomsRoot(t, false, 10, 100, 40)
	s := send(m)
	p := ops.NewPlan("rooms.delete", "!room000003:sandbox.local", "sandbox.local", "production", fixedNow)
	p.Steps = []ops.Step{{Title: "purge the room", Risk: ops.Irreversible}}
	p.Impact = []string{"2 joined members: 2 local, 0 remote"}
	p.LosesData = true
	for _, msg := range runCmd(s(planned(rp, "delete", p, false, "no verified backup exists"))) {
		s(msg)
	}
	if m.confirm == nil {
		t.Fatal("a plan did not open the confirm dialog")
	}
	got := screen(m)
	for _, want := range []string{"Delete room", "PRODUCTION", "2 joined members", "no verified backup exists", "without backup"} {
		if !strings.Contains(got, want) {
			t.Errorf("dialog lacks %q:\n%s", want, got)
		}
	}
	// The bare room ID is not enough when no backup covers the loss.
	typeText(t, s, "!room000003:sandbox.local")
	if msgs := runCmd(s(press("enter"))); len(msgs) != 0 || m.confirm == nil {
		t.Fatal("Enter with the room ID alone (no backup) confirmed")
	}
	s(press("esc"))
	if m.confirm != nil {
		t.Fatal("esc did not cancel")
	}
}

func TestRoomsGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		m, rp := roomsRoot(t, false, 100, size[0], size[1])
		got := screen(m)
		// The golden is compared without colours; the pane itself must not
		// have let an escape of a room name through (the hostile room is
		// the first row by name).
		if !strings.Contains(got, "Evil  room") {
			t.Errorf("%dx%d: the hostile room is not on screen", size[0], size[1])
		}
		checkRaw(t, "rooms pane", rp.View())
		golden(t, filepath.Join("testdata", fmt.Sprintf("rooms_%dx%d.golden", size[0], size[1])), got)
		for i, l := range strings.Split(got, "\n") {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Errorf("%dx%d line %d is %d wide", size[0], size[1], i, w)
			}
		}
	}
}

// BenchmarkRoomsKeypress100k is one cursor move and a redraw with 100k rooms.
func BenchmarkRoomsKeypress100k(b *testing.B) {
	m, _ := roomsRoot(b, false, 100000, 160, 48)
	benchUpDown(b, m)
}

// BenchmarkRoomsFilter100k is one filter keystroke over 100k rooms.
func BenchmarkRoomsFilter100k(b *testing.B) {
	m, _ := roomsRoot(b, false, 100000, 160, 48)
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

// At 80x24 a long plan is cut, but the input and the buttons always show.
func TestConfirmFits80x24(t *testing.T) {
	m, rp := roomsRoot(t, false, 10, 80, 24)
	s := send(m)
	p := ops.NewPlan("rooms.delete", "!CyuFkCjX2L3OI27H7RW7jI_jxb7rmLcZrRRhdIValAQ", "sandbox.local", "development", fixedNow)
	for i := 0; i < 12; i++ {
		p.Impact = append(p.Impact, fmt.Sprintf("impact line %d that is fairly long and would wrap on a narrow terminal if it were allowed to", i))
	}
	p.Steps = []ops.Step{{Title: "purge the room", Risk: ops.Irreversible}}
	p.LosesData = true
	for _, msg := range runCmd(s(planned(rp, "delete", p, false, "no verified backup exists"))) {
		s(msg)
	}
	got := screen(m)
	golden(t, filepath.Join("testdata", "confirm_80x24.golden"), got)
	for _, want := range []string{"Type the target to confirm", "Cancel", "no verified backup exists", "… and"} {
		if !strings.Contains(got, want) {
			t.Errorf("80x24 dialog lacks %q:\n%s", want, got)
		}
	}
}

// Interrupted deletions show in the header; F offers to finish them only
// when changes are allowed, and a plan with nothing to do only says so.
func TestRoomsInterruptedDeletions(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m, rp := roomsRoot(t, ro, 10, 140, 30)
		s := send(m)
		rp.list.gen = 2
		s(roomsLoadedMsg{gen: 2, rooms: syntheticRooms(10), interrupted: 2, at: fixedNow})
		got := screen(m)
		if !strings.Contains(got, "interrupted deletions: 2") {
			t.Errorf("read-only=%v: header lacks the interrupted deletions:\n%s", ro, got)
		}
		if strings.Contains(got, "F finishes them") == ro {
			t.Errorf("read-only=%v: header offers F = %v", ro, !ro)
		}
		if cmd := s(press("F")); (cmd != nil) == ro {
			t.Errorf("read-only=%v: F produced a command = %v", ro, cmd != nil)
		}
	}
	m, _ := roomsRoot(t, false, 10, 140, 30)
	s := send(m)
	none := fmt.Errorf("%w: no interrupted deletions to finish", ops.ErrNothingToDo)
	for _, msg := range runCmd(s(planReadyMsg{owner: ownerRooms, action: "finish", err: none})) {
		s(msg)
	}
	if m.confirm != nil {
		t.Error("an empty finish plan opened the confirm dialog")
	}
	if !strings.Contains(screen(m), "nothing to do: no interrupted deletions") {
		t.Errorf("no toast for the empty plan:\n%s", screen(m))
	}
}

func TestRoomsInterruptedHeaderFits80(t *testing.T) {
	m, rp := roomsRoot(t, false, 10, 80, 24)
	s := send(m)
	rp.list.gen = 2
	s(roomsLoadedMsg{gen: 2, rooms: syntheticRooms(10), interrupted: 12, at: fixedNow})
	got := screen(m)
	for i, l := range strings.Split(got, "\n") {
		if w := ansi.StringWidth(l); w > 80 {
			t.Errorf("line %d is %d wide: %q", i, w, l)
		}
	}
	if !strings.Contains(got, "interrupted deletions: 12 (F finishes them)") {
		t.Errorf("the interrupted deletions do not show at 80 columns:\n%s", got)
	}
}

// roomDetail is what the detail's load would answer for id.
func roomDetail(id string, im *rooms.Impact) detailMsg {
	return detailMsg{key: id, lines: func(s *Styles, now time.Time) []string { return roomLines(s, im, now) }}
}

// The actions in a room's diagnosis act on the diagnosed room, even when a
// reload took that room out of the table and the selection moved on.
func TestRoomsDiagnosisKeepsItsRoom(t *testing.T) {
	m, rp := roomsRoot(t, false, 10, 120, 40)
	rp.WithDiagnoser(verdicts{})
	s := send(m)
	s(press("down"))
	diagnosed := shownRoom(rp, 1).RoomID
	s(press("d"))
	if got := screen(m); !strings.Contains(got, "room "+diagnosed) {
		t.Fatalf("d did not open the diagnosis of %s:\n%s", diagnosed, got)
	}
	var left []synapse.Room
	for _, r := range syntheticRooms(10) {
		if r.RoomID != diagnosed {
			left = append(left, r)
		}
	}
	rp.list.gen = 2
	s(roomsLoadedMsg{gen: 2, rooms: left, at: fixedNow})
	if sel := rp.table.Selected(); sel == nil || sel.RoomID == diagnosed {
		t.Fatalf("selection %v: the reload was to move it off the diagnosed room", sel)
	}
	for _, msg := range runCmd(s(press("P"))) {
		s(msg)
	}
	if got := screen(m); !strings.Contains(got, "purge history of "+diagnosed) {
		t.Errorf("P in the diagnosis of %s asks about another room:\n%s", diagnosed, got)
	}
}
