package rooms

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"synops/ops"
)

// Stage is how far one room's deletion got.
type Stage string

const (
	// StageRequested is written just before the delete request, so that a
	// run that never saw Synapse's answer still knows it may have asked.
	StageRequested   Stage = "requested"
	StageDeleting    Stage = "deleting"     // Synapse accepted the delete; DeleteID tracks it
	StageRefsPending Stage = "refs-pending" // Synapse finished; app references not yet cleared
	StageDone        Stage = "done"
	StageFailed      Stage = "failed"
)

// unfinished reports whether a later run has work left for the room.
func (s Stage) unfinished() bool {
	return s == StageRequested || s == StageDeleting || s == StageRefsPending
}

// Entry is one room in the journal.
type Entry struct {
	RoomID   string `json:"room_id"`
	Name     string `json:"name,omitempty"`
	Stage    Stage  `json:"stage"`
	DeleteID string `json:"delete_id,omitempty"`
	// Sync says the request was the synchronous v1 delete, which leaves no
	// task to follow: a rerun asks Synapse again (see deleteOne).
	Sync    bool      `json:"sync,omitempty"`
	Error   string    `json:"error,omitempty"`
	Updated time.Time `json:"updated"`
}

// Journal records room deletions in a small state file, so a run that was
// interrupted (Synapse stopped, the console quit, the box rebooted) can be
// finished: tasks in flight are polled again instead of started twice, and
// app references are cleared for rooms Synapse already removed.
type Journal struct {
	mu      sync.Mutex // guards entries and gen
	path    string
	entries map[string]*Entry
	gen     uint64 // counts changes to entries

	wmu     sync.Mutex // one file write at a time
	written uint64     // the gen the file on disk holds
}

// OpenJournal reads the journal at path (a missing file is an empty journal).
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{path: path, entries: map[string]*Entry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("room journal: %w", err)
	}
	var list []*Entry
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("room journal %s is damaged (%v): move it aside to start afresh", path, err)
	}
	for _, e := range list {
		j.entries[e.RoomID] = e
	}
	return j, nil
}

// Get returns a copy of roomID's entry.
func (j *Journal) Get(roomID string) (Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[roomID]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Unfinished lists entries that still need work, oldest first.
func (j *Journal) Unfinished() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Entry
	for _, e := range j.entries {
		if e.Stage.unfinished() {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Updated.Before(out[b].Updated) })
	return out
}

// Remove forgets roomID (a request that provably never reached Synapse)
// and returns once the file on disk no longer holds it.
func (j *Journal) Remove(roomID string) error {
	j.mu.Lock()
	delete(j.entries, roomID)
	j.gen++
	mine := j.gen
	j.mu.Unlock()
	return j.flush(mine)
}

// Set records e and returns once the file on disk holds it (temp file,
// fsync, rename). Finished entries older than a week are dropped.
//
// Concurrent calls share writes (a group commit): while one call writes,
// the others wait, and the next write carries every entry set meanwhile, so
// the purge's workers do not queue up one fsync each behind a single lock.
// No call returns before a write that includes its entry has succeeded.
func (j *Journal) Set(e Entry) error {
	j.mu.Lock()
	if e.Updated.IsZero() {
		e.Updated = time.Now().UTC()
	}
	j.entries[e.RoomID] = &e
	j.gen++
	mine := j.gen
	j.mu.Unlock()
	return j.flush(mine)
}

// flush returns once the file holds change number mine or a later one.
func (j *Journal) flush(mine uint64) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.written >= mine {
		return nil // a write that began after our change carried it
	}
	j.mu.Lock()
	list := make([]*Entry, 0, len(j.entries))
	for id, x := range j.entries {
		if (x.Stage == StageDone || x.Stage == StageFailed) && time.Since(x.Updated) > 7*24*time.Hour {
			delete(j.entries, id)
			continue
		}
		list = append(list, x)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].RoomID < list[b].RoomID })
	data, err := json.MarshalIndent(list, "", "  ")
	gen := j.gen
	j.mu.Unlock()
	if err != nil {
		return err
	}
	if err := ops.WriteFileAtomic(j.path, data); err != nil {
		return err
	}
	j.written = gen
	return nil
}
