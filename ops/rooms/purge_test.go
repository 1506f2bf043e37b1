package rooms_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/rooms"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

const purgeAge = 30 * 24 * time.Hour

// clockBetween is a fixed clock 30 days after a moment 700ms before batch B
// was seeded: by it, every room of batch A (seeded 1.5s earlier) is older
// than purgeAge and every room of batch B younger.
func clockBetween(bStart time.Time) func() time.Time {
	return fixedClock(bStart.Add(-700 * time.Millisecond).Add(purgeAge))
}

func TestRetentionPurgeSelectsExactlyOlderRooms(t *testing.T) {
	ctx := ctxT(t)
	f := newFixture(t)
	p := prefix("ret")
	pattern := "^" + regexp.QuoteMeta(p) + "[ab]"

	a := seed(t, p+"a", 8, nil)
	// Old rooms nobody is in any more (the creator left before the
	// cut-off). Synapse lists them without a name, so --match cannot see
	// them: they are named apart and --empty-only is checked without it.
	oldEmpty := seed(t, p+"e", 3, nil)
	for _, id := range oldEmpty[:2] {
		leave(t, bed.Synapse.AdminToken, id)
	}
	time.Sleep(1500 * time.Millisecond)
	bStart := time.Now()
	b := seed(t, p+"b", 8, nil)
	f.svc.Now = clockBetween(bStart)
	// After the cut-off: a message in A[0], and B[0] is emptied.
	if err := bed.Synapse.SendText(ctx, bed.Synapse.AdminToken, a[0], "still in use"); err != nil {
		t.Fatal(err)
	}
	leave(t, bed.Synapse.AdminToken, b[0])
	waitListed(t, []string{oldEmpty[0], oldEmpty[1], b[0]}, func(r synapse.Room) bool { return r.JoinedMembers == 0 })

	refsOf := map[string]bool{}
	for i, id := range a {
		if i%2 == 0 {
			f.addRefs(t, id)
			refsOf[id] = true
		}
	}
	for i, id := range b {
		if i%2 == 1 {
			f.addRefs(t, id)
			refsOf[id] = true
		}
	}

	t.Run("by creation", func(t *testing.T) {
		plan, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: pattern})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := candidateIDs(picked), sorted(a); !slices.Equal(got, want) {
			t.Fatalf("picked %d rooms %v, want exactly batch A %v", len(got), got, want)
		}
		for _, c := range picked {
			want := int64(0)
			if refsOf[c.RoomID] {
				want = 2
			}
			if c.Refs != want || c.Resume != "" || !c.At.Before(bStart) {
				t.Errorf("candidate %+v: want %d refs, no resume and a time before batch B", c, want)
			}
		}
		if plan.Target != bed.Synapse.ServerName || plan.Risk() != ops.Irreversible || !plan.LosesData {
			t.Errorf("plan target %q risk %s loses data %v", plan.Target, plan.Risk(), plan.LosesData)
		}
		if !strings.Contains(plan.Steps[0].Title, "delete and purge 8 rooms") {
			t.Errorf("first step %q does not count the rooms", plan.Steps[0].Title)
		}
		if len(plan.Steps) < 2 || !strings.Contains(plan.Steps[1].Title, "clear 8 application references") {
			t.Errorf("steps %+v do not count the 8 references of the 4 A rooms that have them", plan.Steps)
		}
	})
	t.Run("inactive", func(t *testing.T) {
		_, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: pattern, Inactive: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := candidateIDs(picked), sorted(a[1:]); !slices.Equal(got, want) {
			t.Errorf("picked %v, want batch A without %s, which had a message after the cut-off", got, a[0])
		}
		// Without Synapse's database, one admin API call per room finds
		// the same newest events.
		api := &rooms.Service{Synapse: f.svc.Synapse, App: f.svc.App, Guard: f.svc.Guard, Server: f.svc.Server, Now: f.svc.Now}
		_, byAPI, err := api.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: pattern, Inactive: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := candidateIDs(byAPI), candidateIDs(picked); !slices.Equal(got, want) {
			t.Errorf("through the API: picked %v, want what the database picked %v", got, want)
		}
		for i := range byAPI {
			if byAPI[i].At != picked[i].At {
				t.Errorf("%s: newest event at %s through the API, %s in the database", byAPI[i].RoomID, byAPI[i].At, picked[i].At)
			}
		}
	})
	t.Run("exclude", func(t *testing.T) {
		_, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: pattern, Exclude: []string{a[3], a[4]}})
		if err != nil {
			t.Fatal(err)
		}
		want := sorted(slices.Concat(a[:3], a[5:]))
		if got := candidateIDs(picked); !slices.Equal(got, want) {
			t.Errorf("picked %v, want batch A without the excluded two", got)
		}
	})
	// Every room on the server but this test's, for criteria without --match.
	mine := slices.Concat(a, b, oldEmpty)
	others := othersThan(t, mine)
	t.Run("empty only", func(t *testing.T) {
		_, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, EmptyOnly: true, Exclude: others})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := candidateIDs(picked), sorted(oldEmpty[:2]); !slices.Equal(got, want) {
			t.Errorf("picked %v, want only the old empty rooms %v (not the young empty %s)", got, want, b[0])
		}
	})
	for _, id := range mine {
		if !roomExists(t, id) {
			t.Fatalf("planning deleted %s", id)
		}
	}

	t.Run("apply", func(t *testing.T) {
		plan, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: pattern})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ops.Approve(plan, "8", time.Now()); err == nil {
			t.Error("a purge was approved by its room count; the phrase is the server name")
		}
		var mu sync.Mutex
		var last ops.Progress
		rep, err := f.svc.ApplyPurge(ctx, plan, approve(t, plan), func(p ops.Progress) { mu.Lock(); last = p; mu.Unlock() })
		if err != nil {
			t.Fatalf("ApplyPurge: %v (report %+v)", err, rep)
		}
		if rep.Count("deleted") != len(picked) || len(rep.Outcomes) != len(a) {
			t.Errorf("report %+v, want all %d deleted", rep.Outcomes, len(a))
		}
		if last.Done != len(a) || last.Total != len(a) {
			t.Errorf("last progress %+v, want %d of %d", last, len(a), len(a))
		}
		for _, o := range rep.Outcomes {
			want := int64(0)
			if refsOf[o.RoomID] {
				want = 2
			}
			if o.RefsCleared != want {
				t.Errorf("%s: %d references cleared, want %d", o.RoomID, o.RefsCleared, want)
			}
		}
		for _, id := range a {
			if roomExists(t, id) {
				t.Errorf("A room %s survived", id)
			}
			if ev, ch := f.refs(t, id); ev+ch != 0 {
				t.Errorf("A room %s still referenced (%d events, %d chatRooms)", id, ev, ch)
			}
		}
		for _, id := range slices.Concat(b, oldEmpty) {
			if !roomExists(t, id) {
				t.Errorf("room %s outside the criteria was deleted", id)
			}
			want := 0
			if refsOf[id] {
				want = 1
			}
			if ev, ch := f.refs(t, id); ev != want || ch != want {
				t.Errorf("room %s references changed: %d events, %d chatRooms, want %d each", id, ev, ch, want)
			}
		}
		es := f.auditFor(t, plan.ID)
		if len(es) != 2 || es[1].Outcome != "ok" || es[0].Target != bed.Synapse.ServerName {
			t.Errorf("audit %+v, want a start and an ok end naming the server", es)
		}
		f.noSecretInAudit(t)
	})
	t.Run("apply empty only", func(t *testing.T) {
		plan, _, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, EmptyOnly: true, Exclude: others})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := f.svc.ApplyPurge(ctx, plan, approve(t, plan), nil)
		if err != nil || rep.Count("deleted") != 2 {
			t.Fatalf("ApplyPurge: %v %+v, want the 2 old empty rooms deleted", err, rep)
		}
		for i, id := range oldEmpty {
			if got, want := roomExists(t, id), i == 2; got != want {
				t.Errorf("room %s exists %v, want %v", id, got, want)
			}
		}
		if !roomExists(t, b[0]) {
			t.Errorf("the young empty room %s was deleted", b[0])
		}
	})
}

// othersThan lists every room on the server that is not in ids.
func othersThan(t *testing.T, ids []string) []string {
	t.Helper()
	all, err := bed.Synapse.Client().AllRooms(ctxT(t), synapse.ListRoomsOptions{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range all {
		if !slices.Contains(ids, r.RoomID) {
			out = append(out, r.RoomID)
		}
	}
	return out
}

// TestRetentionPurgeSynapseDies kills Synapse in the middle of a purge: the run
// must say which rooms are done and which are pending (never failed for
// Synapse being away), and the next run, started the moment /health answers
// again, must finish exactly the rest in that one run.
//
// Restarted that way, Synapse is still warming up: it queues the rooms whose
// events its sliding-sync tables missed for recalculation (deleting one of
// them fails in Synapse until that is done, element-hq/synapse#19822), and a
// purge lock a killed Synapse held on a room stays until it expires, two
// minutes later, so reads of that room's timeline wait and time out. The
// test leaves such a lock, as the row Synapse's lock table keeps, on one of
// three rooms whose names only their timeline has (no local member is left
// in them): the rerun reports that room skipped with the reason and goes on
// with every other; a third run, once the lock is gone, deletes it.
//
// The kill falls between Synapse's tasks, not inside one: requests of the
// purge are held at the client's transport once 3 rooms are deleted, the
// requests already sent and the deletion Synapse is running are let finish,
// then Synapse is killed and the
// held requests go out to a dead port. (A task killed halfway holds
// Synapse's purge lock for the room until the lock expires, about two
// minutes later; synops just waits for it, which is too slow for a test.)
//
// It runs twice: with the small rooms deleted by the synchronous v1 delete
// (a request held at the kill provably never reached Synapse, so it is taken
// out of the journal again and the rerun starts it afresh), and with every
// room a background task (the rerun follows the tasks Synapse accepted).
func TestRetentionPurgeSynapseDies(t *testing.T) {
	for _, c := range []struct {
		name    string
		syncMax int
	}{{"synchronous deletes", 0}, {"background deletes", -1}} {
		t.Run(c.name, func(t *testing.T) { retentionPurgeSynapseDies(t, c.syncMax) })
	}
}

func retentionPurgeSynapseDies(t *testing.T, syncMax int) {
	ctx := ctxT(t)
	t.Cleanup(func() { // the tests after this one need Synapse
		if !bed.Synapse.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := bed.Synapse.Restart(ctx); err != nil {
				t.Errorf("restart Synapse after the test: %v", err)
			}
		}
	})
	hold := &holdTransport{}
	t.Cleanup(hold.open) // never leave the purge's requests held
	// Once Synapse is gone every remaining room costs the client's retries
	// (250ms, 500ms, 1s by default); a short backoff keeps the test quick
	// without changing what is reported.
	// A read of the locked room waits for the lock: 4s per attempt keeps the
	// rerun from waiting a minute for it.
	f := newFixture(t, synapse.WithBackoff(10*time.Millisecond), synapse.WithTimeout(4*time.Second), synapse.WithHTTPClient(&http.Client{Transport: hold}))
	f.svc.SyncDeleteMax = syncMax
	p := prefix("fault")
	pattern := "^" + regexp.QuoteMeta(p)
	a := seed(t, p+"a", 30, nil)
	// Created last of batch A, so the first run has not reached them when
	// Synapse is killed.
	nameless := seed(t, p+"n", 3, nil)
	time.Sleep(1500 * time.Millisecond)
	bStart := time.Now()
	b := seed(t, p+"b", 4, nil)
	f.svc.Now = clockBetween(bStart)
	for _, id := range nameless {
		leave(t, bed.Synapse.AdminToken, id)
	}
	waitListed(t, nameless, func(r synapse.Room) bool { return r.Name == "" && r.JoinedMembers == 0 })
	a = append(a, nameless...)
	for i, id := range a {
		if i%3 == 0 {
			f.addRefs(t, id)
		}
	}
	for _, id := range b {
		f.addRefs(t, id)
	}
	crit := rooms.Criteria{OlderThan: purgeAge, Pattern: pattern}

	plan, picked, err := f.svc.PlanPurge(ctx, crit)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := candidateIDs(picked), sorted(a); !slices.Equal(got, want) {
		t.Fatalf("picked %v, want exactly batch A", got)
	}
	f.svc.MaxConcurrency = 2
	approval := approve(t, plan)
	held := make(chan struct{})
	deleted := 0
	type result struct {
		rep *rooms.Report
		err error
	}
	done := make(chan result, 1)
	// A synchronous delete Synapse answered with an error may have changed
	// the room: its record stays, and the next run resumes it even when
	// the background delete asked for next never reached Synapse.
	syncFailed := map[string]string{}
	go func() {
		rep, err := f.svc.ApplyPurge(ctx, plan, approval, func(p ops.Progress) {
			if strings.Contains(p.Detail, "synchronous delete did not succeed") {
				syncFailed[p.Item] = p.Detail
			}
			if p.Stage == "deleted" {
				deleted++ // progress is reported under ApplyPurge's lock
				if deleted == 3 {
					hold.close()
					close(held)
				}
			}
		})
		done <- result{rep, err}
	}()
	select {
	case <-held:
	case r := <-done:
		t.Fatalf("the purge ended before Synapse was killed: %v %+v", r.err, r.rep)
	case <-time.After(time.Minute):
		t.Fatal("3 rooms were not deleted within a minute")
	}
	hold.waitIdle(t)
	waitNoDeleteTasks(t)
	killed := time.Now()
	bed.Synapse.Kill()
	// A held request sent over a kept-alive connection to the dead Synapse
	// ends in EOF, which synops rightly takes for "may have arrived"; this
	// test is about requests that cannot have, so each dials anew.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	hold.open()
	r := <-done
	t.Logf("the run ended %s after the kill", time.Since(killed).Round(time.Millisecond))
	if r.err == nil || !strings.Contains(r.err.Error(), "run the same purge again") {
		t.Errorf("the interrupted run returned %v, want an error saying to run it again", r.err)
	}
	rep := r.rep
	if rep == nil || len(rep.Outcomes) != len(a) {
		t.Fatalf("report %+v, want one outcome per room", rep)
	}
	var doneIDs, pendingIDs, startedIDs []string
	for _, o := range rep.Outcomes {
		switch o.Status {
		case "deleted":
			doneIDs = append(doneIDs, o.RoomID)
			if sync := syncMax >= 0; o.Synchronous != sync || (o.DeleteID == "") != sync {
				t.Errorf("%s deleted synchronously %v with delete ID %q; want synchronous %v", o.RoomID, o.Synchronous, o.DeleteID, sync)
			}
		case "pending":
			pendingIDs = append(pendingIDs, o.RoomID)
			if why, ok := syncFailed[o.RoomID]; o.DeleteID != "" || ok {
				startedIDs = append(startedIDs, o.RoomID)
				if ok {
					t.Logf("%s: %s", o.RoomID, why)
				}
			}
			if o.Reason == "" {
				t.Errorf("pending %s has no reason", o.RoomID)
			}
		default:
			t.Errorf("%s: %s (%s); with Synapse merely down every room is deleted or pending", o.RoomID, o.Status, o.Reason)
		}
	}
	if len(doneIDs) < 3 || len(pendingIDs) == 0 {
		t.Fatalf("%d deleted, %d pending; want at least 3 deleted before the kill and some pending", len(doneIDs), len(pendingIDs))
	}
	t.Logf("after the kill: %d deleted, %d pending, e.g. %q", len(doneIDs), len(pendingIDs), firstReason(rep))
	for _, id := range doneIDs {
		if ev, ch := f.refs(t, id); ev+ch != 0 {
			t.Errorf("deleted room %s still referenced", id)
		}
	}
	es := f.auditFor(t, plan.ID)
	if len(es) != 2 || es[1].Phase != "end" || es[1].Outcome == "ok" {
		t.Errorf("audit %+v, want a start and an end that is not ok", es)
	}

	locked := nameless[0]
	if !slices.Contains(pendingIDs, locked) || slices.Contains(startedIDs, locked) {
		t.Fatalf("room %s, to be locked, was reached by the first run; pending %v", locked, pendingIDs)
	}
	unlock := leavePurgeLock(t, locked)
	defer unlock()

	restart := time.Now()
	if err := bed.Synapse.Restart(ctx); err != nil { // returns as /health answers
		t.Fatalf("restart Synapse: %v", err)
	}
	t.Logf("Synapse answered /health %s after the restart began; %d rooms queued for a sliding-sync recalculation",
		time.Since(restart).Round(time.Millisecond), recalculationQueue(t))
	plan2, picked2, err := f.svc.PlanPurge(ctx, crit)
	if err != nil {
		t.Fatalf("second plan, at once: %v", err)
	}
	if got, want := candidateIDs(picked2), sorted(pendingIDs); !slices.Equal(got, want) {
		t.Fatalf("second plan picked %v,\nwant exactly the %d unfinished rooms %v", got, len(want), want)
	}
	var resumed []string
	for _, c := range picked2 {
		if c.Resume != "" {
			resumed = append(resumed, c.RoomID)
		}
		if want := c.RoomID == locked; (c.Skip != "") != want || want && !strings.Contains(c.Skip, "could not read its name") {
			t.Errorf("candidate %s skip %q; want only the locked room %s skipped, saying its name could not be read", c.RoomID, c.Skip, locked)
		}
	}
	slices.Sort(resumed)
	if want := sorted(startedIDs); !slices.Equal(resumed, want) {
		t.Errorf("second plan resumes %v, want the rooms whose Synapse delete had started %v", resumed, want)
	}
	t.Logf("second plan: %d rooms, %d resume a Synapse delete already started", len(picked2), len(resumed))
	f.svc.MaxConcurrency = 0
	second := time.Now()
	var mu sync.Mutex
	var askedAgain []string
	rep2, err := f.svc.ApplyPurge(ctx, plan2, approve(t, plan2), func(p ops.Progress) {
		if strings.Contains(p.Detail, "asking again") {
			mu.Lock()
			askedAgain = append(askedAgain, p.Item+": "+p.Detail)
			mu.Unlock()
		}
	})
	t.Logf("second run took %s; deletions Synapse failed and was asked again: %d %q", time.Since(second).Round(time.Millisecond), len(askedAgain), askedAgain)
	if err != nil {
		t.Fatalf("second run: %v %+v", err, rep2)
	}
	for _, o := range rep2.Outcomes {
		switch {
		case o.RoomID == locked && (o.Status != "skipped" || !strings.Contains(o.Reason, "could not read its name")):
			t.Errorf("locked room: %+v, want skipped saying its name could not be read", o)
		case o.RoomID != locked && o.Status != "deleted":
			t.Errorf("second run: %+v, want every room but the locked one deleted in this run", o)
		}
	}
	if rep2.Count("deleted") != len(pendingIDs)-1 || rep2.Count("skipped") != 1 {
		t.Errorf("second run: %d deleted, %d skipped; want %d and 1", rep2.Count("deleted"), rep2.Count("skipped"), len(pendingIDs)-1)
	}
	for _, id := range a {
		if id == locked {
			continue
		}
		if roomExists(t, id) {
			t.Errorf("A room %s survived both runs", id)
		}
		if ev, ch := f.refs(t, id); ev+ch != 0 {
			t.Errorf("A room %s still referenced (%d events, %d chatRooms)", id, ev, ch)
		}
	}
	if !roomExists(t, locked) {
		t.Errorf("the skipped room %s was deleted", locked)
	}

	// Once the lock is gone (it expires; here it is removed), the next run
	// deletes the room the rerun skipped.
	unlock()
	plan3, picked3, err := f.svc.PlanPurge(ctx, crit)
	if err != nil {
		t.Fatal(err)
	}
	if got := candidateIDs(picked3); !slices.Equal(got, []string{locked}) || picked3[0].Skip != "" {
		t.Fatalf("third plan %+v, want only %s, not skipped", picked3, locked)
	}
	rep3, err := f.svc.ApplyPurge(ctx, plan3, approve(t, plan3), nil)
	if err != nil || rep3.Count("deleted") != 1 || roomExists(t, locked) {
		t.Errorf("third run: %v %+v; want %s deleted", err, rep3, locked)
	}
	for _, id := range b {
		if !roomExists(t, id) {
			t.Errorf("B room %s was deleted", id)
		}
		if ev, ch := f.refs(t, id); ev != 1 || ch != 1 {
			t.Errorf("B room %s references changed: %d events, %d chatRooms", id, ev, ch)
		}
	}
	if u := f.svc.Journal.Unfinished(); len(u) != 0 {
		t.Errorf("journal still has unfinished rooms: %+v", u)
	}
}

func firstReason(rep *rooms.Report) string {
	for _, o := range rep.Outcomes {
		if o.Status == "pending" {
			return o.Reason
		}
	}
	return ""
}

// holdTransport can hold every request until it is opened again, and tells
// how many requests went past the gate and have not finished (body closed).
type holdTransport struct {
	mu       sync.Mutex
	gate     chan struct{} // nil: requests pass
	inFlight int
}

func (h *holdTransport) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate == nil {
		h.gate = make(chan struct{})
	}
}

