package ops

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type step struct {
	ID    string `json:"id"`
	Stage string `json:"stage"`
}

func (s step) Key() string            { return s.ID }
func (s step) Unfinished() bool       { return s.Stage != "done" }
func (s step) Expired(time.Time) bool { return false }
func (s step) Touched() time.Time     { return time.Time{} }
func (s step) Clone() any             { return s }
func openSteps(t *testing.T, path string) *Journal[step] {
	t.Helper()
	j, err := OpenJournal[step](path, "test journal")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// onDisk is what a third reader, opening the file afresh, finds.
func onDisk(t *testing.T, path string) map[string]string {
	t.Helper()
	j := openSteps(t, path)
	out := map[string]string{}
	for k, e := range j.entries {
		out[k] = e.Stage
	}
	return out
}

// Two processes with the journal open (the console, a purge from cron)
// keep each other's entries: each writes only what it changed, and reads
// what the other wrote.
func TestJournalSharedByTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.json")
	console, cron := openSteps(t, path), openSteps(t, path)

	if err := console.Set(step{"!a", "requested"}); err != nil {
		t.Fatal(err)
	}
	if err := cron.Set(step{"!b", "requested"}); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, path); got["!a"] != "requested" || got["!b"] != "requested" || len(got) != 2 {
		t.Fatalf("file holds %v, want both processes' entries", got)
	}
	if e, ok := cron.Get("!a"); !ok || e.Stage != "requested" {
		t.Errorf("cron reads !a as %+v %v, want the console's entry", e, ok)
	}

	// The console moves !a on; cron, whose copy of !a is older, writes !b:
	// the console's !a stays.
	if err := console.Set(step{"!a", "done"}); err != nil {
		t.Fatal(err)
	}
	if err := cron.Set(step{"!b", "deleting"}); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, path); got["!a"] != "done" || got["!b"] != "deleting" {
		t.Fatalf("file holds %v, want !a done (console) and !b deleting (cron)", got)
	}
	if u := console.Unfinished(); len(u) != 1 || u[0].ID != "!b" || u[0].Stage != "deleting" {
		t.Errorf("console's unfinished: %+v, want cron's !b deleting", u)
	}

	// A removal by one is not undone by the other's next write.
	if err := cron.Remove("!a"); err != nil {
		t.Fatal(err)
	}
	if err := console.Set(step{"!c", "requested"}); err != nil {
		t.Fatal(err)
	}
	if got := onDisk(t, path); len(got) != 2 || got["!b"] != "deleting" || got["!c"] != "requested" {
		t.Fatalf("file holds %v, want !b and !c, !a removed", got)
	}

	// Many writers at once in both: nothing is lost.
	var wg sync.WaitGroup
	for i := range 40 {
		j := console
		if i%2 == 1 {
			j = cron
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.Set(step{fmt.Sprintf("!r%02d", i), "requested"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := onDisk(t, path); len(got) != 42 {
		t.Errorf("file holds %d entries after 40 concurrent writes in two journals, want 42: %v", len(got), got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal file: %v %v, want mode 0600", fi, err)
	}
}
