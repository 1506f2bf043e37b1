package rooms_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"synops/ops/rooms"
)

// Workers that record their rooms at the same moment share file writes;
// every entry must still be on disk once its Set has returned.
func TestJournalConcurrentSetsAllReachTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rooms-journal.json")
	j, err := rooms.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("!room%02d:synops.test", i)
			if errs[i] = j.Set(rooms.Entry{RoomID: id, Stage: rooms.StageRequested}); errs[i] != nil {
				return
			}
			errs[i] = j.Set(rooms.Entry{RoomID: id, Stage: rooms.StageDeleting, DeleteID: fmt.Sprintf("del%02d", i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Set of room %d: %v", i, err)
		}
	}
	again, err := rooms.OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(again.Unfinished()); got != n {
		t.Fatalf("the file holds %d unfinished rooms, want %d", got, n)
	}
	for i := range n {
		e, ok := again.Get(fmt.Sprintf("!room%02d:synops.test", i))
		if !ok || e.Stage != rooms.StageDeleting || e.DeleteID != fmt.Sprintf("del%02d", i) {
			t.Errorf("room %d on disk: %+v (found %v), want stage deleting with its delete ID", i, e, ok)
		}
	}
}
