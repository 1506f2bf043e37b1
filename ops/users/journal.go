package users

import (
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

// Key, Expired, Touched and Clone make an Entry an ops.Record. An enabled
// entry is dropped after 30 days; a done one is kept for as long as the
// account stays disabled, so enable can name its rooms.
func (e Entry) Key() string        { return e.UserID }
func (e Entry) Touched() time.Time { return e.Updated }
func (e Entry) Expired(now time.Time) bool {
	return e.Stage == StageEnabled && now.Sub(e.Updated) > 30*24*time.Hour
}

func (e Entry) Clone() any {
	c := e
	c.Left = append([]string(nil), e.Left...)
	if e.Failed != nil {
		c.Failed = make(map[string]string, len(e.Failed))
		for k, v := range e.Failed {
			c.Failed[k] = v
		}
	}
	return c
}

// Journal records disables in a small state file so that one interrupted
// (Synapse restarted, synops killed, the box rebooted) can be run again and
// finish, and enable knows what the disable did.
type Journal struct{ *ops.Journal[Entry] }

// OpenJournal reads the journal at path (a missing file is an empty journal).
func OpenJournal(path string) (*Journal, error) {
	j, err := ops.OpenJournal[Entry](path, "users journal")
	if err != nil {
		return nil, err
	}
	return &Journal{j}, nil
}

// Set records e, stamped with the time when it has none, and writes the file.
func (j *Journal) Set(e Entry) error {
	if e.Updated.IsZero() {
		e.Updated = time.Now().UTC()
	}
	return j.Journal.Set(e)
}
