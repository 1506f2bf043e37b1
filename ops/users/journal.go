package users

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

// Stage is how far one account's disable got.
type Stage string

const (
	StageStarted    Stage = "started"    // written before anything is changed
	StageLeaving    Stage = "leaving"    // suspended; leaving its rooms one by one
	StageLocking    Stage = "locking"    // every room left (or tried); locking and logging out
	StageRestoring  Stage = "restoring"  // locked and logged out; lifting the disable's own suspension
	StageDone       Stage = "done"       // disabled
	StageEnabled    Stage = "enabled"    // enabled again after a disable
	StageIncomplete Stage = "incomplete" // locked and logged out, but some rooms could not be left
)

// unfinished reports whether a later run of disable has work left.
func (s Stage) unfinished() bool {
	switch s {
	case StageStarted, StageLeaving, StageLocking, StageRestoring, StageIncomplete:
		return true
	}
	return false
}

// Entry is one account in the journal. It holds IDs and counts only: the
// login-as token a disable uses is never written anywhere, and a resumed
// run asks Synapse for a new one.
type Entry struct {
	UserID string `json:"user_id"`
	PlanID string `json:"plan_id"`
	Stage  Stage  `json:"stage"`
	// WeSuspended: the disable suspended the account itself (so that it
	// cannot join rooms while it is made to leave them) and lifts that
	// suspension at the end; a suspension that was there before stays.
	WeSuspended bool `json:"we_suspended"`
	// Left are the rooms the disable made the account leave: what enable
	// names, since it does not rejoin them.
	Left []string `json:"left,omitempty"`
	// Failed are rooms it could not leave, with why.
	Failed  map[string]string `json:"failed,omitempty"`
	Updated time.Time         `json:"updated"`
}

// Unfinished reports whether a later disable has work left on the account.
func (e Entry) Unfinished() bool { return e.Stage.unfinished() }

// Journal records disables in a small state file so that one interrupted
// (Synapse restarted, synops killed, the box rebooted) can be run again and
// finish, and enable knows what the disable did.
type Journal struct {
	mu      sync.Mutex
	path    string
	entries map[string]*Entry
}

// OpenJournal reads the journal at path (a missing file is an empty journal).
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{path: path, entries: map[string]*Entry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users journal: %w", err)
	}
	var list []*Entry
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("users journal %s is damaged (%v): move it aside to start afresh", path, err)
	}
	for _, e := range list {
		j.entries[e.UserID] = e
	}
	return j, nil
}

// Get returns a copy of the account's entry.
func (j *Journal) Get(userID string) (Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[userID]
	if !ok {
		return Entry{}, false
	}
	c := *e
	c.Left = append([]string(nil), e.Left...)
	if e.Failed != nil {
		c.Failed = make(map[string]string, len(e.Failed))
		for k, v := range e.Failed {
			c.Failed[k] = v
		}
	}
	return c, true
}

// Unfinished lists the disables that still need work, oldest first.
func (j *Journal) Unfinished() []Entry {
	j.mu.Lock()
	var out []Entry
	for _, e := range j.entries {
		if e.Stage.unfinished() {
			out = append(out, *e)
		}
	}
	j.mu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].Updated.Before(out[b].Updated) })
	return out
}

// Set records e and writes the file (temporary file, fsync, rename).
// Enabled entries older than 30 days are dropped; a done one is kept for
// as long as the account stays disabled, so enable can name its rooms.
func (j *Journal) Set(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e.Updated.IsZero() {
		e.Updated = time.Now().UTC()
	}
	j.entries[e.UserID] = &e
	list := make([]*Entry, 0, len(j.entries))
	for id, x := range j.entries {
		if x.Stage == StageEnabled && time.Since(x.Updated) > 30*24*time.Hour {
			delete(j.entries, id)
			continue
		}
		list = append(list, x)
	}
	sort.Slice(list, func(a, b int) bool { return list[a].UserID < list[b].UserID })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return ops.WriteFileAtomic(j.path, data)
}
