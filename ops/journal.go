package ops

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
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
//
// Several processes may share the file (a console left open for days, a
// purge from cron): every write takes a lock beside it (path.lock), reads
// the file again and changes only the entries this process changed, and a
// read notices when another process has written since.
type Journal[R Record] struct {
	mu      sync.Mutex // guards entries, dirty, gen and seen
	path    string
	what    string // "room journal": names the file in errors
	entries map[string]R
	dirty   map[string]uint64 // keys changed here and not yet written: the gen of the change
	gen     uint64            // counts changes to entries
	seen    os.FileInfo       // the file as last read or written here (nil: none)

	wmu     sync.Mutex // one file write at a time
	written uint64     // the gen the file on disk holds
}

// OpenJournal reads the journal at path; a missing file is an empty journal.
func OpenJournal[R Record](path, what string) (*Journal[R], error) {
	j := &Journal[R]{path: path, what: what, dirty: map[string]uint64{}}
	entries, fi, err := j.read()
	if err != nil {
		return nil, err
	}
	j.entries, j.seen = entries, fi
	return j, nil
}

// read reads the file as it is now; a missing file is no entries.
func (j *Journal[R]) read() (map[string]R, os.FileInfo, error) {
	entries := map[string]R{}
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return entries, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", j.what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", j.what, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", j.what, err)
	}
	var list []R
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, nil, fmt.Errorf("%s %s is damaged (%v): move it aside to start afresh", j.what, j.path, err)
	}
	for _, e := range list {
		entries[e.Key()] = e
	}
	return entries, fi, nil
}

// merge takes disk as the entries, except those changed here and not yet
// written. j.mu is held.
func (j *Journal[R]) merge(disk map[string]R, fi os.FileInfo) {
	for k := range j.dirty {
		if e, ok := j.entries[k]; ok {
			disk[k] = e
		} else {
			delete(disk, k)
		}
	}
	j.entries, j.seen = disk, fi
}

// refresh reads the file again when another process has replaced it since
// it was last read or written here. j.mu is held. A file that cannot be
// read leaves the entries as they were: the next write says why.
func (j *Journal[R]) refresh() {
	fi, err := os.Stat(j.path)
	if err != nil || j.seen != nil && os.SameFile(fi, j.seen) && fi.ModTime().Equal(j.seen.ModTime()) && fi.Size() == j.seen.Size() {
		return
	}
	if disk, fi, err := j.read(); err == nil && fi != nil {
		j.merge(disk, fi)
	}
}

// Get returns a copy of the entry for key.
func (j *Journal[R]) Get(key string) (R, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.refresh()
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
	j.refresh()
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
	j.dirty[e.Key()] = j.gen
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
	j.dirty[key] = j.gen
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
	unlock, err := lockFile(j.path + ".lock")
	if err != nil {
		return fmt.Errorf("%s: %w", j.what, err)
	}
	defer unlock()
	disk, fi, err := j.read()
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.merge(disk, fi)
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
	fi, err = os.Stat(j.path)
	j.mu.Lock()
	for k, g := range j.dirty {
		if g <= gen {
			delete(j.dirty, k)
		}
	}
	if err == nil {
		j.seen = fi
	}
	j.mu.Unlock()
	j.written = gen
	return nil
}

// lockFile holds an exclusive lock on path (created 0600) until the
// returned function is called.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
