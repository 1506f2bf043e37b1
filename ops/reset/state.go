package reset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/tokens"
)

// Phase is where a reset stands.
type Phase string

const (
	// Preparing: the team has been told; the reset has not started.
	Preparing Phase = "preparing"
	// Running: a walk is under way, or was killed while one was.
	Running Phase = "running"
	// Stopped: a step failed or the walk was interrupted; the next run
	// resumes at that step.
	Stopped Phase = "stopped"
	Done    Phase = "done"
)

// Told records how the team was told the server goes away.
type Told struct {
	At     time.Time `json:"at"`
	How    string    `json:"how"`              // "operator", "server notice", "room"
	Detail string    `json:"detail,omitempty"` // how many users, which room, the operator's note
}

func (t Told) String() string {
	s := t.How + " at " + t.At.Local().Format("2006-01-02 15:04")
	if t.Detail != "" {
		s += " (" + t.Detail + ")"
	}
	return s
}

// StepState is one step of a reset in the state file.
type StepState struct {
	ID        StepID     `json:"id"`
	Status    StepStatus `json:"status"`
	StartedAt time.Time  `json:"started_at,omitzero"`
	EndedAt   time.Time  `json:"ended_at,omitzero"`
	Evidence  string     `json:"evidence,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// Media is the media store as it was before the reset: a resumed run
// recreates it with this owner and mode even once it is gone.
type Media struct {
	Path string      `json:"path"`
	UID  int         `json:"uid"`
	GID  int         `json:"gid"`
	Mode os.FileMode `json:"mode"`
}

// State is one server's reset in the state file. It holds IDs, names,
// paths, times and token hints, never a token: the new admin's token is
// kept in Kept (mode 0600) until the reset is done.
type State struct {
	ID      string           `json:"id"`
	Server  string           `json:"server"`
	Profile string           `json:"profile,omitempty"`
	Path    config.ResetPath `json:"path,omitempty"`
	Phase   Phase            `json:"phase"`
	Told    *Told            `json:"told,omitempty"`
	Steps   []StepState      `json:"steps,omitempty"`
	Runs    int              `json:"runs,omitempty"` // walks started on this reset

	OldAdmin  string          `json:"old_admin,omitempty"`
	NewAdmin  string          `json:"new_admin,omitempty"` // user ID
	TokenHint string          `json:"token_hint,omitempty"`
	Kept      string          `json:"kept,omitempty"` // the file holding the new token until the end
	Targets   []tokens.Target `json:"targets,omitempty"`
	Database  string          `json:"database,omitempty"`
	Owner     string          `json:"owner,omitempty"`
	Media     *Media          `json:"media,omitempty"`
	Volumes   []string        `json:"volumes,omitempty"`
	Backup    string          `json:"backup,omitempty"` // the backup that covered it, or why none did
	NoBackup  bool            `json:"without_backup,omitempty"`
	Override  bool            `json:"production_override,omitempty"`
	StartedAt time.Time       `json:"started_at,omitzero"`
	UpdatedAt time.Time       `json:"updated_at"`
	EndedAt   time.Time       `json:"ended_at,omitzero"`
	// PreviousEnd is when the reset before this one ended, carried over
	// when this record replaced that one's: a backup from before it holds
	// nothing on the server now, whatever this record is at.
	PreviousEnd time.Time        `json:"previous_end,omitzero"`
	Error       string           `json:"error,omitempty"`
	Next        string           `json:"next,omitempty"` // what to do now, when stopped
	Failed      StepID           `json:"failed_step,omitempty"`
	Extra       map[string]int64 `json:"counts,omitempty"` // users, rooms before the reset
}

// Key is the server: one reset per server at a time.
func (s *State) Key() string { return s.Server }

// Unfinished is a reset that started and is not done.
func (s *State) Unfinished() bool { return s.Phase == Running || s.Phase == Stopped }

// Expired drops a notice that never led to a reset after 7 days, unless
// it carries when the last reset ended. A finished reset stays (one record
// per server): the backup gate asks when it ended.
func (s *State) Expired(now time.Time) bool {
	return s.Phase == Preparing && s.LastEnd().IsZero() && now.Sub(s.UpdatedAt) > 7*24*time.Hour
}

// LastEnd is when the server's newest finished reset ended: this one, or
// the one before it (zero: none on record).
func (s *State) LastEnd() time.Time {
	if s == nil {
		return time.Time{}
	}
	if !s.EndedAt.IsZero() {
		return s.EndedAt
	}
	return s.PreviousEnd
}

// Touched is when the record last changed.
func (s *State) Touched() time.Time { return s.UpdatedAt }

// Clone is a deep copy.
func (s *State) Clone() any {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // plain data
	}
	var c State
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// Step is the state of step id; nil when the reset has no such step.
func (s *State) Step(id StepID) *StepState {
	for i := range s.Steps {
		if s.Steps[i].ID == id {
			return &s.Steps[i]
		}
	}
	return nil
}

// done reports whether step id has ended well.
func (s *State) done(id StepID) bool {
	st := s.Step(id)
	return st != nil && st.Status == StepDone
}

// Started reports whether the reset has touched the server: its first step
// (stopping Synapse, or the first custom command) has begun.
func (s *State) Started() bool {
	return s != nil && len(s.Steps) > 0 && s.Steps[0].Status != StepPending
}

// OpenState opens the reset state file (reset.json in synops' state
// directory).
func OpenState(path string) (*ops.Journal[*State], error) {
	return ops.OpenJournal[*State](path, "reset state file")
}

// StatePath is where the state file lives in a state directory.
func StatePath(stateDir string) string { return filepath.Join(stateDir, "reset.json") }

// record reads this server's reset from the state file as it is now.
func (s *Service) record() (*State, error) {
	if s.StateDir == "" {
		return nil, errors.New("reset: no state directory")
	}
	j, err := OpenState(StatePath(s.StateDir))
	if err != nil {
		return nil, err
	}
	st, ok := j.Get(s.Server)
	if !ok {
		return nil, nil
	}
	return st, nil
}

// LastEnded is when server's newest reset, as recorded in stateDir, ended
// (zero when none did or the file cannot be read): a backup from before it
// holds none of what is on the server now. The guard asks it for every plan
// that loses data.
func LastEnded(stateDir, server string) time.Time {
	s := &Service{StateDir: stateDir, Server: server}
	return s.lastReset()
}

// Status is the state of this server's newest reset, or nil when there is
// none on record.
func (s *Service) Status(context.Context) (*State, error) {
	return s.record()
}

// save writes st into the state file as it is now (the other servers'
// records as another synops may have left them).
func (s *Service) save(st *State) error {
	st.UpdatedAt = s.now().UTC()
	j, err := OpenState(StatePath(s.StateDir))
	if err == nil {
		err = j.Set(st)
	}
	if err != nil {
		return fmt.Errorf("record the reset in the state file: %w", err)
	}
	return nil
}
