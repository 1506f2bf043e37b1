package rooms_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"synops/ops/rooms"
	"synops/synapse/synapsetest"
)

// purgeBench holds the one measurement BenchmarkRetentionPurge500 makes.
var purgeBench struct {
	once                   sync.Once
	concurrent, sequential time.Duration
	concurrency, rooms     int
}

// BenchmarkRetentionPurge500 seeds 1000 rooms that are old by the service's
// clock (two sets of 500, seeded at the same time), then times the retention
// purge of set 1 with the default concurrency and, as the baseline, of set 2
// one room at a time (Concurrency 1: delete, wait for Synapse with the same
// 100ms poll, clear the app references, next room). Every fifth room has app
// references, as OpenMeet's event rooms do.
//
// Seeding takes most of the time (about 5 rooms a second on two cores), so
// the whole benchmark runs for several minutes; SYNOPS_BENCH_ROOMS=100 makes
// the sets smaller for a quick look.
//
// It measures once, whatever b.N is: the work runs on the first call and
// later calls (-benchtime=Nx, -count) report the same figures. ns/op is the
// two timed purges together on that first call; read s/concurrent,
// s/sequential and x-speedup instead.
func BenchmarkRetentionPurge500(b *testing.B) {
	purgeBench.once.Do(func() { measurePurge(b) })
	if purgeBench.concurrent == 0 {
		b.Fatal("the measurement failed in an earlier run")
	}
	conc, seq := purgeBench.concurrent.Seconds(), purgeBench.sequential.Seconds()
	b.ReportMetric(conc, "s/concurrent")
	b.ReportMetric(seq, "s/sequential")
	b.ReportMetric(seq/conc, "x-speedup")
	b.Logf("retention purge of %d rooms: %.1fs with %d at a time, %.1fs one at a time: %.2fx faster",
		purgeBench.rooms, conc, purgeBench.concurrency, seq, seq/conc)
}

func measurePurge(b *testing.B) {
	b.StopTimer()
	n := benchRooms()
	purgeBench.rooms = n
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	p := prefix("bench")
	sets := [2][]string{}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	seedStart := time.Now()
	for s := range sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			specs := make([]synapsetest.RoomSpec, n)
			for i := range specs {
				specs[i] = synapsetest.RoomSpec{Name: fmt.Sprintf("%ss%d-%03d", p, s+1, i)}
			}
			sets[s], errs[s] = bed.Synapse.SeedRooms(ctx, specs)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	waitListed(b, append(append([]string{}, sets[0]...), sets[1]...), nil)
	b.Logf("seeded %d rooms in %s", 2*n, time.Since(seedStart).Round(time.Second))
	if err := bed.WaitSettled(context.Background(), 2*time.Minute); err != nil {
		b.Fatal(err)
	}

	old := fixedClock(time.Now().Add(purgeAge + time.Hour))
	run := func(set int, concurrency int) time.Duration {
		f := newFixture(b)
		for i, id := range sets[set] {
			if i%5 == 0 {
				f.addRefs(b, id)
			}
		}
		f.svc.Now, f.svc.MaxConcurrency = old, concurrency
		plan, picked, err := f.svc.PlanPurge(ctx, rooms.Criteria{OlderThan: purgeAge, Pattern: "^" + regexp.QuoteMeta(fmt.Sprintf("%ss%d-", p, set+1))})
		if err != nil {
			b.Fatal(err)
		}
		if len(picked) != n {
			b.Fatalf("set %d: plan picked %d rooms, want %d", set+1, len(picked), n)
		}
		a := approve(b, plan)
		b.StartTimer()
		start := time.Now()
		rep, err := f.svc.ApplyPurge(ctx, plan, a, nil)
		took := time.Since(start)
		b.StopTimer()
		if err != nil || rep.Count("deleted") != n {
			b.Fatalf("set %d: %v; %d of %d deleted", set+1, err, rep.Count("deleted"), n)
		}
		for i, id := range sets[set] {
			if i%5 == 0 {
				if ev, ch := f.refs(b, id); ev+ch != 0 {
					b.Fatalf("room %s still referenced", id)
				}
			}
		}
		return took
	}
	purgeBench.concurrent = run(0, 0) // 0: Service's default
	purgeBench.concurrency = 4        // that default (Service.Concurrency's doc)
	purgeBench.sequential = run(1, 1)
}

func benchRooms() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("SYNOPS_BENCH_ROOMS"), &n); err == nil && n > 0 {
		return n
	}
	return 500
}
