package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"synops/ops/audit"
)

// BackupGate answers whether a verified backup covers the data a plan loses.
type BackupGate interface {
	// NewestVerified is the time of the newest verified backup and where it
	// is; zero time when there is none.
	NewestVerified(ctx context.Context) (time.Time, string, error)
}

// Guard is the one gate every change passes: read-only mode, the typed
// approval, the backup rule and the audit log.
type Guard struct {
	ReadOnly    bool
	Audit       *audit.Log
	Profile     string
	Backups     BackupGate    // nil: no backups configured
	FreshWithin time.Duration // how new a verified backup must be
	// LastReset is when the server's newest reset ended (nil or zero: none):
	// a backup from before it covers nothing on the server now.
	LastReset func() time.Time
	Now       func() time.Time
}

// ErrReadOnly is returned for any change in read-only mode.
var ErrReadOnly = errors.New("read-only mode")

// ErrNoBackup is returned when a data-losing plan has no fresh verified backup
// and the operator did not accept running without one.
var ErrNoBackup = errors.New("no verified backup")

// ErrBadPlan is returned for a plan that says it changes nothing but is not
// of a kind that never does: a change whose steps were lost or never filled
// in must not pass as harmless.
var ErrBadPlan = errors.New("malformed plan")

// ErrUnrecorded wraps the error of an audit end line that could not be
// written: the operation ran, the log does not say how it ended.
var ErrUnrecorded = errors.New("not recorded in the audit log")

// isReadOnlyKind lists the plan kinds that change nothing by design. Only
// they pass without an approval; every other kind must carry steps that say
// what they change.
func isReadOnlyKind(kind string) bool {
	switch kind {
	case "rooms.inspect",
		"backup.create", "backup.verify": // a dump and a restore test change nothing on the server
		return true
	}
	return kind == "reset.final-check" // a reset's last step reads the server back
}

// BackupState says whether p may run without a waiver, and why not.
func (g *Guard) BackupState(ctx context.Context, p *Plan) (ok bool, note string) {
	if !p.LosesData {
		return true, ""
	}
	if g.Backups == nil {
		return false, "no backup directory is configured, so no verified backup covers this"
	}
	after := p.BackupAfter
	if g.LastReset != nil {
		if t := g.LastReset(); t.After(after) {
			after = t
		}
	}
	at, where, err := g.Backups.NewestVerified(ctx)
	switch {
	case err != nil:
		return false, "could not check backups: " + err.Error()
	case at.IsZero():
		return false, "no verified backup exists"
	case g.now().Sub(at) > g.FreshWithin:
		return false, fmt.Sprintf("the newest verified backup (%s) is %s old, older than %s", where, g.now().Sub(at).Round(time.Minute), g.FreshWithin)
	case at.Before(after):
		return false, fmt.Sprintf("the newest verified backup (%s, %s) is from before the server was reset at %s: it does not hold what is on it now",
			where, at.Format(time.RFC3339), after.Format(time.RFC3339))
	}
	return true, fmt.Sprintf("verified backup %s from %s", where, at.Format(time.RFC3339))
}

func (g *Guard) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

// Finish records how a begun operation ended. It returns an error wrapping
// ErrUnrecorded when the end line could not be written; the operation has
// run by then, so the caller reports both (errors.Join), never drops it.
type Finish func(err error, detail any) error

// Begin checks p against a and the rules, writes the start line of the audit
// log and returns the function that writes the end line. A refusal is also
// logged. Nothing may touch the box unless Begin returned nil.
func (g *Guard) Begin(ctx context.Context, p *Plan, a Approval) (Finish, error) {
	base := g.entry(p)
	refuse := func(err error) (Finish, error) { return nil, g.Refuse(p, err) }
	if g.Audit == nil {
		return nil, errors.New("no audit log: refusing to change anything unaudited")
	}
	if p.Risk() == ReadOnly && (len(p.Steps) == 0 || !isReadOnlyKind(p.Kind)) {
		what := "has no steps"
		if len(p.Steps) > 0 {
			what = "changes nothing, yet " + p.Kind + " is not a read-only kind"
		}
		return refuse(fmt.Errorf("%w: the plan for %s of %s %s: refusing it rather than run it unapproved", ErrBadPlan, p.Kind, p.Target, what))
	}
	if p.Risk() > ReadOnly && g.ReadOnly {
		return refuse(fmt.Errorf("%w: refusing %s of %s (profile %q is read-only; drop --read-only or read_only to change things)", ErrReadOnly, p.Kind, p.Target, g.Profile))
	}
	if p.Risk() > ReadOnly && !a.Matches(p) {
		return refuse(fmt.Errorf("%w: %s of %s needs an approval made for this plan (type %s)", ErrNotApproved, p.Kind, p.Target, p.Target))
	}
	if ok, note := g.BackupState(ctx, p); !ok && !a.WithoutBackup {
		return refuse(fmt.Errorf("%w: %s loses data and %s; take and verify a backup first, or accept running without one explicitly", ErrNoBackup, p.Kind, note))
	}
	start := base
	start.Phase = "start"
	if a.WithoutBackup {
		start.Detail = map[string]any{"without_backup": true}
	}
	if err := g.Audit.Write(start); err != nil {
		return nil, fmt.Errorf("refusing %s: %w", p.Kind, err)
	}
	return func(err error, detail any) error {
		end := base
		end.Phase, end.Outcome, end.Detail = "end", "ok", detail
		if err != nil {
			end.Outcome, end.Error = "failed", err.Error()
		}
		if werr := g.Audit.Write(end); werr != nil {
			return fmt.Errorf("%s of %s ended (%s) but that is %w: %w; the start line is there, add the outcome by hand",
				p.Kind, p.Target, end.Outcome, ErrUnrecorded, werr)
		}
		return nil
	}, nil
}

func (g *Guard) entry(p *Plan) audit.Entry {
	return audit.Entry{Profile: g.Profile, Server: p.Server, Environment: p.Environment,
		Action: p.Kind, Target: p.Target, PlanID: p.ID, Risk: p.Risk().String()}
}

// Refuse records that p was refused for err (a wrong or missing approval
// given before Begin was reached) and returns err.
func (g *Guard) Refuse(p *Plan, err error) error {
	e := g.entry(p)
	e.Phase, e.Error = "refused", err.Error()
	if g.Audit != nil {
		_ = g.Audit.Write(e)
	}
	return err
}
