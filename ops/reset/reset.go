// Package reset is seed 000's "Resetting the Matrix Database" as a walk an
// operator can trust: the pre-reset checklist verified with evidence rather
// than ticked, the reset itself for a docker compose deployment, a
// standalone one (systemd or the profile's own service commands) or the
// profile's custom commands, and the post-reset steps that bring the
// application back (a new admin registered with the shared secret, its token
// written where the application reads it, the application's Matrix
// references cleared, the application restarted, a final check).
//
// A reset is two kinds of plan, both approved by the server name:
//
//   - Plan (kind "reset") runs the checklist and lists every step with the
//     exact commands it runs. Start approves it once: it passes the guard
//     (read-only mode, the typed server name, the backup gate) and opens a
//     Walk.
//   - The Walk plans each step on its own (kind "reset.<step>", PlanStep)
//     and applies it (ApplyStep): a start and an end line in the audit log
//     for every step, live output to the job log and to the progress
//     callback, and a check afterwards (the database exists and is empty,
//     Synapse answers /health). A destructive step needs its own approval
//     (the server name typed once more); the others are approved by the
//     walk's.
//
// Progress is kept in a state file (ops.Journal, no secret in it). A walk
// interrupted at any step (Ctrl-C, a lost SSH session, a failed command)
// stops there; the next Plan resumes at that step after re-running the
// checks that guard it. A production profile refuses the whole reset unless
// the override is asked for explicitly.
//
// A screen drives it in background commands, one at a time:
//
//	p, err := svc.Plan(ctx, reset.Request{})       // p.Checklist.Items (Mark, Evidence, Hint, Offer),
//	                                               // p.Steps (Commands, Verify, Status), p.Blocking()
//	svc.PlanNotify / ApplyNotify, svc.ConfirmTold   // the team item's offers
//	svc.PlanBackup / TakeBackup                     // the backup item's offer
//	req := guard.Request(ctx, p.Op)                 // the phrase: the server name (+ " without backup")
//	a, err := req.Approve(typed, time.Now())
//	w, err := svc.Start(ctx, p, a)
//	for each step: sp, _ := w.PlanStep(ctx)         // its commands in sp.Impact
//	    if reset.NeedsConfirm(sp) { a = guard.Request(ctx, sp).Approve(typed again) }
//	    err := w.ApplyStep(ctx, sp, a, progress)    // Stage started / running (a line) / done / failed
//	w.Stop(reason)                                  // the operator declined a step
//
// while it reads w.Steps, w.Current, w.Ended and w.State to draw them.
package reset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"synops/ops"
	"synops/ops/backup"
	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/tokens"
	"synops/synapse"
)

// KindReset is the plan kind of a whole reset; each step's plan is
// KindReset + "." + its StepID.
const KindReset = "reset"

// StepID names a step; it is stable across runs (the state file keeps it).
type StepID string

// The steps. A path uses some of the reset steps, then the post-reset ones.
const (
	StepStop             StepID = "stop"
	StepRemoveContainers StepID = "remove-containers" // compose
	StepRemoveVolumes    StepID = "remove-volumes"    // compose
	StepDropDatabase     StepID = "drop-database"     // standalone
	StepCreateDatabase   StepID = "create-database"   // standalone
	StepRecreateMedia    StepID = "recreate-media"    // standalone
	StepStart            StepID = "start"             // compose, standalone
	StepCustom           StepID = "custom"            // custom: custom-1, custom-2…
	StepRegisterAdmin    StepID = "register-admin"
	StepWriteToken       StepID = "write-token"
	StepClearAppRefs     StepID = "clear-app-refs"
	StepRestartApp       StepID = "restart-app"
	StepFinalCheck       StepID = "final-check"
)

// Kind is the plan kind of the step.
func (id StepID) Kind() string { return KindReset + "." + string(id) }

// StepStatus is where a step stands in the state file.
type StepStatus string

const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running" // started and not recorded as ended: the run was killed
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
)

// Mark is the step's status as one character for a list.
func (s StepStatus) Mark() string {
	switch s {
	case StepDone:
		return "✓"
	case StepFailed:
		return "✗"
	case StepRunning:
		return "▸"
	}
	return "…"
}

