package rooms_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/rooms"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// The purge race of issue 13: ways to delete rooms, each on its own rooms,
// all created the same way (a room of two members, five messages, older
// than the cut-off), timed in one run against the bed's Synapse.
//
//   - seed loop: seed 000's retention script itself
//     (testdata/seed000-purge.sh: bash, curl for each request, jq, date),
//     one room at a time: GET the room's details, then DELETE
//     /_synapse/admin/v1/rooms/<id> with the body {} the v1 DELETE needs.
//   - the same loop in Go: the same two requests a room, without the
//     processes; shown for comparison, it is the faster of the two.
//   - v1 ×8: DELETE /_synapse/admin/v1/rooms/<id>, 8 requests at a time:
//     what this Synapse can do for a client that does nothing else.
//   - synops: rooms.Service.PlanPurge + ApplyPurge with the bed's wiring
//     (Synapse's database and the application database configured), the
//     way `synops rooms purge --older-than … --match … --apply` runs: it
//     lists and selects, re-checks each room, journals each step, deletes,
//     and clears the app references.
//
// Every fifth room of every set has application references (OpenMeet's
// event rooms do); only synops clears them. The machine is shared, so the
// contenders run in halves in the order A B C D D C B A: a load that comes
// and goes during the run falls on all of them alike. Each figure is the
// sum of its two halves.
//
// SYNOPS_BENCH_ROOMS sets the rooms per contender (default 100).
var race struct {
	once, logged                 sync.Once
	rooms                        int
	script, seedGo, v1x8, synops time.Duration
	planning                     time.Duration // synops' share spent planning
	seeding                      time.Duration
	pacing                       []rooms.Pacing
	err                          error
}

func BenchmarkPurgeRace(b *testing.B) {
	race.once.Do(func() { race.err = runRace(b) })
	if race.err != nil {
		b.Fatal(race.err)
	}
	n := float64(race.rooms)
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) / n }
	b.ReportMetric(ms(race.script), "ms/room-seed-loop")
	b.ReportMetric(ms(race.v1x8), "ms/room-v1x8")
	b.ReportMetric(ms(race.synops), "ms/room-synops")
	b.ReportMetric(race.synops.Seconds()/race.v1x8.Seconds(), "synops/v1x8")
	b.ReportMetric(race.script.Seconds()/race.synops.Seconds(), "seedloop/synops")
	race.logged.Do(func() { logRace(b) })
}

func logRace(b *testing.B) {
	n := float64(race.rooms)
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) / n }
	// Go keeps 10 lines of a benchmark's log: these are 8.
	b.Logf("purge race, %d rooms each (2 members, 5 messages; seeded in %s), one run, halves in the order A B C D D C B A:", race.rooms, race.seeding.Round(time.Second))
	b.Logf("  seed loop (seed 000's script: GET + v1 DELETE, one at a time): %6.2fs  %5.1f ms/room", race.script.Seconds(), ms(race.script))
	b.Logf("  the same loop in Go, no curl/jq/date processes:               %6.2fs  %5.1f ms/room", race.seedGo.Seconds(), ms(race.seedGo))
	b.Logf("  v1 DELETE, 8 at a time:                                        %6.2fs  %5.1f ms/room", race.v1x8.Seconds(), ms(race.v1x8))
	b.Logf("  synops rooms purge (plan + apply):                             %6.2fs  %5.1f ms/room (planning %.2fs)", race.synops.Seconds(), ms(race.synops), race.planning.Seconds())
	var halves []string
	rateLimits := 0
	for i, p := range race.pacing {
		halves = append(halves, fmt.Sprintf("half %d %s", i+1, limits(p.Limits)))
		rateLimits += p.RateLimited
	}
	ceiling, peak := 0, 0
	for _, p := range race.pacing {
		ceiling, peak = p.Max, max(peak, p.Peak)
	}
	b.Logf("  synops deletions at once: %s (at most %d, peak %d, %d rate limits)", strings.Join(halves, ", "), ceiling, peak, rateLimits)
	b.Logf("  RATIO synops ÷ v1×8      = %.2f (goal ≤ 1.1)", race.synops.Seconds()/race.v1x8.Seconds())
	b.Logf("  RATIO seed loop ÷ synops = %.2f (goal ≥ 1.5); the loop in Go ÷ synops = %.2f", race.script.Seconds()/race.synops.Seconds(), race.seedGo.Seconds()/race.synops.Seconds())
}

