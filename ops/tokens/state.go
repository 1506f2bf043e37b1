package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"synops/ops"
	"time"

	"synops/synapse"
)

// Phase is where a rotation stands.
type Phase string

// The phases of a rotation.
const (
	// Rotating: under way, or interrupted (synops stopped mid-way).
	Rotating Phase = "rotating"
	// Rotated: the new token is in place and works; the old one is still
	// valid until Finish logs it out.
	Rotated Phase = "rotated"
	// Finished: the old token is logged out (and its admin perhaps deactivated).
	Finished Phase = "finished"
	// RolledBack: a step failed and everything was put back; the old token
	// is in use and the new admin is gone.
	RolledBack Phase = "rolled_back"
	// RollbackIncomplete: a step failed and putting things back failed too;
	// the old token still works, and Rollback completes the undoing.
	RollbackIncomplete Phase = "rollback_incomplete"
)

// Rotation is the record of one rotation in synops' state. It never holds a
// token: hints (syt_…a1b2) and the path of the kept old token only.
type Rotation struct {
	ID          string    `json:"id"` // the rotate plan's ID
	Server      string    `json:"server"`
	Profile     string    `json:"profile,omitempty"`
	Mode        string    `json:"mode"` // "register" or "login"
	OldAdmin    string    `json:"old_admin"`
	OldDevice   string    `json:"old_device,omitempty"`
	OldHint     string    `json:"old_hint"`
	NewAdmin    string    `json:"new_admin"`
	NewDevice   string    `json:"new_device,omitempty"`
	NewHint     string    `json:"new_hint,omitempty"`
	Targets     []Target  `json:"targets"`
	Redeployed  bool      `json:"redeployed,omitempty"` // the redeploy command was started
	Phase       Phase     `json:"phase"`
	Step        string    `json:"step,omitempty"` // the step under way, or the one that failed
	Error       string    `json:"error,omitempty"`
	Remaining   []string  `json:"remaining,omitempty"` // what a failed rollback left undone
	StartedAt   time.Time `json:"started_at"`
	RotatedAt   time.Time `json:"rotated_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	LoggedOut   bool      `json:"old_logged_out,omitempty"`
	Deactivated bool      `json:"old_deactivated,omitempty"`
	// KeptOld is the file (0600, in the state directory) holding the old
	// token until Finish logs it out or a rollback ends; "" after.
	KeptOld string `json:"kept_old,omitempty"`
}

// Open reports whether the rotation waits for Finish or Rollback.
func (r *Rotation) Open() bool {
	return r.Phase == Rotating || r.Phase == Rotated || r.Phase == RollbackIncomplete
}

// History is the rotations, kept as JSON in synops' state directory and
// rewritten atomically on every change.
type History struct {
	mu   sync.Mutex
	path string
}

// OpenHistory uses the file at path (created on the first record).
func OpenHistory(path string) *History { return &History{path: path} }

// Path is where the history is kept.
func (h *History) Path() string { return h.path }

type historyFile struct {
	Rotations []Rotation `json:"rotations"`
}

// All is every rotation, oldest first.
func (h *History) All() ([]Rotation, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.load()
}

func (h *History) load() ([]Rotation, error) {
	data, err := os.ReadFile(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token history: %w", err)
	}
	var f historyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("token history %s is not synops' JSON: %w", h.path, err)
	}
	return f.Rotations, nil
}

// Put records r, replacing the record with its ID.
func (h *History) Put(r Rotation) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	all, err := h.load()
	if err != nil {
		return err
	}
	replaced := false
	for i := range all {
		if all[i].ID == r.ID {
			all[i], replaced = r, true
		}
	}
	if !replaced {
		all = append(all, r)
	}
	data, err := json.MarshalIndent(historyFile{Rotations: all}, "", "  ")
	if err != nil {
		return err
	}
	if err := ops.WriteFileAtomic(h.path, append(data, '\n')); err != nil {
		return fmt.Errorf("token history: %w", err)
	}
	return nil
}

// Latest is the newest rotation of server; nil when there is none.
func (h *History) Latest(server string) (*Rotation, error) {
	all, err := h.All()
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Server == server {
			return &all[i], nil
		}
	}
	return nil, nil
}

// Get is the rotation with this ID.
func (h *History) Get(id string) (*Rotation, error) {
	all, err := h.All()
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ID == id {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("token history %s has no rotation %s", h.path, id)
}

// keptPath is where the old token of rotation id is kept.
func (h *History) keptPath(id string) string {
	return filepath.Join(filepath.Dir(h.path), "tokens", id+".old-token")
}

// keepOld writes the old token where Finish and Rollback find it: a 0600
// file in a 0700 directory of the state directory, like the token file it
// came from.
func (h *History) keepOld(id string, old synapse.Secret) (string, error) {
	p := h.keptPath(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	if err := atomicWrite(p, []byte(old.Reveal()+"\n"), fileOwner{mode: 0o600, uid: -1, gid: -1}); err != nil {
		return "", err
	}
	return p, nil
}

// readKept reads a kept old token.
func readKept(path string) (synapse.Secret, error) {
	if path == "" {
		return synapse.Secret{}, errors.New("the old token was not kept (or is already logged out)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return synapse.Secret{}, fmt.Errorf("read the kept old token: %w", err)
	}
	s := string(data)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return synapse.NewSecret(s), nil
}

func dropKept(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the kept old token %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}