// Step is one thing the reset does, as a plan shows it.
type Step struct {
	ID    StepID   `json:"id"`
	Title string   `json:"title"`
	Stage string   `json:"stage"` // "reset" or "after" (seed 000's post-reset steps)
	Risk  ops.Risk `json:"risk"`
	// Commands is exactly what the step runs: argv lines, SQL statements,
	// the file operations synops does itself.
	Commands []string `json:"commands"`
	// Verify is what is checked afterwards.
	Verify string `json:"verify"`
	// Guards are the checklist items that must hold before the step runs.
	Guards []string `json:"guards,omitempty"`

	// From the state file: how the step went in this reset so far.
	Status   StepStatus `json:"status"`
	Evidence string     `json:"evidence,omitempty"` // what the check afterwards found
	Error    string     `json:"error,omitempty"`
}

// Stages of the steps.
const (
	StageReset = "reset"
	StageAfter = "after"
)

// Backups is the part of the backup service a reset uses: take a backup
// and verify it now when none is fresh enough.
type Backups interface {
	PlanCreate(ctx context.Context, req backup.CreateRequest) (*ops.Plan, error)
	ApplyCreate(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*backup.CreateResult, error)
}

// Service resets one server. Synapse, Guard, StateDir, Server and Config are
// required; the rest switch parts of the reset on or say where things are.
type Service struct {
	// Synapse carries synops' admin token: the admin before the reset.
	Synapse *synapse.Client
	Guard   *ops.Guard
	// StateDir holds the state file (reset.json, read afresh by every
	// call: another synops may have moved the reset on), the lock of the
	// walk, and the new admin's token (0600) between its registration and
	// the end of the reset, so that a resumed run can write it where it
	// belongs.
	StateDir    string
	Server      string
	Environment config.Environment
	Config      config.Reset

	Services  *services.Controller
	SynapseDB config.DSN
	// AdminDB may drop and create Synapse's database (backup.admin_dsn);
	// unset: SynapseDB's role on the maintenance database.
	AdminDB      config.DSN
	MediaStore   string
	SharedSecret synapse.Secret
	// HomeserverYAML, when set, says whether server notices are enabled.
	HomeserverYAML string

	// Tokens writes the new admin's token (synops' own token file and
	// tokens.write_to) and runs the application's check (tokens.check).
	Tokens *tokens.Service
	// AppDB is the application database whose Matrix references a reset
	// clears (nil: that step is left out); AppRefs is its SQL.
	AppDB   *pgxpool.Pool
	AppRefs config.AppRefsSQL
	Backups Backups // nil: no backup can be taken from here

	// Log is the job log: every command and its output. The checks write
	// to it from several goroutines, so it must take concurrent writes (a
	// file does).
	Log io.Writer
	Now func() time.Time
	// WarnUsers and WarnRooms: this many local users or rooms, or more,
	// are a warning that this may not be a throwaway server.
	WarnUsers, WarnRooms int

	// stopGrace is how long Synapse may take to stop answering after the
	// service manager says it stopped (default 30s).
	stopGrace time.Duration
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) log() io.Writer {
	if s.Log == nil {
		return io.Discard
	}
	return s.Log
}

func (s *Service) controller() *services.Controller {
	if s.Services == nil {
		return &services.Controller{}
	}
	return s.Services
}

func (s *Service) startTimeout() time.Duration {
	if s.Config.StartTimeout <= 0 {
		return config.DefaultResetStartTimeout
	}
	return s.Config.StartTimeout
}

func (s *Service) toldWithin() time.Duration {
	if s.Config.ToldWithin <= 0 {
		return config.DefaultResetToldWithin
	}
	return s.Config.ToldWithin
}

// path is the reset path the profile asks for.
func (s *Service) path() config.ResetPath { return s.Config.Path }

// ErrProduction refuses a reset of a production profile without the override.
var ErrProduction = errors.New("refusing to reset a production server")

// ErrNotReady is a reset whose checklist has items that block it.
var ErrNotReady = errors.New("the pre-reset checklist does not allow the reset yet")

// ErrNeedsConfirm is a destructive step applied without its own approval.
var ErrNeedsConfirm = errors.New("this step destroys data: it needs its own approval")

// StepError is a step that failed: the walk stopped there. Next says what to
// do; a new run resumes at this step.
type StepError struct {
	Step  StepID
	Title string
	Err   error
	Next  string
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("reset step %q (%s) failed: %v", e.Title, e.Step, e.Err)
	if e.Next != "" {
		msg += ". Next: " + e.Next
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }
