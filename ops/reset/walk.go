package reset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/text"
	"synops/synapse"
)

// Request is what the operator asks of a reset.
type Request struct {
	// ProductionOverride asks to reset a server whose profile is labelled
	// production. Without it such a reset is refused outright.
	ProductionOverride bool
	// NewAdmin is the localpart of the admin registered after the reset;
	// "" means reset.new_admin, else the admin synops uses now.
	NewAdmin string
}

// Plan is a reset as planned: the checklist with its evidence, and every
// step with the exact commands it runs. Op is what the operator approves by
// typing the server name (Guard.Request(ctx, p.Op) gives the phrase, with
// the backup waiver when the gate asks for it).
type Plan struct {
	Op        *ops.Plan        `json:"plan"`
	Path      config.ResetPath `json:"path"`
	Checklist Checklist        `json:"checklist"`
	Steps     []Step           `json:"steps"`
	// Resume: an earlier run stopped; the steps before First are done and
	// this run starts at Steps[First].
	Resume bool   `json:"resume"`
	First  int    `json:"first"`
	State  string `json:"state,omitempty"` // the reset being resumed
	// Notes are what the operator should know beyond the checklist.
	Notes []string `json:"notes,omitempty"`
	// StepsError says why the steps could not be listed; such a plan
	// cannot be started (the checklist says what to fix).
	StepsError string `json:"steps_error,omitempty"`

	params planParams
}

// planParams is what the reset plan binds its approval to.
type planParams struct {
	Path     config.ResetPath `json:"path"`
	State    string           `json:"state,omitempty"`
	First    int              `json:"first"`
	NewAdmin string           `json:"new_admin"`
	Override bool             `json:"production_override,omitempty"`
	Steps    []Step           `json:"steps"`
	// What the checklist saw before the reset: kept in the state file.
	OldAdmin     string `json:"old_admin,omitempty"`
	Users, Rooms int64  `json:"-"`
}

// Blocking lists the checklist items that keep this run from starting: a
// failed or pending item that guards a step still to run. The backup is
// the guard's to decide (a waiver may accept running without one).
func (p *Plan) Blocking() []Item {
	need := map[string]bool{}
	if len(p.Steps) == 0 {
		for _, g := range guardFirst {
			need[g] = true
		}
	}
	for _, st := range p.Steps[min(p.First, len(p.Steps)):] {
		for _, g := range st.Guards {
			need[g] = true
		}
	}
	var out []Item
	for _, it := range p.Checklist.Items {
		if need[it.ID] && !it.Waivable && (it.Status == Fail || it.Status == Pending) {
			out = append(out, it)
		}
	}
	return out
}

// Current is the step this run starts at.
func (p *Plan) Current() Step {
	if p.First >= len(p.Steps) {
		return Step{}
	}
	return p.Steps[p.First]
}

// Plan runs the checklist and lists the steps. It changes nothing. A
// production profile without req.ProductionOverride is refused (and the
// refusal audited); so is a resumed reset whose path no longer matches
// the profile.
func (s *Service) Plan(ctx context.Context, req Request) (*Plan, error) {
	if s.Server == "" {
		return nil, errors.New("plan reset: the server name is unknown: point -c at homeserver.yaml or set server_name in the profile")
	}
	if s.StateDir == "" || s.Guard == nil || s.Synapse == nil {
		return nil, errors.New("plan reset: the service is not wired (state directory, guard, Synapse client)")
	}
	op := ops.NewPlan(KindReset, s.Server, s.Server, string(s.Environment), s.now())
	op.LosesData = true
	op.BackupAfter = s.lastReset()
	if s.Environment.IsProduction() && !req.ProductionOverride {
		op.Steps = []ops.Step{{Title: "reset the Matrix database", Risk: ops.Irreversible}}
		return nil, s.Guard.Refuse(op, fmt.Errorf("%w %s: the profile is labelled production; nothing was changed (if you really mean it: --production-override, then type the server name)", ErrProduction, s.Server))
	}
	st, err := s.record()
	if err != nil {
		return nil, fmt.Errorf("plan reset: %w", err)
	}
	resume := st != nil && st.Unfinished()
	if resume && st.Path != s.path() {
		return nil, fmt.Errorf("plan reset: the reset begun %s used the %s path, and the profile now says %s: put the profile back to finish it, or move %s aside to start afresh",
			st.StartedAt.Local().Format("2006-01-02 15:04"), st.Path, orNone(string(s.path())), StatePath(s.StateDir))
	}
	cl, f := s.checklist(ctx, CheckOptions{ProductionOverride: req.ProductionOverride}, st)

	sf := stepFacts{db: f.db, media: f.media}
	for _, v := range f.volumes {
		sf.volumes = append(sf.volumes, v.Name)
	}
	if len(s.Config.Volumes) > 0 {
		sf.volumes = s.Config.Volumes
	}
	oldAdmin := f.oldAdmin
	if resume {
		sf.newAdmin, sf.media, oldAdmin = st.NewAdmin, st.Media, st.OldAdmin
		if len(st.Volumes) > 0 {
			sf.volumes = st.Volumes
		}
	}
	if sf.newAdmin == "" {
		local := req.NewAdmin
		if local == "" {
			local = s.Config.NewAdmin
		}
		if local == "" && oldAdmin != "" {
			local, _, _ = strings.Cut(strings.TrimPrefix(oldAdmin, "@"), ":")
		}
		if local == "" {
			local = "admin"
		}
		local = strings.TrimPrefix(local, "@")
		if strings.Contains(local, ":") {
			return nil, fmt.Errorf("plan reset: new admin %q: give a localpart, the server is %s", local, s.Server)
		}
		sf.newAdmin = "@" + local + ":" + s.Server
		if err := synapse.ValidateUserID(sf.newAdmin); err != nil {
			return nil, fmt.Errorf("plan reset: new admin: %w", err)
		}
	}
	// Steps that cannot be listed (the volumes could not be read, the
	// media store is missing) leave the checklist to say why: the plan is
	// still shown, and cannot be started.
	defs, err := s.steps(ctx, sf)
	p := &Plan{Op: op, Path: s.path(), Checklist: cl}
	if err != nil {
		p.StepsError = err.Error()
	}
	for _, d := range defs {
		p.Steps = append(p.Steps, d.Step)
	}
	if resume && len(p.Steps) > 0 {
		if err := mergeState(p, st); err != nil {
			return nil, fmt.Errorf("plan reset: %w", err)
		}
	}
	for _, st := range p.Steps {
		title := st.Title + ": " + strings.Join(st.Commands, "; ")
		if st.Status == StepDone {
			title = "(done) " + st.Title
		}
		op.Steps = append(op.Steps, ops.Step{Title: title, Risk: st.Risk})
	}
	op.Impact = append(op.Impact, loss(s.Server, f.users, f.rooms))
	for _, it := range cl.Items {
		line := it.Status.Mark() + " " + it.Title + ": " + it.Evidence
		op.Impact = append(op.Impact, line)
	}
	p.Notes = s.notes(p, st)
	op.Impact = append(op.Impact, p.Notes...)
	p.params = planParams{Path: p.Path, State: p.State, First: p.First, NewAdmin: sf.newAdmin, Override: req.ProductionOverride,
		Steps: p.Steps, OldAdmin: oldAdmin, Users: f.users, Rooms: f.rooms}
	op.Params, _ = json.Marshal(p.params)
	return p, nil
}

// loss says what the reset deletes, first in the approval's impact.
func loss(server string, users, rooms int64) string {
	what := "every account, room, message and media file"
	if users > 0 || rooms > 0 {
		what = fmt.Sprintf("all %d local accounts, %d rooms, their messages and every media file", users, rooms)
	}
	return "deletes " + what + " on " + server + "; the application's Matrix references are cleared"
}

