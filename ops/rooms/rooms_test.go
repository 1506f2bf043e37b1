package rooms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/backup/backuptest"
	"synops/ops/rooms"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

func TestRoomDelete(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	member, err := bed.Synapse.Register(ctx, "del-"+randHex(3), false)
	if err != nil {
		t.Fatal(err)
	}
	p := prefix("del")
	ids := seed(t, p, 2, func(i int, s *synapsetest.RoomSpec) {
		if i == 0 {
			s.Members = []synapsetest.SeededUser{{UserID: member.UserID, Token: member.AccessToken}}
			s.Messages = 3
		}
	})
	room, other := ids[0], ids[1]
	slug := f.addRefs(t, room)
	f.addRefs(t, other)

	plan, im, err := f.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: room})
	if err != nil {
		t.Fatalf("PlanDelete: %v", err)
	}
	if got := len(im.LocalMembers); got != 2 {
		t.Errorf("got %d local members %v, want 2 (the creator and %s)", got, im.LocalMembers, member.UserID)
	}
	if got := fmt.Sprint(im.Refs); got != "[{events 1} {chatRooms 1}]" {
		t.Errorf("got refs %s, want one event and one chat room", got)
	}
	if plan.Target != room || plan.Kind != "rooms.delete" || !plan.LosesData || plan.Risk() != ops.Irreversible {
		t.Errorf("plan target %q kind %q loses data %v risk %s", plan.Target, plan.Kind, plan.LosesData, plan.Risk())
	}
	text := strings.Join(plan.Impact, "\n")
	for _, want := range []string{"2 joined members: 2 local, 0 remote", "application references: 1 events, 1 chatRooms"} {
		if !strings.Contains(text, want) {
			t.Errorf("impact lacks %q:\n%s", want, text)
		}
	}
	var steps []string
	for _, s := range plan.Steps {
		steps = append(steps, s.Title)
	}
	if s := strings.Join(steps, "\n"); !strings.Contains(s, "kick 2 local members") || !strings.Contains(s, "clear 2 application references") {
		t.Errorf("steps do not name the members and references:\n%s", s)
	}
	if !roomExists(t, room) {
		t.Fatal("planning deleted the room")
	}

	var stages []string
	res, err := f.svc.ApplyDelete(ctx, plan, approve(t, plan), func(p ops.Progress) { stages = append(stages, p.Stage) })
	if err != nil {
		t.Fatalf("ApplyDelete: %v", err)
	}
	if res.DeleteID == "" || res.RefsCleared != 2 {
		t.Errorf("got delete ID %q and %d references cleared, want an ID and 2", res.DeleteID, res.RefsCleared)
	}
	if res.Shutdown == nil || len(res.Shutdown.KickedUsers) != 2 {
		t.Errorf("shutdown result %+v, want 2 kicked users", res.Shutdown)
	}
	if len(stages) == 0 || stages[len(stages)-1] != "done" {
		t.Errorf("progress stages %v, want them to end with done", stages)
	}
	if _, err := bed.Synapse.Client().Room(ctx, room); !errors.Is(err, synapse.ErrNotFound) {
		t.Errorf("after the delete, Room(%s) = %v, want M_NOT_FOUND", room, err)
	}
	if ev, ch := f.refs(t, room); ev != 0 || ch != 0 {
		t.Errorf("deleted room still referenced: %d events, %d chatRooms", ev, ch)
	}
	var ref *string
	if err := f.app.QueryRow(ctx, `SELECT "matrixRoomId" FROM "events" WHERE "slug" = $1`, slug).Scan(&ref); err != nil || ref != nil {
		t.Errorf("the event %s should stay, with matrixRoomId NULL: got %v, %v", slug, ref, err)
	}
	if ev, ch := f.refs(t, other); ev != 1 || ch != 1 {
		t.Errorf("the other room's references changed: %d events, %d chatRooms, want 1 and 1", ev, ch)
	}
	if !roomExists(t, other) {
		t.Error("the other room is gone")
	}

	es := f.auditFor(t, plan.ID)
	if len(es) != 2 || es[0].Phase != "start" || es[1].Phase != "end" || es[1].Outcome != "ok" {
		t.Fatalf("audit entries %+v, want a start and an ok end", es)
	}
	for _, e := range es {
		if e.Action != "rooms.delete" || e.Target != room || e.Server != bed.Synapse.ServerName || e.Risk != "irreversible" {
			t.Errorf("audit entry %+v does not name the action, target, server and risk", e)
		}
	}
	f.noSecretInAudit(t)

	// The journal knows the room is done: a purge later does not resume it.
	if e, ok := f.svc.Journal.Get(room); !ok || e.Stage != rooms.StageDone || e.DeleteID != res.DeleteID {
		t.Errorf("journal entry %+v (%v), want done with delete ID %s", e, ok, res.DeleteID)
	}
}

