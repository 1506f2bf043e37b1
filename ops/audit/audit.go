// Package audit writes the audit log: one JSON object per line, in a file only
// its owner can read, for every change synops makes (a start line before it
// touches anything and an end line with the outcome). It cannot be switched
// off, and it never holds a secret: callers pass IDs and counts, not tokens.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"time"
)

// Entry is one line of the log.
type Entry struct {
	Time        time.Time `json:"time"`
	Phase       string    `json:"phase"` // "start", "end", "refused"
	Operator    string    `json:"operator"`
	Profile     string    `json:"profile,omitempty"`
	Server      string    `json:"server,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Action      string    `json:"action"`
	Target      string    `json:"target,omitempty"`
	PlanID      string    `json:"plan_id,omitempty"`
	Risk        string    `json:"risk,omitempty"`
	Outcome     string    `json:"outcome,omitempty"` // "ok", "failed", "partial"
	Error       string    `json:"error,omitempty"`
	Detail      any       `json:"detail,omitempty"`
}

// Log appends entries to one file.
type Log struct {
	mu       sync.Mutex
	path     string
	operator string
	now      func() time.Time
}

// StateDir is synops' state directory: $XDG_STATE_HOME/synops, or
// ~/.local/state/synops without it. The audit log, the debug log and the
// room journal live there.
func StateDir(getenv func(string) string) (string, error) {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_STATE_HOME nor HOME is set: nowhere to keep the audit log")
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "synops"), nil
}

// DefaultPath is the audit log in StateDir.
func DefaultPath(getenv func(string) string) (string, error) {
	dir, err := StateDir(getenv)
	return filepath.Join(dir, "audit.log"), err
}

// Open prepares the log at path, creating it 0600 (and its directory 0700).
// A log that others can read is refused: it names every target touched.
func Open(path string, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit log %s is readable by others (mode %o): chmod 600 %s", path, st.Mode().Perm(), path)
	}
	op := "unknown"
	if u, err := user.Current(); err == nil {
		op = u.Username
	}
	if s := os.Getenv("SUDO_USER"); s != "" {
		op += " (sudo from " + s + ")"
	}
	return &Log{path: path, operator: op, now: now}, nil
}

// Path is where the log is.
func (l *Log) Path() string { return l.path }

// Operator is who runs synops, as every line names them.
func (l *Log) Operator() string { return l.operator }

// Write appends e, filling in the time and the operator. The file is opened,
// written and synced per entry so a crash loses nothing already logged.
func (l *Log) Write(e Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = l.now().UTC()
	}
	e.Operator = l.operator
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return f.Sync()
}

// Read returns every entry (for tests and `synops audit`).
func Read(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, line := range splitLines(data) {
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return out, fmt.Errorf("audit log %s: a line is not JSON: %w", path, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}
