package rooms

import (
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

// Key, Unfinished, Expired, Touched and Clone make an Entry an ops.Record.
func (e Entry) Key() string        { return e.RoomID }
func (e Entry) Unfinished() bool   { return e.Stage.unfinished() }
func (e Entry) Touched() time.Time { return e.Updated }
func (e Entry) Clone() any         { return e }
func (e Entry) Expired(now time.Time) bool {
	return (e.Stage == StageDone || e.Stage == StageFailed) && now.Sub(e.Updated) > 7*24*time.Hour
}

// Journal records room deletions in a small state file, so a run that was
// interrupted (Synapse stopped, the console quit, the box rebooted) can be
// finished: tasks in flight are polled again instead of started twice, and
// app references are cleared for rooms Synapse already removed. Finished
// entries are kept a week.
type Journal struct{ *ops.Journal[Entry] }

// OpenJournal reads the journal at path (a missing file is an empty journal).
func OpenJournal(path string) (*Journal, error) {
	j, err := ops.OpenJournal[Entry](path, "room journal")
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