func TestGuardRefusesRoomDelete(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	room := seed(t, prefix("guard"), 1, nil)[0]
	f.addRefs(t, room)

	plan := func() *ops.Plan {
		t.Helper()
		p, _, err := f.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: room})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// refused checks that apply was refused with want, logged as refused
	// and that nothing changed.
	refused := func(t *testing.T, p *ops.Plan, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
		es := f.auditFor(t, p.ID)
		if len(es) != 1 || es[0].Phase != "refused" || es[0].Error == "" {
			t.Errorf("audit entries %+v, want one refused line with the reason", es)
		}
		if !roomExists(t, room) {
			t.Fatal("a refused delete removed the room")
		}
		if ev, ch := f.refs(t, room); ev != 1 || ch != 1 {
			t.Errorf("a refused delete changed references: %d events, %d chatRooms", ev, ch)
		}
		if _, ok := f.svc.Journal.Get(room); ok {
			t.Error("a refused delete was journalled")
		}
	}

	t.Run("read-only", func(t *testing.T) {
		f.guard.ReadOnly = true
		defer func() { f.guard.ReadOnly = false }()
		p := plan()
		_, err := f.svc.ApplyDelete(ctx, p, approve(t, p), nil)
		refused(t, p, err, ops.ErrReadOnly)
	})
	t.Run("typed wrong", func(t *testing.T) {
		p := plan()
		for _, typed := range []string{"", "yes", room + " ", "!other:" + bed.Synapse.ServerName} {
			if _, err := ops.Approve(p, typed, time.Now()); !errors.Is(err, ops.ErrNotApproved) {
				t.Errorf("Approve(%q) = %v, want ErrNotApproved", typed, err)
			}
		}
		_, err := f.svc.ApplyDelete(ctx, p, ops.Approval{WithoutBackup: true}, nil)
		refused(t, p, err, ops.ErrNotApproved)
	})
	t.Run("approval of another plan", func(t *testing.T) {
		first, second := plan(), plan()
		_, err := f.svc.ApplyDelete(ctx, second, approve(t, first), nil)
		refused(t, second, err, ops.ErrNotApproved)
	})
	t.Run("no backup", func(t *testing.T) {
		p := plan()
		a, err := ops.Approve(p, room, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ApplyDelete(ctx, p, a, nil)
		refused(t, p, err, ops.ErrNoBackup)
	})

	// A real verified backup of the bed's database: a hand-written manifest
	// does not open the gate.
	cat, id := backuptest.Verified(t, bed.SynapseDB, bed.Synapse.ServerName)
	f.guard.Backups = cat
	t.Run("old backup", func(t *testing.T) {
		f.guard.Now = func() time.Time { return time.Now().Add(3 * time.Hour) } // FreshWithin is 1h
		defer func() { f.guard.Now = nil }()
		p := plan()
		a, err := ops.Approve(p, room, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ApplyDelete(ctx, p, a, nil)
		refused(t, p, err, ops.ErrNoBackup)
		if !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "older than") {
			t.Errorf("the refusal %q should name the stale backup and say it is too old", err)
		}
	})
	t.Run("fresh backup", func(t *testing.T) {
		p := plan()
		a, err := ops.Approve(p, room, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ApplyDelete(ctx, p, a, nil); err != nil {
			t.Fatalf("with a fresh verified backup: %v", err)
		}
		if roomExists(t, room) {
			t.Error("room still there")
		}
		es := f.auditFor(t, p.ID)
		if len(es) != 2 || es[0].Phase != "start" || es[0].Detail != nil || es[1].Outcome != "ok" {
			t.Errorf("audit %+v, want start (no without_backup note) and ok end", es)
		}
	})
	f.noSecretInAudit(t)
}

func TestRoomBlockUnblock(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	room := seed(t, prefix("block"), 1, nil)[0]
	cl := bed.Synapse.Client()

	for _, block := range []bool{true, false} {
		p, err := f.svc.PlanBlock(ctx, room, block)
		if err != nil {
			t.Fatal(err)
		}
		if p.Risk() != ops.Reversible || p.LosesData {
			t.Errorf("block plan risk %s loses data %v, want reversible and no data loss", p.Risk(), p.LosesData)
		}
		if b, _, _ := cl.RoomBlocked(ctx, room); b == block {
			t.Fatalf("planning changed the block to %v", b)
		}
		// Reversible: no backup needed, but an approval is.
		if err := f.svc.ApplyBlock(ctx, p, ops.Approval{}); !errors.Is(err, ops.ErrNotApproved) {
			t.Errorf("ApplyBlock without approval = %v, want ErrNotApproved", err)
		}
		a, err := ops.Approve(p, room, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.ApplyBlock(ctx, p, a); err != nil {
			t.Fatalf("ApplyBlock(%v): %v", block, err)
		}
		got, by, err := cl.RoomBlocked(ctx, room)
		if err != nil || got != block {
			t.Fatalf("RoomBlocked = %v, %v; want %v", got, err, block)
		}
		if block && by != bed.Synapse.AdminUserID {
			t.Errorf("blocked by %q, want %s", by, bed.Synapse.AdminUserID)
		}
		if !block && !strings.Contains(strings.Join(p.Impact, "\n"), "now blocked by "+bed.Synapse.AdminUserID) {
			t.Errorf("unblock plan impact %q does not say who blocked it", p.Impact)
		}
	}
	if !roomExists(t, room) {
		t.Error("blocking removed the room")
	}
}

// ApplyBlock must run only block and unblock plans. Another room plan whose
// parameters happen to carry room_id and block (a delete plan does) must be
// refused, not turned into an unblock that the audit log records as a delete.
func TestRoomApplyBlockRefusesOtherPlans(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	room := seed(t, prefix("blockkind"), 1, nil)[0]
	cl := bed.Synapse.Client()
	if err := cl.BlockRoom(ctx, room, true); err != nil {
		t.Fatal(err)
	}
	del, _, err := f.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: room}) // Block: false
	if err != nil {
		t.Fatal(err)
	}
	err = f.svc.ApplyBlock(ctx, del, approve(t, del))
	if err == nil {
		t.Error("ApplyBlock ran a rooms.delete plan")
	}
	if b, _, _ := cl.RoomBlocked(ctx, room); !b {
		t.Error("ApplyBlock with a delete plan unblocked the room")
	}
	if !roomExists(t, room) {
		t.Error("room gone")
	}
	for _, e := range f.auditFor(t, del.ID) {
		if e.Phase == "end" && e.Outcome == "ok" {
			t.Errorf("the audit log says the delete plan ran: %+v", e)
		}
	}
}