// mergeState marks the steps as an earlier run left them and finds where
// this run starts.
func mergeState(p *Plan, st *State) error {
	p.Resume, p.State = true, st.ID
	ids := make([]StepID, len(p.Steps))
	for i, s := range p.Steps {
		ids[i] = s.ID
	}
	var recorded []StepID
	for _, s := range st.Steps {
		recorded = append(recorded, s.ID)
	}
	if !slices.Equal(ids, recorded) {
		return fmt.Errorf("the reset begun %s had the steps %v, and the profile now gives %v: put the profile back to finish it, or move the state file aside",
			st.StartedAt.Local().Format("2006-01-02 15:04"), recorded, ids)
	}
	p.First = len(p.Steps) - 1
	found := false
	for i := range p.Steps {
		rec := st.Steps[i]
		p.Steps[i].Status, p.Steps[i].Evidence, p.Steps[i].Error = rec.Status, rec.Evidence, rec.Error
		if rec.Status != StepDone && !found {
			p.First, found = i, true
		}
	}
	if !found {
		// Killed between the last step and recording the end: the final
		// check (it reads only) runs again and closes the reset.
		p.Steps[p.First].Status = StepPending
	}
	return nil
}

func (s *Service) notes(p *Plan, st *State) []string {
	var n []string
	if p.StepsError != "" {
		n = append(n, "the steps cannot be listed yet: "+p.StepsError)
	}
	if p.Resume {
		cur := p.Steps[p.First]
		why := "it was interrupted"
		switch {
		case cur.Status == StepFailed:
			why = "it failed: " + cur.Error
		case cur.Status == StepRunning:
			why = "the run stopped while it was under way (killed, or the session was lost); it runs again from its start"
		}
		n = append(n, fmt.Sprintf("resuming the reset begun %s at step %d, %q: %s", st.StartedAt.Local().Format("2006-01-02 15:04"), p.First+1, cur.Title, why))
	}
	if b := p.Blocking(); len(b) > 0 {
		var names []string
		for _, it := range b {
			names = append(names, it.Title)
		}
		n = append(n, "blocked until these hold: "+strings.Join(names, "; "))
	}
	n = append(n, "the typed server name approves the reset; each destructive step asks for it once more")
	return n
}