func (h *holdTransport) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

// waitIdle waits until no request that passed the gate is still under way,
// so that a kill afterwards cannot cut one in half.
func (h *holdTransport) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		n := h.inFlight
		h.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still under way after 30s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *holdTransport) done() {
	h.mu.Lock()
	h.inFlight--
	h.mu.Unlock()
}

func (h *holdTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	gate := h.gate
	if gate == nil {
		h.inFlight++
	}
	h.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
		h.mu.Lock()
		h.inFlight++
		h.mu.Unlock()
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		h.done()
		return nil, err
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: sync.OnceFunc(h.done)}
	return resp, nil
}

type doneBody struct {
	io.ReadCloser
	done func()
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

// waitNoDeleteTasks waits until Synapse runs no room deletion and has none
// waiting.
func waitNoDeleteTasks(t *testing.T) {
	t.Helper()
	ctx := ctxT(t)
	cl := bed.Synapse.Client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, status := range []string{"scheduled", "active"} {
			tasks, err := cl.ScheduledTasks(ctx, "shutdown_and_purge_room", "", status)
			if err != nil {
				t.Fatal(err)
			}
			n += len(tasks)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Synapse still has %d room deletions after 30s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leavePurgeLock leaves on roomID the write lock on its purge and
// pagination that a Synapse killed while purging it leaves: its row in
// worker_read_write_locks, held by an instance that no longer runs, renewed
// just now. Synapse reaps it two minutes after that; until then every read
// of the room's timeline waits. The returned func removes it.
func leavePurgeLock(t *testing.T, roomID string) (unlock func()) {
	t.Helper()
	ctx := ctxT(t)
	conn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO worker_read_write_locks (lock_name, lock_key, write_lock, instance_name, token, last_renewed_ts)
		VALUES ('purge_pagination_lock', $1, true, 'killed-instance', 'killed', $2)`, roomID, time.Now().UnixMilli()); err != nil {
		t.Fatalf("leave a purge lock on %s: %v", roomID, err)
	}
	return sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, bed.SynapseDB)
		if err != nil {
			t.Errorf("remove the purge lock: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DELETE FROM worker_read_write_locks WHERE lock_key = $1 AND token = 'killed'`, roomID); err != nil {
			t.Errorf("remove the purge lock: %v", err)
		}
	})
}