func TestPurgeHistory(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	room := seed(t, prefix("hist"), 1, func(_ int, s *synapsetest.RoomSpec) { s.Messages = 10 })[0]
	count := func() int {
		var n int
		if err := f.synDB.QueryRow(ctx, `SELECT count(*) FROM events WHERE room_id = $1 AND type = 'm.room.message'`, room).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	if before != 10 {
		t.Fatalf("seeded %d messages, want 10", before)
	}
	var newest string
	if err := f.synDB.QueryRow(ctx, `SELECT event_id FROM events WHERE room_id = $1 ORDER BY stream_ordering DESC LIMIT 1`, room).Scan(&newest); err != nil {
		t.Fatal(err)
	}
	details, err := bed.Synapse.Client().Room(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // the newest message strictly before the cut-off
	req := rooms.PurgeHistoryRequest{RoomID: room, Before: time.Now(), DeleteLocalEvents: true}
	p, err := f.svc.PlanPurgeHistory(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !p.LosesData || p.Risk() != ops.Destructive {
		t.Errorf("purge-history plan loses data %v risk %s", p.LosesData, p.Risk())
	}
	if got := count(); got != before {
		t.Fatalf("planning purged: %d messages left", got)
	}
	if _, err := f.svc.PlanPurgeHistory(ctx, rooms.PurgeHistoryRequest{RoomID: room, Before: time.Now().Add(time.Hour)}); err == nil || !strings.Contains(err.Error(), "future") {
		t.Errorf("a cut-off in the future: got %v, want an error saying so", err)
	}
	if err := f.svc.ApplyPurgeHistory(ctx, p, approve(t, p), nil); err != nil {
		t.Fatalf("ApplyPurgeHistory: %v", err)
	}
	// Every message goes but the room's newest event, which Synapse always
	// keeps (the tenth message); the room's state is untouched.
	var left []string
	rows, err := f.synDB.Query(ctx, `SELECT event_id FROM events WHERE room_id = $1 AND type = 'm.room.message'`, room)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left = append(left, id)
	}
	if len(left) != 1 || left[0] != newest {
		t.Errorf("messages left after the purge: %v; want exactly the newest event %s", left, newest)
	}
	if d, err := bed.Synapse.Client().Room(ctx, room); err != nil || d.StateEvents != details.StateEvents {
		t.Errorf("state events after the purge: %+v, %v; want %d as before", d, err, details.StateEvents)
	}
	if !roomExists(t, room) {
		t.Error("purging history removed the room")
	}
	es := f.auditFor(t, p.ID)
	if len(es) != 2 || es[1].Outcome != "ok" {
		t.Errorf("audit %+v, want start and ok end", es)
	}
}

func TestRoomBadInput(t *testing.T) {
	ctx := ctxT(t)
	ct := &synapsetest.CountingTransport{}
	f := newFixture(t, synapse.WithHTTPClient(&http.Client{Transport: ct}))

	t.Run("criteria", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			c    rooms.Criteria
			want string
		}{
			{"zero age", rooms.Criteria{}, "--older-than must be positive"},
			{"negative age", rooms.Criteria{OlderThan: -24 * time.Hour}, "--older-than must be positive"},
			{"bad regexp", rooms.Criteria{OlderThan: time.Hour, Pattern: "event-(["}, `--match "event-([" is not a valid regular expression`},
			{"bad exclude", rooms.Criteria{OlderThan: time.Hour, Exclude: []string{"general"}}, `--exclude: invalid room ID "general"`},
			{"bad alias exclude", rooms.Criteria{OlderThan: time.Hour, Exclude: []string{"#general"}}, `--exclude: invalid room alias "#general"`},
		} {
			before := ct.Count()
			_, _, err := f.svc.PlanPurge(ctx, tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
			}
			if n := ct.Count() - before; n != 0 {
				t.Errorf("%s: %d requests were sent for criteria that cannot be valid", tt.name, n)
			}
		}
	})

	t.Run("malformed IDs", func(t *testing.T) {
		for _, id := range []string{"", "general", "!", "!abc:bad server", "#alias:" + bed.Synapse.ServerName, "!a/b:x.org"} {
			before := ct.Count()
			var ve *synapse.ValidationError
			if _, _, err := f.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: id}); !errors.As(err, &ve) {
				t.Errorf("PlanDelete(%q) = %v, want a ValidationError", id, err)
			}
			if _, err := f.svc.PlanBlock(ctx, id, true); !errors.As(err, &ve) {
				t.Errorf("PlanBlock(%q) = %v, want a ValidationError", id, err)
			}
			if _, err := f.svc.PlanPurgeHistory(ctx, rooms.PurgeHistoryRequest{RoomID: id, Before: time.Now()}); !errors.As(err, &ve) {
				t.Errorf("PlanPurgeHistory(%q) = %v, want a ValidationError", id, err)
			}
			if n := ct.Count() - before; n != 0 {
				t.Errorf("%q: %d HTTP requests were sent for a malformed ID", id, n)
			}
		}
	})

	t.Run("unknown room", func(t *testing.T) {
		id := "!nosuchroom" + randHex(4) + ":" + bed.Synapse.ServerName
		_, _, err := f.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: id})
		if !errors.Is(err, synapse.ErrNotFound) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "rooms list") {
			t.Errorf("PlanDelete of an unknown room = %v; want M_NOT_FOUND naming %s and hinting at rooms list", err, id)
		}
		_, err = f.svc.PlanPurgeHistory(ctx, rooms.PurgeHistoryRequest{RoomID: id, Before: time.Now()})
		if !errors.Is(err, synapse.ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Errorf("PlanPurgeHistory of an unknown room = %v; want M_NOT_FOUND naming it", err)
		}
	})

	t.Run("not an admin", func(t *testing.T) {
		room := seed(t, prefix("noadmin"), 1, nil)[0]
		user, err := bed.Synapse.Register(ctx, "plain-"+randHex(3), false)
		if err != nil {
			t.Fatal(err)
		}
		g := newFixture(t)
		g.svc.Synapse = bed.Synapse.Client().WithToken(user.AccessToken)
		check := func(what string, err error) {
			t.Helper()
			if err == nil || !errors.Is(err, synapse.ErrForbidden) || !strings.Contains(err.Error(), "M_FORBIDDEN") ||
				!strings.Contains(err.Error(), "is the token an admin's?") {
				t.Errorf("%s with a non-admin token = %v; want M_FORBIDDEN and the admin hint", what, err)
			}
			if err != nil && strings.Contains(err.Error(), user.AccessToken.Reveal()) {
				t.Errorf("%s: the error shows the token", what)
			}
		}
		_, _, err = g.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: room})
		check("PlanDelete", err)
		_, _, err = g.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: time.Hour})
		check("PlanPurge", err)
		_, err = g.svc.PlanBlock(ctx, room, true)
		check("PlanBlock", err)
		if !roomExists(t, room) {
			t.Error("room gone")
		}
	})
}