// Start approves the reset and opens the walk: the guard checks the typed
// approval, read-only mode and the backup gate, and records the start of
// the reset in the audit log; the state file records the reset (or its
// resumption). Only one walk runs per state directory at a time.
func (s *Service) Start(ctx context.Context, p *Plan, a ops.Approval) (*Walk, error) {
	if p == nil || p.Op == nil || p.Op.Kind != KindReset || p.params.NewAdmin == "" {
		return nil, errors.New("start reset: not a reset plan made by Plan")
	}
	if len(p.Steps) == 0 {
		return nil, s.Guard.Refuse(p.Op, fmt.Errorf("%w: the steps cannot be listed: %s; nothing was changed", ErrNotReady, p.StepsError))
	}
	pp := p.params
	if b := p.Blocking(); len(b) > 0 {
		var why []string
		for _, it := range b {
			w := it.Title + ": " + it.Evidence
			if it.Hint != "" {
				w += " (" + it.Hint + ")"
			}
			why = append(why, w)
		}
		return nil, s.Guard.Refuse(p.Op, fmt.Errorf("%w: %s; nothing was changed", ErrNotReady, strings.Join(why, "; ")))
	}
	lock, err := s.lock()
	if err != nil {
		return nil, s.Guard.Refuse(p.Op, err)
	}
	release := func() { lock.Close() }
	st, err := s.record()
	if err != nil {
		release()
		return nil, s.Guard.Refuse(p.Op, err)
	}
	if p.Resume && (st == nil || st.ID != p.State || !st.Unfinished()) {
		release()
		return nil, s.Guard.Refuse(p.Op, errors.New("the reset this plan resumes has changed since it was planned (another synops?): plan again"))
	}
	if !p.Resume && st != nil && st.Unfinished() {
		release()
		return nil, s.Guard.Refuse(p.Op, errors.New("a reset began since this plan was made: plan again to resume it"))
	}
	defs, err := s.stepsFor(ctx, p, pp)
	if err != nil {
		release()
		return nil, s.Guard.Refuse(p.Op, err)
	}
	finish, err := s.Guard.Begin(ctx, p.Op, a)
	if err != nil {
		release()
		return nil, err
	}
	now := s.now().UTC()
	if !p.Resume {
		told := (*Told)(nil)
		if st != nil && st.Phase == Preparing {
			told = st.Told
		}
		st = &State{ID: p.Op.ID, Server: s.Server, Profile: s.Guard.Profile, Path: p.Path, Told: told, PreviousEnd: st.LastEnd(),
			OldAdmin: pp.OldAdmin, NewAdmin: pp.NewAdmin, StartedAt: now, Override: pp.Override,
			Extra: map[string]int64{"users": p.params.Users, "rooms": p.params.Rooms}}
		for _, d := range defs {
			st.Steps = append(st.Steps, StepState{ID: d.ID, Status: StepPending})
		}
		if d, err := s.database(); err == nil {
			st.Database, st.Owner = d.Name, d.Owner
		}
		if s.path() == config.ResetStandalone {
			if st.Media, err = s.mediaNow(nil); err != nil {
				release()
				_ = finish(err, nil)
				return nil, err
			}
		}
		if s.path() == config.ResetCompose {
			st.Volumes = volumesOf(p)
		}
		_, st.Backup = s.Guard.BackupState(ctx, s.backupProbe())
	}
	st.Phase, st.Runs, st.Error, st.Next, st.Failed = Running, st.Runs+1, "", "", ""
	st.NoBackup = st.NoBackup || a.WithoutBackup
	if err := s.save(st); err != nil {
		release()
		return nil, errors.Join(err, finish(err, nil))
	}
	return &Walk{s: s, plan: p, st: st, defs: defs, i: p.First, typed: a.Typed, noBackup: a.WithoutBackup, finish: finish, release: release}, nil
}

// stepsFor rebuilds the step list the plan showed (the plan carries only
// data; the walk needs what each step does).
func (s *Service) stepsFor(ctx context.Context, p *Plan, pp planParams) ([]stepDef, error) {
	sf := stepFacts{newAdmin: pp.NewAdmin, volumes: volumesOf(p)}
	st, err := s.record()
	if err != nil {
		return nil, err
	}
	if p.Resume && st != nil {
		sf.media = st.Media
	}
	if sf.media == nil && s.path() == config.ResetStandalone {
		m, err := s.mediaNow(nil)
		if err != nil {
			return nil, err
		}
		sf.media = m
	}
	defs, err := s.steps(ctx, sf)
	if err != nil {
		return nil, err
	}
	if len(defs) != len(p.Steps) {
		return nil, errors.New("the reset's steps changed since it was planned: plan again")
	}
	for i := range defs {
		if defs[i].ID != p.Steps[i].ID || !slices.Equal(defs[i].Commands, p.Steps[i].Commands) {
			return nil, fmt.Errorf("step %s runs other commands than planned: plan again", defs[i].ID)
		}
		defs[i].Step = p.Steps[i]
	}
	return defs, nil
}

// volumesOf is the volumes the plan's remove-volumes step names.
func volumesOf(p *Plan) []string {
	for _, st := range p.Steps {
		if st.ID == StepRemoveVolumes && len(st.Commands) > 0 {
			f := strings.Fields(st.Commands[0])
			if len(f) > 3 {
				return f[3:]
			}
		}
	}
	return nil
}

// lock is held while a walk runs: a second synops (the console and the
// CLI, two sessions) must not walk the same reset at once. The kernel
// drops it when the process dies.
func (s *Service) lock() (*os.File, error) {
	dir := s.StateDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "reset.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another synops is walking a reset right now (%s is locked): wait for it, or end it", path)
	}
	return f, nil
}