func limits(ls []int) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = strconv.Itoa(l)
	}
	return strings.Join(s, "→")
}

func runRace(b *testing.B) error {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	n := benchRooms()
	race.rooms = n
	p := prefix("race")
	kinds := []string{"script", "seedgo", "v1x8", "synops"}
	names := map[string][]string{}
	for _, k := range kinds {
		for i := range n {
			names[k] = append(names[k], fmt.Sprintf("%s%s-%03d", p, k, i))
		}
	}
	start := time.Now()
	ids, err := seedRaceRooms(ctx, p, names, kinds)
	if err != nil {
		return err
	}
	race.seeding = time.Since(start)
	f := newFixture(b)
	for _, k := range kinds {
		for i, id := range ids[k] {
			if i%5 == 0 {
				f.addRefs(b, id)
			}
		}
	}
	if err := bed.WaitSettled(ctx, 2*time.Minute); err != nil {
		return err
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	old := fixedClock(time.Now().Add(purgeAge + time.Hour))
	f.svc.Now = old
	half := func(k string, h int) []string {
		if h == 0 {
			return ids[k][:n/2]
		}
		return ids[k][n/2:]
	}
	runs := []struct {
		kind string
		h    int
	}{{"script", 0}, {"seedgo", 0}, {"v1x8", 0}, {"synops", 0}, {"synops", 1}, {"v1x8", 1}, {"seedgo", 1}, {"script", 1}}
	for _, r := range runs {
		rs := half(r.kind, r.h)
		var took time.Duration
		switch r.kind {
		case "script":
			took, err = seedScript(ctx, b, rs)
			race.script += took
		case "seedgo":
			took, err = seedLoop(ctx, hc, rs)
			race.seedGo += took
		case "v1x8":
			took, err = v1Parallel(ctx, hc, rs, 8)
			race.v1x8 += took
		case "synops":
			var pace rooms.Pacing
			var planned time.Duration
			took, planned, pace, err = synopsPurge(ctx, b, f, p+"synops-", rs)
			race.synops += took
			race.planning += planned
			race.pacing = append(race.pacing, pace)
		}
		if err != nil {
			return fmt.Errorf("%s, half %d: %w", r.kind, r.h+1, err)
		}
		for _, id := range rs {
			if roomExists(b, id) {
				return fmt.Errorf("%s: room %s still exists", r.kind, id)
			}
		}
		if err := bed.WaitSettled(ctx, 2*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// seedRaceRooms creates the rooms of every kind interleaved (one of each in
// turn), so that no set is older, or placed differently in the database,
// than another. Each room: created by one user, a second invited and
// joined, five messages.
func seedRaceRooms(ctx context.Context, p string, names map[string][]string, kinds []string) (map[string][]string, error) {
	users, err := bed.Synapse.SeedUsers(ctx, p+"u", 2)
	if err != nil {
		return nil, err
	}
	n := len(names[kinds[0]])
	specs := make([]synapsetest.RoomSpec, 0, n*len(kinds))
	for i := range n {
		for _, k := range kinds {
			specs = append(specs, synapsetest.RoomSpec{Name: names[k][i], Creator: &users[0],
				Members: []synapsetest.SeededUser{users[1]}, Messages: 5})
		}
	}
	all, err := bed.Synapse.SeedRoomsWidth(ctx, specs, 8)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for i, id := range all {
		k := kinds[i%len(kinds)]
		out[k] = append(out[k], id)
	}
	return out, nil
}

// adminCall sends one admin API request with the bed's token.
func adminCall(ctx context.Context, hc *http.Client, method, path string, body []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, bed.Synapse.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bed.Synapse.AdminToken.Reveal())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return nil
}

// seedScript runs seed 000's script over the rooms.
func seedScript(ctx context.Context, tb testing.TB, ids []string) (time.Duration, error) {
	header := filepath.Join(tb.TempDir(), "auth-header")
	if err := os.WriteFile(header, []byte("Authorization: Bearer "+bed.Synapse.AdminToken.Reveal()), 0o600); err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("testdata", "seed000-purge.sh"))
	cmd.Args = append(cmd.Args, ids...)
	cmd.Env = append(os.Environ(), "SYNAPSE="+bed.Synapse.BaseURL, "AUTH_HEADER_FILE="+header)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("seed 000's script: %v\n%s", err, out)
	}
	if got := strings.Count(string(out), "Deleting room "); got != len(ids) {
		return 0, fmt.Errorf("seed 000's script deleted %d of %d rooms:\n%s", got, len(ids), out)
	}
	return took, nil
}

// seedLoop is seed 000's loop over rooms, in Go.
func seedLoop(ctx context.Context, hc *http.Client, ids []string) (time.Duration, error) {
	start := time.Now()
	for _, id := range ids {
		path := "/_synapse/admin/v1/rooms/" + url.PathEscape(id)
		if err := adminCall(ctx, hc, http.MethodGet, path, nil); err != nil {
			return 0, err
		}
		if err := adminCall(ctx, hc, http.MethodDelete, path, []byte("{}")); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// v1Parallel deletes the rooms with the synchronous v1 DELETE, width at a
// time.
func v1Parallel(ctx context.Context, hc *http.Client, ids []string, width int) (time.Duration, error) {
	start := time.Now()
	work := make(chan string)
	errs := make(chan error, width)
	var wg sync.WaitGroup
	for range width {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := adminCall(ctx, hc, http.MethodDelete, "/_synapse/admin/v1/rooms/"+url.PathEscape(id), []byte("{}")); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// synopsPurge plans and applies the retention purge of exactly ids (the
// pattern names their set; the others of the set are already gone or not
// yet old enough by an exclusion list).
func synopsPurge(ctx context.Context, tb testing.TB, f *fixture, setPrefix string, ids []string) (took, planning time.Duration, pace rooms.Pacing, err error) {
	var exclude []string
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	all, err := bed.Synapse.Client().AllRooms(ctx, synapse.ListRoomsOptions{PageSize: 1000})
	if err != nil {
		return 0, 0, pace, err
	}
	for _, r := range all {
		if strings.HasPrefix(r.Name, setPrefix) && !want[r.RoomID] {
			exclude = append(exclude, r.RoomID)
		}
	}
	start := time.Now()
	plan, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: "^" + regexp.QuoteMeta(setPrefix), Exclude: exclude})
	if err != nil {
		return 0, 0, pace, err
	}
	planning = time.Since(start)
	if len(picked) != len(ids) {
		return 0, 0, pace, fmt.Errorf("the plan picked %d rooms, want %d", len(picked), len(ids))
	}
	rep, err := f.svc.ApplyPurge(ctx, plan, approve(tb, plan), nil)
	took = time.Since(start)
	if err != nil || rep.Count("deleted") != len(ids) {
		return 0, 0, pace, fmt.Errorf("%v; %d of %d deleted", err, rep.Count("deleted"), len(ids))
	}
	return took, planning, rep.Pacing, nil
}

func benchRooms() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("SYNOPS_BENCH_ROOMS"), &n); err == nil && n > 1 {
		return n
	}
	return 100
}

// BenchmarkPurgeLargeRooms deletes 20 rooms of a few thousand events each
// (SYNOPS_BENCH_LARGE_EVENTS, default 2000 messages) with synops' purge:
// rooms far over rooms.purge.sync_delete_max, so each goes through
// Synapse's background delete, followed to its end, and no HTTP request
// lasts as long as a deletion. It prints the time a room and the longest
// any room held its slot, to set against the client's 15s per request.
// Seeding the events through the client API takes most of its time.
var large struct {
	once, logged  sync.Once
	rooms         int
	events        int
	took, seeding time.Duration
	pacing        rooms.Pacing
	background    int
	err           error
}

func BenchmarkPurgeLargeRooms(b *testing.B) {
	large.once.Do(func() { large.err = runLarge(b) })
	if large.err != nil {
		b.Fatal(large.err)
	}
	b.ReportMetric(large.took.Seconds()/float64(large.rooms), "s/room")
	b.ReportMetric(large.pacing.Slowest.Seconds(), "s-slowest-room")
	large.logged.Do(func() {
		b.Logf("purge of %d large rooms (%d messages each, seeded in %s): %.1fs, %.2f s/room; %d by background delete; the slowest held its slot %.1fs (a synchronous DELETE would have had to last that long; the client gives a request 15s)",
			large.rooms, large.events, large.seeding.Round(time.Second), large.took.Seconds(), large.took.Seconds()/float64(large.rooms), large.background, large.pacing.Slowest.Seconds())
		b.Logf("  concurrency %s of at most %d, peak %d", limits(large.pacing.Limits), large.pacing.Max, large.pacing.Peak)
	})
}

func runLarge(b *testing.B) error {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	const n = 20
	events := 2000
	if v, err := strconv.Atoi(os.Getenv("SYNOPS_BENCH_LARGE_EVENTS")); err == nil && v > 0 {
		events = v
	}
	large.rooms, large.events = n, events
	p := prefix("large")
	users, err := bed.Synapse.SeedUsers(ctx, p+"u", 2)
	if err != nil {
		return err
	}
	specs := make([]synapsetest.RoomSpec, n)
	for i := range specs {
		specs[i] = synapsetest.RoomSpec{Name: fmt.Sprintf("%s%02d", p, i), Creator: &users[0], Members: []synapsetest.SeededUser{users[1]}}
	}
	start := time.Now()
	ids, err := bed.Synapse.SeedRoomsWidth(ctx, specs, 8)
	if err != nil {
		return err
	}
	// Both members send, each its half, so that Synapse always has a
	// second event of a room to persist with the first.
	errs := make(chan error, 2*n)
	for _, id := range ids {
		for u := range 2 {
			go func() {
				for j := u; j < events; j += 2 {
					if err := bed.Synapse.SendText(ctx, users[u].Token, id, fmt.Sprintf("message %d", j)); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			return fmt.Errorf("seed large rooms: %w", err)
		}
	}
	large.seeding = time.Since(start)
	waitListed(b, ids, nil)
	f := newFixture(b)
	for i, id := range ids {
		if i%5 == 0 {
			f.addRefs(b, id)
		}
	}
	if err := bed.WaitSettled(ctx, 2*time.Minute); err != nil {
		return err
	}
	f.svc.Now = fixedClock(time.Now().Add(purgeAge + time.Hour))
	start = time.Now()
	plan, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: "^" + regexp.QuoteMeta(p)})
	if err != nil {
		return err
	}
	if len(picked) != n {
		return fmt.Errorf("the plan picked %d rooms, want %d", len(picked), n)
	}
	rep, err := f.svc.ApplyPurge(ctx, plan, approve(b, plan), nil)
	large.took = time.Since(start)
	if err != nil || rep.Count("deleted") != n {
		return fmt.Errorf("%v; %d of %d deleted", err, rep.Count("deleted"), n)
	}
	for _, o := range rep.Outcomes {
		if !o.Synchronous && o.DeleteID != "" {
			large.background++
		}
	}
	large.pacing = rep.Pacing
	return nil
}

// BenchmarkSelect10k times what a purge reads before it deletes anything,
// on a server with 10,000 rooms more (SYNOPS_BENCH_SCALE_ROOMS), both ways:
// with Synapse's database configured (creation times and newest events in
// one query each) and without it (the admin API, one request per room for
// each, 8 at a time). Listing every room is the same either way.
//
// The 10,000 rooms are copies, written into Synapse's database
// (testbed.CloneRooms), of one room created through the API (2 members, 5
// messages), their histories shifted back 0 to 59 days, so a 30-day cut-off
// takes about half. Synapse's room list, details, state and messages APIs
// read them like any room; the benchmark checks a few before it starts and
// removes them all at the end.
var scale struct {
	once, logged                              sync.Once
	rooms, picked, pickedAPI                  int
	list, dryDB, dryAPI, inDB, inAPI, cloning time.Duration
	plan                                      string
	err                                       error
}

func BenchmarkSelect10k(b *testing.B) {
	scale.once.Do(func() { scale.err = runScale(b) })
	if scale.err != nil {
		b.Fatal(scale.err)
	}
	b.ReportMetric(scale.list.Seconds(), "s-list")
	b.ReportMetric(scale.dryDB.Seconds(), "s-dry-run-db")
	b.ReportMetric(scale.dryAPI.Seconds(), "s-dry-run-api")
	b.ReportMetric(scale.inDB.Seconds(), "s-inactive-db")
	b.ReportMetric(scale.inAPI.Seconds(), "s-inactive-api")
	scale.logged.Do(func() {
		b.Logf("selection on a server with %d rooms more (%d of them older than the cut-off; copies written in %s):", scale.rooms, scale.picked, scale.cloning.Round(time.Millisecond))
		b.Logf("  list every room (admin API, 1000 a page):          %6.2fs", scale.list.Seconds())
		b.Logf("  rooms purge --older-than 30d, with Synapse's DB:  %6.2fs   without (API): %6.2fs", scale.dryDB.Seconds(), scale.dryAPI.Seconds())
		b.Logf("  rooms purge --older-than 30d --inactive, with DB: %6.2fs   without (API): %6.2fs  (%.1f ms a room through the API)",
			scale.inDB.Seconds(), scale.inAPI.Seconds(), float64(scale.inAPI.Milliseconds())/float64(scale.rooms))
		b.Logf("  RATIO --inactive without ÷ with Synapse's DB = %.0f", scale.inAPI.Seconds()/scale.inDB.Seconds())
		b.Logf("  the newest events of %d rooms in one query: %s", scale.rooms, scale.plan)
	})
}

func runScale(b *testing.B) error {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("SYNOPS_BENCH_SCALE_ROOMS")); err == nil && v > 0 {
		n = v
	}
	scale.rooms = n
	p := prefix("scale")
	users, err := bed.Synapse.SeedUsers(ctx, p+"u", 2)
	if err != nil {
		return err
	}
	tmpl, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: p + "template", Creator: &users[0], Members: []synapsetest.SeededUser{users[1]}, Messages: 5})
	if err != nil {
		return err
	}
	waitListed(b, []string{tmpl}, nil)
	start := time.Now()
	ids, remove, err := bed.CloneRooms(ctx, tmpl, n,
		func(i int) string { return fmt.Sprintf("Event: %s%05d", p, i) },
		func(i int) time.Duration { return time.Duration(i%60) * 24 * time.Hour })
	if err != nil {
		return err
	}
	defer func() {
		if err := remove(context.Background()); err != nil {
			b.Errorf("remove the clones: %v", err)
		}
	}()
	// Synapse serves history up to the newest position it wrote itself; an
	// event of its own moves that past the copies.
	if err := bed.Synapse.SendText(ctx, users[0].Token, tmpl, "after the copies"); err != nil {
		return err
	}
	scale.cloning = time.Since(start)
	cl := bed.Synapse.Client()
	for _, id := range []string{ids[0], ids[n/2], ids[n-1]} {
		d, err := cl.Room(ctx, id)
		if err != nil || d.JoinedMembers != 2 {
			return fmt.Errorf("a copy through the room API: %+v, %v", d, err)
		}
		if _, err := cl.RoomCreatedAt(ctx, id); err != nil {
			return fmt.Errorf("a copy through the state API: %w", err)
		}
		if last, err := cl.RoomLastEventAt(ctx, id); err != nil || last.IsZero() {
			return fmt.Errorf("a copy through the messages API: %s, %v", last, err)
		}
	}
	f := newFixture(b)
	api := &rooms.Service{Synapse: f.svc.Synapse, App: f.svc.App, Guard: f.svc.Guard, Server: f.svc.Server}
	if _, err := f.synDB.Exec(ctx, `ANALYZE events`); err != nil {
		return err
	}
	rows, err := f.synDB.Query(ctx, "EXPLAIN "+rooms.NewestEventSQL, ids)
	if err != nil {
		return err
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	whole := strings.Join(plan, "\n")
	if !strings.Contains(whole, "Index Scan Backward using events_order_room") || strings.Contains(whole, "Seq Scan on events") {
		return fmt.Errorf("the newest-event query does not walk events_order_room:\n%s", whole)
	}
	for _, l := range plan {
		if strings.Contains(l, "events_order_room") {
			scale.plan = strings.TrimLeft(l, " ->")
		}
	}

	start = time.Now()
	all, err := f.svc.List(ctx)
	scale.list = time.Since(start)
	if err != nil {
		return err
	}
	if len(all) < n {
		return fmt.Errorf("the room list has %d rooms, want at least the %d copies", len(all), n)
	}
	crit := rooms.Criteria{OlderThan: purgeAge}
	inactive := rooms.Criteria{OlderThan: purgeAge, Inactive: true}
	for _, run := range []struct {
		svc    *rooms.Service
		c      rooms.Criteria
		took   *time.Duration
		picked *int
	}{
		{f.svc, crit, &scale.dryDB, &scale.picked},
		{f.svc, inactive, &scale.inDB, nil},
		{api, crit, &scale.dryAPI, &scale.pickedAPI},
		{api, inactive, &scale.inAPI, nil},
	} {
		start := time.Now()
		_, picked, err := run.svc.PlanPurge(ctx, run.c)
		*run.took = time.Since(start)
		if err != nil {
			return err
		}
		if run.picked != nil {
			*run.picked = len(picked)
		}
		if len(picked) < n/3 {
			return fmt.Errorf("a plan picked only %d rooms", len(picked))
		}
	}
	if scale.picked != scale.pickedAPI {
		return fmt.Errorf("the database picked %d rooms, the API %d", scale.picked, scale.pickedAPI)
	}
	return nil
}
