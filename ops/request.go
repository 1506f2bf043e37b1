package ops

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// WaiverSuffix is what an operator types after the target to accept running
// a data-losing plan that no fresh verified backup covers: typed, never a
// default, and recorded in the audit log.
const WaiverSuffix = " without backup"

// Request is a plan put to an operator: what they must type to approve it and
// whether the backup gate asks for the waiver. The console's dialog and the
// CLI's prompt and flags all approve through it.
type Request struct {
	Plan       *Plan
	BackupOK   bool   // the plan loses nothing, or a fresh verified backup covers it
	BackupNote string // which backup covers it, or why none does
}

// Request reads the backup state for p (the only I/O approval needs).
func (g *Guard) Request(ctx context.Context, p *Plan) Request {
	ok, note := g.BackupState(ctx, p)
	return Request{Plan: p, BackupOK: ok, BackupNote: note}
}

// NeedsWaiver is true when approving means accepting lost data without a backup.
func (r Request) NeedsWaiver() bool { return r.Plan.LosesData && !r.BackupOK }

// Phrase is exactly what the operator types: the target, followed by
// WaiverSuffix when the waiver is needed.
func (r Request) Phrase() string {
	if r.NeedsWaiver() {
		return r.Plan.Target + WaiverSuffix
	}
	return r.Plan.Target
}

// Approve checks typed against the phrase. The bare target, when the waiver
// is needed, is refused with ErrNoBackup and says what else to type.
func (r Request) Approve(typed string, now time.Time) (Approval, error) {
	if !r.NeedsWaiver() {
		return Approve(r.Plan, typed, now)
	}
	target, waived := strings.CutSuffix(typed, WaiverSuffix)
	if !waived {
		if _, err := Approve(r.Plan, typed, now); err != nil {
			return Approval{}, fmt.Errorf("%w (followed by %q: %s)", err, WaiverSuffix, r.BackupNote)
		}
		return Approval{}, fmt.Errorf("%w: %s; type %q to accept losing this data", ErrNoBackup, r.BackupNote, r.Phrase())
	}
	a, err := Approve(r.Plan, target, now)
	if err != nil {
		return Approval{}, fmt.Errorf("%w (followed by %q)", err, WaiverSuffix)
	}
	a.WithoutBackup = true
	return a, nil
}