// Walk is a reset under way: one step at a time, each planned, approved,
// applied and checked. One goroutine drives it (PlanStep, ApplyStep, Run,
// Stop); others (a screen) may read Steps, Current, Ended and State while a
// step runs.
type Walk struct {
	mu       sync.Mutex // guards what the readers read: defs' statuses, i, st, ended
	s        *Service
	plan     *Plan
	st       *State
	defs     []stepDef
	i        int
	typed    string
	noBackup bool
	finish   ops.Finish
	release  func()
	token    synapse.Secret // the new admin's, once registered or read back
	ended    bool
	result   error
}

// Steps are every step with its status now.
func (w *Walk) Steps() []Step {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Step, len(w.defs))
	for i, d := range w.defs {
		out[i] = d.Step
	}
	return out
}

// Current is the step to run next; false once the walk has ended.
func (w *Walk) Current() (Step, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current()
}

func (w *Walk) current() (Step, bool) {
	if w.ended || w.i >= len(w.defs) {
		return Step{}, false
	}
	return w.defs[w.i].Step, true
}

// Ended reports whether the walk is over, and how it ended (nil: the
// reset is done).
func (w *Walk) Ended() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ended, w.result
}

// State is a copy of the reset's record.
func (w *Walk) State() *State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st.Clone().(*State)
}

// change applies fn to the reset's record (and the step list) and writes
// the record, under the lock the readers take.
func (w *Walk) change(fn func()) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if fn != nil {
		fn()
	}
	return w.s.save(w.st)
}

type stepParams struct {
	Reset string `json:"reset"`
	Step  StepID `json:"step"`
	Index int    `json:"index"`
}

// PlanStep is the plan of the current step: its title and risk, its exact
// commands and what is checked afterwards as its impact. A destructive
// step's plan loses data, so its approval carries the backup waiver when
// the gate asks for one.
func (w *Walk) PlanStep(context.Context) (*ops.Plan, error) {
	st, ok := w.Current()
	if !ok {
		return nil, errors.New("the reset walk has ended")
	}
	s := w.s
	p := ops.NewPlan(st.ID.Kind(), s.Server, s.Server, string(s.Environment), s.now())
	p.Steps = []ops.Step{{Title: fmt.Sprintf("step %d of %d: %s", w.i+1, len(w.defs), st.Title), Risk: st.Risk}}
	for _, c := range st.Commands {
		p.Impact = append(p.Impact, "runs: "+c)
	}
	p.Impact = append(p.Impact, "then checks: "+st.Verify)
	p.LosesData = st.Risk >= ops.Destructive
	p.Params, _ = json.Marshal(stepParams{Reset: w.st.ID, Step: st.ID, Index: w.i})
	return p, nil
}

// The stages of a step's progress reports: it started (Detail: its
// commands), a line of its output (Detail), it ended well (Detail: the
// evidence of its check) or failed (Detail: the error).
const (
	StageStarted = "started"
	StageOutput  = "running"
	StageDone    = "done"
	StageFailed  = "failed"
)

// NeedsConfirm says whether p must be approved by the operator: a
// destructive step asks once more. The walk approves the others with the
// server name typed for the reset.
func NeedsConfirm(p *ops.Plan) bool { return p.Risk() >= ops.Destructive }

