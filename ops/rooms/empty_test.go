package rooms_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"synops/ops/rooms"
	"synops/synapse"
)

// Rooms that no user of this server is joined to any more are exactly the
// rooms a retention purge is for. Synapse stops keeping their current state
// when the last local user leaves: the admin room list and room details
// show no name or alias, and the admin state API returns no events at all,
// m.room.create included. Their history (events, /messages) stays.
func TestRoomsNobodyIsIn(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	p := prefix("left")
	ids := seed(t, p, 2, nil)
	for _, id := range ids {
		leave(t, bed.Synapse.AdminToken, id)
	}
	waitListed(t, ids, func(r synapse.Room) bool { return r.JoinedMembers == 0 })
	later := fixedClock(time.Now().Add(purgeAge + time.Hour))

	t.Run("match by name", func(t *testing.T) {
		f.svc.Now = later
		defer func() { f.svc.Now = nil }()
		_, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, EmptyOnly: true, Pattern: "^" + regexp.QuoteMeta(p)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := candidateIDs(picked), sorted(ids); !slices.Equal(got, want) {
			t.Errorf("--empty-only --match %q picked %v, want the two old empty rooms named so %v", "^"+p, got, want)
		}
	})

	t.Run("purge without Synapse's database", func(t *testing.T) {
		f.svc.Now = later
		db := f.svc.SynapseDB
		f.svc.SynapseDB = nil // creation times come from the admin API
		defer func() { f.svc.Now, f.svc.SynapseDB = nil, db }()
		_, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, EmptyOnly: true, Exclude: othersThan(t, ids)})
		if err != nil {
			t.Fatalf("PlanPurge without a Synapse database: %v", err)
		}
		if got, want := candidateIDs(picked), sorted(ids); !slices.Equal(got, want) {
			t.Errorf("picked %v, want %v", got, want)
		}
	})

	t.Run("delete", func(t *testing.T) {
		plan, im, err := f.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: ids[0]})
		if err != nil {
			t.Fatalf("PlanDelete of a room nobody is in: %v", err)
		}
		if len(im.LocalMembers) != 0 || im.CreatedAt.IsZero() {
			t.Errorf("impact: %d local members, created %v; want 0 and the creation time", len(im.LocalMembers), im.CreatedAt)
		}
		if !strings.Contains(strings.Join(plan.Impact, "\n"), "0 joined members") {
			t.Errorf("impact %q", plan.Impact)
		}
		if _, err := f.svc.ApplyDelete(ctx, plan, approve(t, plan), nil); err != nil {
			t.Fatal(err)
		}
		if roomExists(t, ids[0]) {
			t.Error("room still there")
		}
	})
}
