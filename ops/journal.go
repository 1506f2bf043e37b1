package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"
)

// Record is one entry of a Journal: a room being deleted, an account being
// disabled. Unfinished says a later run has work left on it; Expired that
// the entry has served its purpose and may be dropped when the file is next
// written.
type Record interface {
	Key() string
	Unfinished() bool
	Expired(now time.Time) bool
	Touched() time.Time
	// Clone is a copy that shares nothing the journal keeps.
	Clone() any
}

// Journal records multi-step operations in a small state file (written
// atomically, mode 0600) so that one interrupted by a restart of Synapse, a
// killed synops or a reboot can be finished by the next run. It holds IDs,
// stages and counts, never a secret.
type Journal[R Record] struct {
	mu      sync.Mutex // guards entries and gen
	path    string
	what    string // "room journal": names the file in errors
	entries map[string]R
	gen     uint64 // counts changes to entries

	wmu     sync.Mutex // one file write at a time
	written uint64     // the gen the file on disk holds
}

// OpenJournal reads the journal at path; a missing file is an empty journal.
func OpenJournal[R Record](path, what string) (*Journal[R], error) {
	j := &Journal[R]{path: path, what: what, entries: map[string]R{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var list []R
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("%s %s is damaged (%v): move it aside to start afresh", what, path, err)
	}
	for _, e := range list {
		j.entries[e.Key()] = e
	}
	return j, nil
}

// Get returns a copy of the entry for key.
func (j *Journal[R]) Get(key string) (R, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[key]
	if !ok {
		var zero R
		return zero, false
	}
	return e.Clone().(R), true
}

// Unfinished lists copies of the entries that still need work, oldest first.
func (j *Journal[R]) Unfinished() []R {
	j.mu.Lock()
	var out []R
	for _, e := range j.entries {
		if e.Unfinished() {
			out = append(out, e.Clone().(R))
		}
	}
	j.mu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].Touched().Before(out[b].Touched()) })
	return out
}

// Set records e and returns once the file on disk holds it (temp file,
// fsync, rename); expired entries are dropped from it.
//
// Concurrent calls share writes (a group commit): while one call writes,
// the others wait, and the next write carries every entry set meanwhile, so
// a purge's workers do not queue up one fsync each behind a single lock.
// No call returns before a write that includes its entry has succeeded.
func (j *Journal[R]) Set(e R) error {
	j.mu.Lock()
	j.entries[e.Key()] = e.Clone().(R)
	j.gen++
	mine := j.gen
	j.mu.Unlock()
	return j.flush(mine)
}

// Remove forgets key (a request that provably never left) and returns once
// the file on disk no longer holds it.
func (j *Journal[R]) Remove(key string) error {
	j.mu.Lock()
	delete(j.entries, key)
	j.gen++
	mine := j.gen
	j.mu.Unlock()
	return j.flush(mine)
}

// flush returns once the file holds change number mine or a later one.
func (j *Journal[R]) flush(mine uint64) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.written >= mine {
		return nil // a write that began after our change carried it
	}
	j.mu.Lock()
	now := time.Now()
	list := make([]R, 0, len(j.entries))
	for k, x := range j.entries {
		if x.Expired(now) {
			delete(j.entries, k)
			continue
		}
		list = append(list, x)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Key() < list[b].Key() })
	data, err := json.MarshalIndent(list, "", "  ")
	gen := j.gen
	j.mu.Unlock()
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(j.path, data); err != nil {
		return err
	}
	j.written = gen
	return nil
}