// ApplyStep runs the current step from its plan. a is the operator's
// approval of p (Guard.Request(ctx, p).Approve(typed)) for a destructive
// step; for the others a zero Approval lets the walk approve it. progress
// hears the step start, each line of its output (Detail), and how it
// ended. A failed step stops the walk: its error is a *StepError saying
// what to do next, and the next run resumes there.
func (w *Walk) ApplyStep(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) error {
	if progress == nil {
		progress = func(ops.Progress) {}
	}
	st, ok := w.Current()
	if !ok {
		return errors.New("the reset walk has ended")
	}
	var sp stepParams
	if p == nil || p.Kind != st.ID.Kind() || json.Unmarshal(p.Params, &sp) != nil || sp.Reset != w.st.ID || sp.Index != w.i {
		return fmt.Errorf("apply reset step: this plan is not for the current step %s: plan it again", st.ID)
	}
	s := w.s
	if !a.Matches(p) {
		if NeedsConfirm(p) {
			return s.Guard.Refuse(p, fmt.Errorf("%w: type %s to run %q", ErrNeedsConfirm, s.Server, st.Title))
		}
		var err error
		if a, err = ops.Approve(p, w.typed, s.now()); err != nil {
			return err
		}
		a.WithoutBackup = w.noBackup
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return err
	}
	def := &w.defs[w.i]
	rec := w.st.Step(st.ID)
	if err := w.change(func() {
		rec.Status, rec.StartedAt, rec.EndedAt, rec.Error, rec.Evidence = StepRunning, s.now().UTC(), time.Time{}, "", ""
		def.Status = StepRunning
	}); err != nil {
		return errors.Join(err, finish(err, nil))
	}
	total := len(w.defs)
	progress(ops.Progress{Item: st.Title, Stage: StageStarted, Detail: strings.Join(st.Commands, " | "), Done: w.i, Total: total})
	out := w.newOut(func(line string) {
		progress(ops.Progress{Item: st.Title, Stage: StageOutput, Detail: line, Done: w.i, Total: total})
	})
	fmt.Fprintf(s.log(), "%s reset %s step %d/%d %s: %s\n", s.now().UTC().Format("2006-01-02T15:04:05Z"), w.st.ID, w.i+1, total, st.ID, st.Title)
	evidence, err := def.run(ctx, w, out)
	out.flush()
	evidence = text.Clean(w.scrub(evidence))
	ended := s.now().UTC()
	if err != nil {
		msg := text.Clean(w.scrub(err.Error()))
		next := "fix what the error says, then run `synops reset run` again: it resumes at this step after checking what guards it"
		if def.next != nil {
			next = def.next(err)
		}
		if ctx.Err() != nil {
			next = "the run was interrupted; run `synops reset run` again: it resumes at this step"
		}
		serr := w.change(func() {
			rec.Status, rec.Error, rec.EndedAt = StepFailed, msg, ended
			def.Status, def.Error = StepFailed, msg
			w.st.Phase, w.st.Failed, w.st.Error, w.st.Next = Stopped, st.ID, msg, next
		})
		stepErr := &StepError{Step: st.ID, Title: st.Title, Err: errors.New(msg), Next: next}
		ferr := finish(stepErr, map[string]any{"step": st.ID, "index": w.i + 1})
		progress(ops.Progress{Item: st.Title, Stage: StageFailed, Detail: msg, Done: w.i, Total: total})
		return errors.Join(stepErr, serr, ferr, w.end(stepErr))
	}
	serr := w.change(func() {
		rec.Status, rec.Evidence, rec.EndedAt = StepDone, evidence, ended
		def.Status, def.Evidence = StepDone, evidence
	})
	ferr := finish(nil, map[string]any{"step": st.ID, "index": w.i + 1, "evidence": evidence})
	progress(ops.Progress{Item: st.Title, Stage: StageDone, Detail: evidence, Done: w.i + 1, Total: total})
	if serr != nil || ferr != nil {
		return errors.Join(serr, ferr, w.end(errors.Join(serr, ferr)))
	}
	w.mu.Lock()
	w.i++
	last := w.i == len(w.defs)
	w.mu.Unlock()
	if last {
		return w.complete()
	}
	return nil
}

// Confirm asks the operator to approve a destructive step's plan.
type Confirm func(ctx context.Context, p *ops.Plan) (ops.Approval, error)