// ParseBefore reads ages with config.ParseDuration: an age too long for a
// time.Duration is refused instead of wrapping round to a recent time
// ("213504d" once meant 25 minutes ago), and so is a time before 1970.
func TestParseBefore(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{in: "30d", want: now.Add(-30 * 24 * time.Hour)},
		{in: "1d12h", want: now.Add(-36 * time.Hour)},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "2026-01-31", want: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
		{in: "2026-01-31T12:00:00Z", want: time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)},
		{in: "213504d", wantErr: `duration "213504d" is too large: at most 106751d`},
		{in: "106752d", wantErr: "too large"},
		{in: "9999999999h", wantErr: "too large"},
		{in: "20600d", wantErr: "before 1970-01-01"},
		{in: "1969-12-31", wantErr: "before 1970-01-01"},
		{in: "-3d", wantErr: "negative"},
		{in: "soon", wantErr: `"soon" is neither a date`},
		{in: "", wantErr: "give a date"},
	} {
		got, err := rooms.ParseBefore(tt.in, now)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseBefore(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || !got.Equal(tt.want)):
			t.Errorf("ParseBefore(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestAuditEndFailureIsReported: when the audit log cannot take the end
// line, the block has still happened, and ApplyBlock says both instead of
// returning nil. The log's clock removes the file as the end line is
// written (the start line went in first).
func TestAuditEndFailureIsReported(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	room := seed(t, prefix("unrec"), 1, nil)[0]
	path := filepath.Join(t.TempDir(), "audit.log")
	writes := 0
	log, err := audit.Open(path, func() time.Time {
		if writes++; writes == 2 {
			_ = os.Remove(path)
		}
		return time.Now()
	})
	if err != nil {
		t.Fatal(err)
	}
	f.guard.Audit = log
	p, err := f.svc.PlanBlock(ctx, room, true)
	if err != nil {
		t.Fatal(err)
	}
	err = f.svc.ApplyBlock(ctx, p, approve(t, p))
	if !errors.Is(err, ops.ErrUnrecorded) || !strings.Contains(err.Error(), "rooms.block of "+room+" ended (ok)") {
		t.Errorf("ApplyBlock = %v, want ErrUnrecorded saying the block ended ok", err)
	}
	if b, _, err := bed.Synapse.Client().RoomBlocked(ctx, room); err != nil || !b {
		t.Errorf("room blocked %v (%v), want true: the block happened", b, err)
	}
}

// TestDeleteAskedAgainAfterSynapseFails: a room queued for a sliding-sync
// recalculation, as Synapse queues rooms at start-up, cannot be deleted
// until the queue has been worked off (Synapse's task fails on a foreign key,
// element-hq/synapse#19822). synops asks again after a pause instead of
// reporting the room failed; here the queue entry is removed when synops
// says it will ask again, as Synapse's background update would.
func TestDeleteAskedAgainAfterSynapseFails(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	room := seed(t, prefix("retry"), 1, nil)[0]
	if _, err := f.synDB.Exec(ctx, `INSERT INTO sliding_sync_joined_rooms_to_recalculate (room_id) VALUES ($1)`, room); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = f.synDB.Exec(context.Background(), `DELETE FROM sliding_sync_joined_rooms_to_recalculate WHERE room_id = $1`, room)
	})
	p, _, err := f.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: room})
	if err != nil {
		t.Fatal(err)
	}
	var again []string
	res, err := f.svc.ApplyDelete(ctx, p, approve(t, p), func(pr ops.Progress) {
		if strings.Contains(pr.Detail, "asking again") {
			again = append(again, pr.Detail)
			if _, err := f.synDB.Exec(ctx, `DELETE FROM sliding_sync_joined_rooms_to_recalculate WHERE room_id = $1`, room); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil {
		t.Fatalf("ApplyDelete: %v (asked again: %q)", err, again)
	}
	if len(again) != 1 {
		t.Errorf("synops asked again %d times (%q), want once: the first deletion fails while the room is queued", len(again), again)
	}
	if roomExists(t, room) {
		t.Error("the room survived")
	}
	if e, ok := f.svc.Journal.Get(room); !ok || e.Stage != rooms.StageDone || e.DeleteID != res.DeleteID {
		t.Errorf("journal %+v, want done with the second delete ID %s", e, res.DeleteID)
	}
	t.Logf("asked again: %q", again)
}
