package rooms_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"synops/ops/rooms"
	"synops/synapse"
)

// TestFinishUnfinishedDeletions leaves the journal the way an interrupted
// run leaves it, one room per stage, and finishes them with the
// "--unfinished" purge: Synapse's running delete is followed (not sent
// again), references are cleared for a room Synapse already removed, a
// request that may never have reached Synapse is sent, a synchronous delete
// whose answer was lost is finished with a background delete (Synapse does
// not take a synchronous one up again), and no other room is touched.
func TestFinishUnfinishedDeletions(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	p := prefix("finish")
	ids := seed(t, p, 5, nil)
	running, refsOnly, asked, bystander, syncLost := ids[0], ids[1], ids[2], ids[3], ids[4]
	for _, id := range ids {
		f.addRefs(t, id)
	}
	cl := bed.Synapse.Client()

	// running: Synapse accepted the delete, the run died while polling.
	deleteID, err := cl.DeleteRoom(ctx, running, synapse.DeleteRoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// refsOnly: Synapse finished, the run died before the app database.
	refsID, err := cl.DeleteRoom(ctx, refsOnly, synapse.DeleteRoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitDelete(ctx, refsID, 100*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	for _, e := range []rooms.Entry{
		{RoomID: running, Stage: rooms.StageDeleting, DeleteID: deleteID},
		{RoomID: refsOnly, Stage: rooms.StageRefsPending, DeleteID: refsID},
	} {
		if err := f.svc.Journal.Set(e); err != nil {
			t.Fatal(err)
		}
	}

	// Only rooms Synapse has taken on: nothing new loses data, so the plan
	// needs no backup.
	plan, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{Unfinished: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := candidateIDs(picked), sorted([]string{running, refsOnly}); !slices.Equal(got, want) {
		t.Fatalf("picked %v, want the two journal rooms %v", got, want)
	}
	if plan.LosesData {
		t.Errorf("finishing deletions Synapse already runs is marked as losing data: %+v", plan)
	}
	if plan.Target != bed.Synapse.ServerName {
		t.Errorf("approval phrase %q, want the server name", plan.Target)
	}

	// asked: the request was written to the journal, the answer never came
	// (and here the request never went out).
	// syncLost: a synchronous delete went through, its answer was lost.
	if _, err := cl.DeleteRoomNow(ctx, syncLost, synapse.DeleteRoomOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []rooms.Entry{
		{RoomID: asked, Stage: rooms.StageRequested},
		{RoomID: syncLost, Stage: rooms.StageRequested, Sync: true},
	} {
		if err := f.svc.Journal.Set(e); err != nil {
			t.Fatal(err)
		}
	}
	plan, picked, err = f.svc.PlanPurge(ctx, rooms.Criteria{Unfinished: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(picked) != 4 || !plan.LosesData || !strings.Contains(strings.Join(plan.Impact, "\n"), "2 of them may never have reached Synapse") {
		t.Fatalf("with a request that may not have reached Synapse: %d rooms, loses data %v, impact %q", len(picked), plan.LosesData, plan.Impact)
	}
	rep, err := f.svc.ApplyPurge(ctx, plan, approve(t, plan), nil)
	if err != nil {
		t.Fatalf("finish: %v %+v", err, rep)
	}
	if rep.Count("deleted") != 4 {
		t.Errorf("report %+v, want 4 deleted", rep.Outcomes)
	}
	for _, o := range rep.Outcomes {
		if o.RoomID == running && o.DeleteID != deleteID {
			t.Errorf("running room finished with delete %q, want Synapse's %q followed, not a new one", o.DeleteID, deleteID)
		}
		if o.RoomID == syncLost && (o.DeleteID == "" || o.Synchronous) {
			t.Errorf("the lost synchronous delete finished as %+v, want a background delete of the gone room", o)
		}
	}
	for _, id := range []string{running, refsOnly, asked, syncLost} {
		if roomExists(t, id) {
			t.Errorf("room %s survived", id)
		}
		if ev, ch := f.refs(t, id); ev+ch != 0 {
			t.Errorf("room %s still referenced (%d events, %d chatRooms)", id, ev, ch)
		}
	}
	if !roomExists(t, bystander) {
		t.Errorf("room %s, not in the journal, was deleted", bystander)
	}
	if ev, ch := f.refs(t, bystander); ev != 1 || ch != 1 {
		t.Errorf("bystander references changed: %d events, %d chatRooms", ev, ch)
	}
	if u := f.svc.Interrupted(); len(u) != 0 {
		t.Errorf("journal still has unfinished rooms: %+v", u)
	}
	if es := f.auditFor(t, plan.ID); len(es) != 2 || es[1].Outcome != "ok" {
		t.Errorf("audit %+v, want a start and an ok end", es)
	}

	// Nothing left: the plan is empty.
	_, picked, err = f.svc.PlanPurge(ctx, rooms.Criteria{Unfinished: true})
	if err != nil || len(picked) != 0 {
		t.Errorf("after finishing: %v, %d rooms", err, len(picked))
	}
}

// TestFinishSkipsWhatAnotherRunFinished: a room another run finished between
// plan and apply is skipped, never asked for again.
func TestFinishSkipsWhatAnotherRunFinished(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	ids := seed(t, prefix("finished"), 1, nil)
	if err := f.svc.Journal.Set(rooms.Entry{RoomID: ids[0], Stage: rooms.StageRequested}); err != nil {
		t.Fatal(err)
	}
	plan, _, err := f.svc.PlanPurge(ctx, rooms.Criteria{Unfinished: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Journal.Set(rooms.Entry{RoomID: ids[0], Stage: rooms.StageDone}); err != nil {
		t.Fatal(err)
	}
	rep, err := f.svc.ApplyPurge(ctx, plan, approve(t, plan), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count("skipped") != 1 || !strings.Contains(rep.Outcomes[0].Reason, "another run finished it") {
		t.Errorf("report %+v, want the room skipped", rep.Outcomes)
	}
	if !roomExists(t, ids[0]) {
		t.Error("the room was deleted although the journal said another run had finished it")
	}
}

func TestFinishRefusesSelectors(t *testing.T) {
	f := newFixture(t)
	for _, c := range []rooms.Criteria{
		{Unfinished: true, OlderThan: 24 * time.Hour},
		{Unfinished: true, Pattern: "x"},
		{Unfinished: true, EmptyOnly: true},
	} {
		if _, _, err := f.svc.PlanPurge(ctxT(t), c); err == nil || !strings.Contains(err.Error(), "--unfinished selects no new rooms") {
			t.Errorf("%+v: got %v", c, err)
		}
	}
}