// Run walks the remaining steps: it plans each, asks confirm for the
// destructive ones, applies it. It stops at the first failure, a refused
// confirmation or a cancelled ctx; the next run resumes there.
func (w *Walk) Run(ctx context.Context, confirm Confirm, progress func(ops.Progress)) error {
	for {
		if _, ok := w.Current(); !ok {
			_, err := w.Ended()
			return err
		}
		if err := ctx.Err(); err != nil {
			return w.Stop(fmt.Errorf("interrupted: %w", err))
		}
		p, err := w.PlanStep(ctx)
		if err != nil {
			return w.Stop(err)
		}
		var a ops.Approval
		if NeedsConfirm(p) {
			if confirm == nil {
				return w.Stop(fmt.Errorf("%w: no way to ask", ErrNeedsConfirm))
			}
			if a, err = confirm(ctx, p); err != nil {
				return w.Stop(err)
			}
		}
		if err := w.ApplyStep(ctx, p, a, progress); err != nil {
			var se *StepError
			if errors.As(err, &se) {
				return err
			}
			return w.Stop(err)
		}
	}
}

// Stop ends the walk before its current step (the operator declined it,
// the session is closing): the reset stays stopped there and the next run
// resumes at that step.
func (w *Walk) Stop(reason error) error {
	if ended, _ := w.Ended(); ended {
		return reason
	}
	st, _ := w.Current()
	err := w.change(func() {
		w.st.Phase, w.st.Failed = Stopped, st.ID
		w.st.Error = reason.Error()
		w.st.Next = fmt.Sprintf("run `synops reset run` again: it resumes at %q", st.Title)
	})
	return errors.Join(reason, err, w.end(reason))
}

// end closes the walk with result: the reset's audit end line, the lock.
func (w *Walk) end(result error) error {
	w.mu.Lock()
	if w.ended {
		w.mu.Unlock()
		return nil
	}
	w.ended, w.result = true, result
	w.mu.Unlock()
	defer w.release()
	detail := map[string]any{"reset": w.st.ID, "phase": w.st.Phase, "new_admin": w.st.NewAdmin}
	if w.st.TokenHint != "" {
		detail["token"] = w.st.TokenHint
	}
	if w.st.Failed != "" {
		detail["stopped_at"] = w.st.Failed
	}
	return w.finish(result, detail)
}

// complete marks the reset done and drops the kept token: it is where the
// profile says it goes.
func (w *Walk) complete() error {
	s := w.s
	var errs []error
	removed := true
	if kept := w.st.Kept; kept != "" {
		if err := os.Remove(kept); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove the kept token %s: %w", kept, err))
			removed = false // the record keeps saying where it is
		}
	}
	errs = append(errs, w.change(func() {
		if removed {
			w.st.Kept = ""
		}
		w.st.Phase, w.st.EndedAt = Done, s.now().UTC()
	}))
	err := errors.Join(errs...)
	return errors.Join(err, w.end(err))
}

// ctl is the service controller with its output going to this step.
func (w *Walk) ctl(out *stepOut) *services.Controller {
	return w.s.controller().WithLog(out)
}

// scrub takes the new token out of text that could quote it.
func (w *Walk) scrub(s string) string {
	if w.token.IsZero() {
		return s
	}
	return strings.ReplaceAll(s, w.token.Reveal(), "[redacted]")
}

// stepOut is a step's live output: every line goes to the job log and to
// the progress callback, cleaned for the terminal, any token taken out.
type stepOut struct {
	mu   sync.Mutex
	w    *Walk
	log  io.Writer
	line func(string)
	buf  bytes.Buffer
}

func (w *Walk) newOut(line func(string)) *stepOut {
	return &stepOut{w: w, log: w.s.log(), line: line}
}

func (o *stepOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	for {
		i := bytes.IndexByte(o.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		l := string(o.buf.Next(i + 1))
		o.emit(strings.TrimRight(l, "\r\n"))
	}
	return len(p), nil
}

func (o *stepOut) emit(l string) {
	l = o.w.scrub(l)
	fmt.Fprintln(o.log, l)
	if c := strings.TrimSpace(text.Clean(l)); c != "" {
		o.line(c)
	}
}

// say is a line of synops' own about what the step does.
func (o *stepOut) say(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.emit("  " + fmt.Sprintf(format, args...))
}

func (o *stepOut) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() > 0 {
		o.emit(o.buf.String())
		o.buf.Reset()
	}
}