// recalculationQueue is how many rooms Synapse has queued for a sliding-sync
// recalculation.
func recalculationQueue(t *testing.T) int {
	t.Helper()
	var n int
	if err := pgxQueryRow(t, `SELECT count(*) FROM sliding_sync_joined_rooms_to_recalculate`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func pgxQueryRow(t *testing.T, sql string) pgx.Row {
	t.Helper()
	ctx := ctxT(t)
	conn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn.QueryRow(ctx, sql)
}

// A purge deletes a room whose history Synapse's database shows short with
// the synchronous v1 delete, and a longer one with a background task; and
// when Synapse, or a proxy in front of it, answers 429, it halves the
// number of deletions in flight at once and still deletes every room. The
// proxy here answers the first two DELETEs 429, as nginx's limit_req does.
func TestPurgeMethodAndRateLimit(t *testing.T) {
	ctx := ctxT(t)
	p := prefix("pace")
	ids := seed(t, p, 6, func(i int, s *synapsetest.RoomSpec) {
		if i == 0 {
			s.Messages = 15 // deeper than SyncDeleteMax
		}
	})
	target, _ := url.Parse(bed.Synapse.BaseURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var limited atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && limited.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":50}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	f := newFixture(t)
	cl, err := synapse.New(proxy.URL, bed.Synapse.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Synapse = cl
	f.svc.SyncDeleteMax = 12
	f.svc.Now = fixedClock(time.Now().Add(purgeAge + time.Hour))
	plan, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: "^" + regexp.QuoteMeta(p)})
	if err != nil || len(picked) != len(ids) {
		t.Fatalf("plan: %v, %d rooms; want %d", err, len(picked), len(ids))
	}
	rep, err := f.svc.ApplyPurge(ctx, plan, approve(t, plan), nil)
	if err != nil || rep.Count("deleted") != len(ids) {
		t.Fatalf("ApplyPurge: %v, %+v; want all %d deleted", err, rep, len(ids))
	}
	for _, o := range rep.Outcomes {
		deep := o.RoomID == ids[0]
		if o.Synchronous == deep || (o.DeleteID != "") != deep {
			t.Errorf("%s (deep %v): synchronous %v, delete ID %q; want the deep room as a background task, the others synchronous", o.RoomID, deep, o.Synchronous, o.DeleteID)
		}
		if roomExists(t, o.RoomID) {
			t.Errorf("room %s survived", o.RoomID)
		}
	}
	pace := rep.Pacing
	if pace.RateLimited != 2 || len(pace.Limits) < 2 || pace.Limits[0] != 4 || pace.Limits[1] != 2 {
		t.Errorf("pacing %+v: want 2 rate limits seen and the starting limit 4 halved to 2", pace)
	}
	if pace.Max != rooms.DefaultMaxConcurrency || pace.Peak > 4 {
		t.Errorf("pacing %+v: want the default maximum %d and never more than 4 at once", pace, rooms.DefaultMaxConcurrency)
	}
}

// A synchronous delete whose answer is lost may have been done: its
// journal entry stays, even when the background delete asked for next is
// refused outright, and the next run finishes the room. Here a proxy in
// front of the real Synapse passes the v1 DELETE on, drops the answer and
// stops listening.
func TestPurgeLostSynchronousAnswer(t *testing.T) {
	ctx := ctxT(t)
	p := prefix("lost")
	ids := seed(t, p, 1, nil)
	room := ids[0]
	target, _ := url.Parse(bed.Synapse.BaseURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var proxy *httptest.Server
	proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/_synapse/admin/v1/rooms/") {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)   // Synapse deletes the room,
			proxy.Listener.Close() // nothing more gets through,
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close() // and the answer is lost
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	f := newFixture(t)
	f.addRefs(t, room)
	// No kept-alive connection: once the proxy stops listening, every
	// request is refused before it is sent.
	cl, err := synapse.New(proxy.URL, bed.Synapse.AdminToken, synapse.WithRetries(0),
		synapse.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	if err != nil {
		t.Fatal(err)
	}
	direct := f.svc.Synapse
	f.svc.Synapse = cl
	f.svc.Now = fixedClock(time.Now().Add(purgeAge + time.Hour))
	crit := rooms.Criteria{OlderThan: purgeAge, Pattern: "^" + regexp.QuoteMeta(p)}
	plan, _, err := f.svc.PlanPurge(ctx, crit)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.svc.ApplyPurge(ctx, plan, approve(t, plan), nil)
	if err == nil || rep.Count("pending") != 1 {
		t.Fatalf("first run: %v %+v; want the room pending", err, rep)
	}
	if roomExists(t, room) {
		t.Fatal("Synapse did not delete the room; the test wants the answer lost, not the request")
	}
	if e, ok := f.svc.Journal.Get(room); !ok || e.Stage != rooms.StageRequested || !e.Sync {
		t.Fatalf("journal entry %+v (found %v); want the synchronous request kept", e, ok)
	}
	f.svc.Synapse = direct
	plan, picked, err := f.svc.PlanPurge(ctx, crit)
	if err != nil || len(picked) != 1 || picked[0].Resume != rooms.StageRequested {
		t.Fatalf("second plan: %v %+v; want the room, resuming", err, picked)
	}
	rep, err = f.svc.ApplyPurge(ctx, plan, approve(t, plan), nil)
	if err != nil || rep.Count("deleted") != 1 || rep.Outcomes[0].DeleteID == "" {
		t.Fatalf("second run: %v %+v; want the room finished by a background delete", err, rep)
	}
	if ev, ch := f.refs(t, room); ev+ch != 0 {
		t.Errorf("references left: %d events, %d chatRooms", ev, ch)
	}
}
