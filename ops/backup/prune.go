package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"synops/ops"
)

// Retention says which backups prune removes: those older than MaxAge,
// except the Keep newest and the newest of each of the last KeepDaily
// days, KeepWeekly ISO weeks and KeepMonthly months. The newest verified
// backup is never removed, and nothing is removed while the newest backup
// of Synapse has failed its verification.
type Retention struct {
	MaxAge      time.Duration `json:"max_age"` // 0: nothing goes by age
	Keep        int           `json:"keep"`
	KeepDaily   int           `json:"keep_daily"`
	KeepWeekly  int           `json:"keep_weekly"`
	KeepMonthly int           `json:"keep_monthly"`
}

// PruneItem is one entry and what prune does with it, and why.
type PruneItem struct {
	ID      string    `json:"id"`
	TakenAt time.Time `json:"taken_at,omitzero"`
	Size    int64     `json:"size"`
	State   string    `json:"state"`
	Remove  bool      `json:"remove"`
	Why     string    `json:"why"`
}

// PrunePreview is what a prune plan found.
type PrunePreview struct {
	Items []PruneItem `json:"items"`
	// Halted says why nothing is removed at all, when so.
	Halted string `json:"halted,omitempty"`
}

// Removed is the items that go.
func (pp *PrunePreview) Removed() []PruneItem {
	var out []PruneItem
	for _, it := range pp.Items {
		if it.Remove {
			out = append(out, it)
		}
	}
	return out
}

// PruneResult is what a prune removed.
type PruneResult struct {
	Removed []string `json:"removed"`
	Freed   int64    `json:"freed"`
}

type pruneParams struct {
	Remove []string `json:"remove"`
}

// PlanPrune says which backups r removes and why each one stays or goes.
// It is the dry run: it removes nothing.
func (s *Service) PlanPrune(ctx context.Context, r Retention) (*ops.Plan, *PrunePreview, error) {
	if s.Catalog == nil || s.Catalog.Dir == "" {
		return nil, nil, errors.New("no backup directory: set backup.dir in the profile or pass --backup-dir")
	}
	list, err := s.Catalog.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	pp := prune(list, r, s.now())
	pp.Items = append(pp.Items, s.Catalog.stalePartials()...)
	if pp.Halted != "" {
		for i := range pp.Items {
			pp.Items[i].Remove = false
		}
	}
	p := ops.NewPlan("backup.prune", s.Server, s.Server, s.Environment, s.now())
	var ids []string
	var freed int64
	for _, it := range pp.Removed() {
		ids = append(ids, it.ID)
		freed += it.Size
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("remove %s (%s)", it.ID, it.Why), Risk: ops.Destructive})
	}
	switch {
	case pp.Halted != "":
		p.Impact = []string{"nothing is removed: " + pp.Halted}
	case len(ids) == 0:
		p.Impact = []string{"nothing to remove"}
	default:
		p.Impact = []string{fmt.Sprintf("%d backups go, %s freed; %d stay", len(ids), textBytes(freed), len(pp.Items)-len(ids))}
	}
	p.Params, _ = json.Marshal(pruneParams{Remove: ids})
	return p, pp, nil
}

// prune decides, for entries newest first.
func prune(list []Entry, r Retention, now time.Time) *PrunePreview {
	pp := &PrunePreview{}
	keep := map[string]string{}
	mark := func(id, why string) {
		if _, ok := keep[id]; !ok {
			keep[id] = why
		}
	}
	newest := true
	for _, e := range list {
		if e.Kind() != KindBackup {
			continue
		}
		if newest && e.State == Failed {
			pp.Halted = fmt.Sprintf("the newest backup, %s, failed its verification (%s): prune waits until a backup verifies", e.ID, e.Problem)
		}
		newest = false
		if e.Verified() {
			mark(e.ID, "the newest verified backup: never removed")
			break
		}
	}
	periods := []struct {
		n    int
		name string
		of   func(time.Time) string
	}{
		{r.KeepDaily, "day", func(t time.Time) string { return t.Format("2006-01-02") }},
		{r.KeepWeekly, "week", func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{r.KeepMonthly, "month", func(t time.Time) string { return t.Format("2006-01") }},
	}
	seen := make([]map[string]bool, len(periods))
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	kept := 0
	for _, e := range list {
		if e.State == Invalid {
			mark(e.ID, "not trusted ("+e.Problem+"): left for you to look at")
			continue
		}
		if kept < r.Keep {
			kept++
			mark(e.ID, fmt.Sprintf("one of the %d newest", r.Keep))
		}
		t := e.TakenAt().Local()
		for i, per := range periods {
			k := per.of(t)
			if per.n > 0 && !seen[i][k] && len(seen[i]) < per.n {
				seen[i][k] = true
				mark(e.ID, fmt.Sprintf("newest of %s %s", per.name, k))
			}
		}
		if r.MaxAge <= 0 {
			mark(e.ID, "no maximum age is set")
		} else if age := now.Sub(e.TakenAt()); age <= r.MaxAge {
			mark(e.ID, fmt.Sprintf("younger than %s", FormatAge(r.MaxAge)))
		}
	}
	for _, e := range list {
		it := PruneItem{ID: e.ID, TakenAt: e.TakenAt(), Size: e.Size(), State: e.State}
		if why, ok := keep[e.ID]; ok {
			it.Why = why
		} else {
			it.Remove, it.Why = true, fmt.Sprintf("%s old, older than %s", FormatAge(now.Sub(e.TakenAt())), FormatAge(r.MaxAge))
		}
		pp.Items = append(pp.Items, it)
	}
	return pp
}

// stalePartials are directories of backups whose writer is gone (killed,
// rebooted): nobody holds their lock.
func (c *Catalog) stalePartials() []PruneItem {
	des, err := os.ReadDir(c.Dir)
	if err != nil {
		return nil
	}
	var out []PruneItem
	for _, de := range des {
		name := de.Name()
		if !de.IsDir() || !(strings.HasPrefix(name, ".partial-") || strings.HasPrefix(name, ".deleting-")) {
			continue
		}
		dir := filepath.Join(c.Dir, name)
		if strings.HasPrefix(name, ".partial-") {
			f, err := lockFile(filepath.Join(dir, ".lock"))
			if err != nil {
				continue // being written now
			}
			f.Close()
		}
		out = append(out, PruneItem{ID: name, Size: dirSize(dir), State: "unfinished", Remove: true, Why: "left by a run that stopped midway"})
	}
	return out
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// prunable is an entry or a leftover directory of one, and nothing else.
func prunable(id string) bool {
	if strings.ContainsAny(id, "/\\") {
		return false
	}
	rest, ok := strings.CutPrefix(id, ".partial-")
	if !ok {
		rest, ok = strings.CutPrefix(id, ".deleting-")
	}
	if ok {
		return ValidID(rest)
	}
	return ValidID(id)
}

// ApplyPrune removes what the plan listed, after checking again that none
// of it has become the newest verified backup meanwhile.
func (s *Service) ApplyPrune(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*PruneResult, error) {
	var params pruneParams
	if p.Kind != "backup.prune" || json.Unmarshal(p.Params, &params) != nil {
		return nil, errors.New("apply prune: not a prune plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	progress = progressTo(progress)
	res := &PruneResult{}
	err = s.prune(ctx, params.Remove, res, progress)
	finish(err, res)
	return res, err
}

func (s *Service) prune(ctx context.Context, ids []string, res *PruneResult, progress func(ops.Progress)) error {
	// The catalog may have changed since the plan: a newer backup verified
	// (then what it protects moved) or failed (then nothing goes).
	sum, err := s.Catalog.Summary(ctx)
	if err != nil {
		return err
	}
	if sum.Newest != nil && sum.Newest.State == Failed {
		return fmt.Errorf("prune: the newest backup, %s, failed its verification since the plan was made: nothing was removed", sum.Newest.ID)
	}
	newest := ""
	if sum.NewestVerified != nil {
		newest = sum.NewestVerified.ID
	}
	for i, id := range ids {
		if id == newest {
			return fmt.Errorf("prune: %s is now the newest verified backup; plan again", id)
		}
		if !prunable(id) {
			return fmt.Errorf("prune: %q is not a catalog entry", id)
		}
		dir := filepath.Join(s.Catalog.Dir, id)
		size := dirSize(dir)
		// Out of the catalog in one rename, then deleted: a crash midway
		// leaves a .deleting- directory, never a half-deleted entry.
		gone := dir
		if ValidID(id) {
			gone = filepath.Join(s.Catalog.Dir, ".deleting-"+id)
			if err := os.Rename(dir, gone); err != nil {
				return fmt.Errorf("prune %s: %w", id, err)
			}
			if err := syncDir(s.Catalog.Dir); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(gone); err != nil {
			return fmt.Errorf("prune %s: %w", id, err)
		}
		res.Removed = append(res.Removed, id)
		res.Freed += size
		s.logf("pruned %s (%s)", id, textBytes(size))
		progress(ops.Progress{Item: id, Stage: "removed", Done: i + 1, Total: len(ids), Detail: textBytes(size)})
	}
	return syncDir(s.Catalog.Dir)
}
