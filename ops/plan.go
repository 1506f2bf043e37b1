// Package ops holds what every operation on the box shares: plans with their
// risk and impact, the typed approval an operator gives for one plan, and the
// guard that refuses changes in read-only mode, without approval or without a
// verified backup, and writes the audit log. The areas (ops/rooms, later
// users, backups, reset, tokens) build their plans and appliers on this.
package ops

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Risk classifies a step by what it can undo.
type Risk int

const (
	ReadOnly     Risk = iota // changes nothing
	Reversible               // can be undone (block, unblock)
	Destructive              // loses data that a backup can bring back
	Irreversible             // cannot be undone by synops (deleting a room on a federated server)
)

func (r Risk) String() string {
	switch r {
	case Reversible:
		return "reversible"
	case Destructive:
		return "destructive"
	case Irreversible:
		return "irreversible"
	}
	return "read-only"
}

// MarshalText writes the risk as a word.
func (r Risk) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Step is one thing a plan will do.
type Step struct {
	Title string `json:"title"`
	Risk  Risk   `json:"risk"`
}

// Plan is what an operation will do, computed without changing anything.
type Plan struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`   // "rooms.delete"
	Target      string   `json:"target"` // what the operator types to approve: a room ID, a user ID, the server name
	Server      string   `json:"server"`
	Environment string   `json:"environment"`
	Steps       []Step   `json:"steps"`
	Impact      []string `json:"impact"`     // what the operator should know: members, size, references
	LosesData   bool     `json:"loses_data"` // gate on a verified backup
	// BackupAfter: a backup taken before this does not cover the plan (the
	// server was reset since, and holds what no such backup has). The guard
	// asks Guard.LastReset for every plan; a reset's plan also carries it,
	// so that its approval is of the gate as it was planned.
	BackupAfter time.Time `json:"backup_after,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	// Params is what Apply needs, as planned (JSON, so a plan can be shown and stored).
	Params json.RawMessage `json:"params,omitempty"`
}

// NewPlan starts a plan with a fresh ID.
func NewPlan(kind, target, server, environment string, now time.Time) *Plan {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Plan{ID: hex.EncodeToString(b), Kind: kind, Target: target, Server: server, Environment: environment, CreatedAt: now}
}

// Risk is the highest risk among the steps.
func (p *Plan) Risk() Risk {
	r := ReadOnly
	for _, s := range p.Steps {
		r = max(r, s.Risk)
	}
	return r
}

// fingerprint binds an approval to the plan's content: a plan recomputed with
// other steps or another target needs a new approval.
func (p *Plan) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%t\x00%d\x00", p.ID, p.Kind, p.Target, p.Server, p.LosesData, p.BackupAfter.UnixNano())
	for _, s := range p.Steps {
		fmt.Fprintf(h, "%s\x00%d\x00", s.Title, s.Risk)
	}
	h.Write(p.Params)
	return hex.EncodeToString(h.Sum(nil))
}

// Approval is an operator's yes to one plan. Only Approve makes one.
type Approval struct {
	planID      string
	fingerprint string
	Typed       string
	At          time.Time
	// WithoutBackup records that the operator accepted running a data-losing
	// plan with no fresh verified backup (typed, never defaulted).
	WithoutBackup bool
}

// ErrNothingToDo is what a planner returns when the target is already as
// asked (or no room matches): not a failure, and nothing to approve. The
// wrapping error says why.
var ErrNothingToDo = errors.New("nothing to do")

// ErrNotApproved is returned when the typed text does not name the target.
var ErrNotApproved = errors.New("not approved")

// Approve checks that typed equals the plan's target exactly and returns the
// approval for this plan only.
func Approve(p *Plan, typed string, now time.Time) (Approval, error) {
	if p == nil {
		return Approval{}, errors.New("approve: no plan")
	}
	if typed != p.Target {
		if strings.TrimSpace(typed) == p.Target {
			return Approval{}, fmt.Errorf("%w: %q has extra spaces; type %s exactly", ErrNotApproved, typed, p.Target)
		}
		return Approval{}, fmt.Errorf("%w: type %s exactly to approve %s", ErrNotApproved, p.Target, p.Kind)
	}
	return Approval{planID: p.ID, fingerprint: p.fingerprint(), Typed: typed, At: now}, nil
}

// Matches reports whether a was made for p as it is now.
func (a Approval) Matches(p *Plan) bool {
	return a.planID != "" && a.planID == p.ID && a.fingerprint == p.fingerprint()
}
