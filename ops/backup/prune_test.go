package backup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"synops/ops"
)

// fakeList is entries taken at the given ages before now, newest first,
// all of kind backup, with the given states ("" passed).
func fakeList(now time.Time, ages []time.Duration, states map[int]string) []Entry {
	var out []Entry
	for i, a := range ages {
		st := states[i]
		if st == "" {
			st = Passed
		}
		t := now.Add(-a)
		out = append(out, Entry{ID: newID(t), State: st, Manifest: &Manifest{Kind: KindBackup, TakenAt: t}})
	}
	return out
}

func removedAges(pp *PrunePreview, list []Entry, now time.Time) []string {
	var out []string
	for i, it := range pp.Items {
		if it.Remove {
			out = append(out, FormatAge(now.Sub(list[i].TakenAt())))
		}
	}
	return out
}

func TestPruneDecides(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.Local)
	day := 24 * time.Hour
	month := 30 * day
	tests := []struct {
		name   string
		ages   []time.Duration
		states map[int]string
		r      Retention
		remove []int // indexes into ages
		halted string
	}{
		{"by age, as seed 004's find -mtime +30 -delete",
			[]time.Duration{day, 10 * day, 35 * day, 40 * day}, nil,
			Retention{MaxAge: month, Keep: 1}, []int{2, 3}, ""},
		{"the newest verified backup stays, however old",
			[]time.Duration{day, 2 * day, 40 * day, 50 * day}, map[int]string{0: Never, 1: Never},
			Retention{MaxAge: month, Keep: 1}, []int{3}, ""},
		{"nothing goes while the newest backup failed",
			[]time.Duration{time.Hour, 35 * day, 40 * day}, map[int]string{0: Failed},
			Retention{MaxAge: month, Keep: 1}, nil, "failed its verification"},
		{"an older failure does not halt",
			[]time.Duration{time.Hour, 2 * day, 40 * day}, map[int]string{1: Failed},
			Retention{MaxAge: month, Keep: 1}, []int{2}, ""},
		{"keep counts the newest beyond the age",
			[]time.Duration{40 * day, 41 * day, 42 * day, 43 * day}, nil,
			Retention{MaxAge: month, Keep: 3}, []int{3}, ""},
		{"no maximum age removes nothing",
			[]time.Duration{day, 400 * day}, nil,
			Retention{Keep: 1}, nil, ""},
		{"untrusted entries are left alone",
			[]time.Duration{day, 40 * day}, map[int]string{1: Invalid},
			Retention{MaxAge: month, Keep: 1}, nil, ""},
		{"keep daily",
			[]time.Duration{40 * day, 40*day + time.Hour, 41 * day, 42 * day, 43 * day}, nil,
			Retention{MaxAge: month, Keep: 1, KeepDaily: 2}, []int{1, 3, 4}, ""},
		{"keep weekly and monthly",
			// 2026-05-06 (W19), 05-04 (W19), 04-26 (W17), 04-16 (W16), 03-17, 02-15
			[]time.Duration{40 * day, 42 * day, 50 * day, 60 * day, 90 * day, 120 * day}, nil,
			Retention{MaxAge: month, Keep: 1, KeepWeekly: 2, KeepMonthly: 3}, []int{1, 3, 5}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := fakeList(now, tt.ages, tt.states)
			pp := prune(list, tt.r, now)
			var got []int
			for i, it := range pp.Items {
				if it.Remove {
					got = append(got, i)
				}
				t.Logf("%s %s remove=%v: %s", it.ID, it.State, it.Remove, it.Why)
			}
			if tt.halted != "" {
				if !strings.Contains(pp.Halted, tt.halted) {
					t.Errorf("halted %q, want %q", pp.Halted, tt.halted)
				}
				got = nil // PlanPrune removes nothing when halted
			}
			if !slices.Equal(got, tt.remove) {
				t.Errorf("removes %v, want %v", got, tt.remove)
			}
		})
	}
}

func TestPrunePlanAndApply(t *testing.T) {
	c, k := testCatalog(t)
	now := time.Now()
	day := 24 * time.Hour
	var ids []string
	for _, age := range []time.Duration{time.Hour, 40 * day, 50 * day} {
		id := newID(now.Add(-age))
		plant(t, c, planted{id: id, file: "db.zst", content: "dump " + id, taken: now.Add(-age), state: Passed, sign: k})
		ids = append(ids, id)
	}
	stale := filepath.Join(c.Dir, ".partial-"+newID(now.Add(-2*time.Hour)))
	live := filepath.Join(c.Dir, ".partial-"+newID(now))
	for _, d := range []string{stale, live} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := lockFile(filepath.Join(live, ".lock")) // a backup being written right now
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()

	f := newFixture(t)
	f.svc.Catalog = c
	ctx := ctxT(t, time.Minute)
	p, pp, err := f.svc.PlanPrune(ctx, Retention{MaxAge: 30 * day, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, it := range pp.Removed() {
		gone = append(gone, it.ID)
	}
	want := []string{ids[1], ids[2], filepath.Base(stale)}
	if !slices.Equal(gone, want) {
		t.Fatalf("plan removes %v, want %v", gone, want)
	}
	// The plan is the dry run: everything is still there.
	if list, _ := c.List(ctx); len(list) != 3 {
		t.Errorf("planning removed entries: %d left", len(list))
	}
	if p.Risk() != ops.Destructive || p.Target != f.svc.Server {
		t.Errorf("plan risk %s target %q, want destructive, the server name", p.Risk(), p.Target)
	}
	if _, err := f.svc.ApplyPrune(ctx, p, ops.Approval{}, nil); !errors.Is(err, ops.ErrNotApproved) {
		t.Errorf("apply without approval: %v", err)
	}
	f.guard.ReadOnly = true
	a, _ := ops.Approve(p, f.svc.Server, time.Now())
	if _, err := f.svc.ApplyPrune(ctx, p, a, nil); !errors.Is(err, ops.ErrReadOnly) {
		t.Errorf("apply in read-only mode: %v", err)
	}
	f.guard.ReadOnly = false
	// A newer backup failed its verification since the plan: nothing goes.
	failed := newID(now.Add(-time.Minute))
	plant(t, c, planted{id: failed, file: "db.zst", content: "failed", taken: now.Add(-time.Minute), state: Failed, sign: k})
	if _, err := f.svc.ApplyPrune(ctx, p, a, nil); err == nil || !strings.Contains(err.Error(), "failed its verification") {
		t.Errorf("apply after the newest failed: %v", err)
	}
	if list, _ := c.List(ctx); len(list) != 4 {
		t.Errorf("%d entries after a halted prune, want all 4", len(list))
	}
	if err := os.RemoveAll(filepath.Join(c.Dir, failed)); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.ApplyPrune(ctx, p, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, want) || res.Freed <= 0 {
		t.Errorf("removed %v (%d bytes), want %v", res.Removed, res.Freed, want)
	}
	left, other := entries(t, c)
	if !slices.Equal(left, ids[:1]) || !slices.Equal(other, []string{filepath.Base(live)}) {
		t.Errorf("left %v and %v; want %s and the backup being written", left, other, ids[0])
	}
}
