package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/text"
)

// JobState is where a long-running piece of work stands.
type JobState int

const (
	JobRunning JobState = iota
	JobDone
	JobFailed
)

// Job is one entry of the job list: a Synapse deletion, a dump, a diagnosis.
type Job struct {
	ID       int
	Title    string
	Owner    string // the pane that started it
	State    JobState
	Progress float64 // 0..1; negative when unknown
	Detail   string  // the latest progress line, the summary, or the error in full
	Started  time.Time
	Ended    time.Time

	dismissed bool
	cancel    context.CancelFunc
}

// JobResult is what a job's function returns besides its error: the summary
// shown when it ends, and a value for the pane that started it.
type JobResult struct {
	Summary string
	Value   any
}

// Done is a result that is only its summary.
func Done(summary string, err error) (JobResult, error) { return JobResult{Summary: summary}, err }

// JobSpec is one piece of background work.
type JobSpec struct {
	Title                 string
	Owner, Action, Target string // where JobDoneMsg goes back to
	Fn                    func(ctx context.Context, progress func(ops.Progress)) (JobResult, error)
	// Quiet jobs end without a toast (a diagnosis shows its own verdict).
	Quiet bool
}

// JobDoneMsg is broadcast when a job ends.
type JobDoneMsg struct {
	ID                    int
	Owner, Action, Target string
	Result                JobResult
	Err                   error
}

// jobEvent is one report from a running job, read from its channel by a
// command that the root re-arms until the channel closes.
type jobEvent struct {
	id       int
	events   <-chan jobEvent
	progress *ops.Progress
	done     bool
	result   JobResult
	err      error
}

// Jobs is the job list. It lives in Common, so it survives pane switches; it
// is only touched from Update, on the event loop. Running and failed jobs
// stay listed (failed ones until dismissed); the history keeps every job
// since the console started.
type Jobs struct {
	ctx  context.Context
	list []*Job
	next int
	now  func() time.Time
	spec map[int]JobSpec

	running sync.WaitGroup
	closed  chan struct{} // closed by Close: nobody reads the events any more
	once    sync.Once
}

// NewJobs makes an empty list; jobs run under ctx.
func NewJobs(ctx context.Context, now func() time.Time) *Jobs {
	return &Jobs{ctx: ctx, now: now, spec: map[int]JobSpec{}, closed: make(chan struct{})}
}

// Run starts spec.Fn in a goroutine and returns the command that follows it.
// The function's context is cancelled by Cancel or when the console quits.
func (j *Jobs) Run(spec JobSpec) tea.Cmd {
	j.next++
	id := j.next
	ctx, cancel := context.WithCancel(j.ctx)
	j.list = append(j.list, &Job{ID: id, Title: spec.Title, Owner: spec.Owner, Progress: -1, Started: j.now(), cancel: cancel})
	j.spec[id] = spec
	events := make(chan jobEvent, 16)
	fn, closed := spec.Fn, j.closed
	j.running.Add(1)
	go func() {
		defer j.running.Done()
		defer close(events)
		defer cancel()
		progress := func(p ops.Progress) {
			select {
			case events <- jobEvent{id: id, events: events, progress: &p}:
			default: // the screen is behind; the next report will do
			}
		}
		res, err := fn(ctx, progress)
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		select {
		case events <- jobEvent{id: id, events: events, done: true, result: res, err: err}:
		case <-closed: // the console has quit
		}
	}()
	return waitJob(events)
}

func waitJob(events <-chan jobEvent) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return nil
		}
		return ev
	}
}

// update records a job event; it returns the command that reads the next one,
// or, when the job ended, the toast and the JobDoneMsg.
func (j *Jobs) update(ev jobEvent) tea.Cmd {
	x := j.find(ev.id)
	if x == nil {
		return nil
	}
	if !ev.done {
		x.Progress, x.Detail = ev.progress.Fraction(), ev.progress.String()
		return waitJob(ev.events)
	}
	spec := j.spec[ev.id]
	delete(j.spec, ev.id)
	x.Ended = j.now()
	done := JobDoneMsg{ID: x.ID, Owner: spec.Owner, Action: spec.Action, Target: spec.Target, Result: ev.result, Err: ev.err}
	cmds := []tea.Cmd{func() tea.Msg { return done }}
	switch {
	case errors.Is(ev.err, context.Canceled):
		x.State, x.Detail = JobFailed, "cancelled"
		cmds = append(cmds, Toast(x.Title+": cancelled", true))
	case ev.err != nil:
		x.State, x.Detail = JobFailed, ev.err.Error()
		cmds = append(cmds, Toast(ev.err.Error(), true))
	default:
		x.State, x.Progress, x.Detail = JobDone, 1, ev.result.Summary
		if !spec.Quiet && ev.result.Summary != "" {
			cmds = append(cmds, Toast(ev.result.Summary, false))
		}
	}
	return tea.Batch(cmds...)
}

func (j *Jobs) find(id int) *Job {
	for _, x := range j.list {
		if x.ID == id {
			return x
		}
	}
	return nil
}

// Cancel asks a running job to stop; it ends when its function returns.
func (j *Jobs) Cancel(id int) bool {
	if x := j.find(id); x != nil && x.State == JobRunning {
		x.cancel()
		x.Detail = "cancelling…"
		return true
	}
	return false
}

// Dismiss takes an ended job off the strip; it stays in the history.
func (j *Jobs) Dismiss(id int) {
	if x := j.find(id); x != nil && x.State != JobRunning {
		x.dismissed = true
	}
}

// CancelAll stops every running job (the console is quitting).
func (j *Jobs) CancelAll() {
	for _, x := range j.list {
		if x.State == JobRunning {
			x.cancel()
		}
	}
}

// Close cancels every job and waits up to limit for their functions to
// return, so the processes they started are gone before the console exits.
// It reports whether all ended. Call it after the program stopped.
func (j *Jobs) Close(limit time.Duration) bool {
	j.once.Do(func() { close(j.closed) })
	j.CancelAll()
	done := make(chan struct{})
	go func() { j.running.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

// All is the history, oldest first.
func (j *Jobs) All() []*Job { return j.list }

// Visible is what the strip above the status bar shows: running jobs, failed
// ones until dismissed, and those that succeeded in the last 10 seconds.
func (j *Jobs) Visible() []*Job {
	var out []*Job
	for _, x := range j.list {
		switch {
		case x.State == JobRunning,
			x.State == JobFailed && !x.dismissed,
			x.State == JobDone && !x.dismissed && j.now().Sub(x.Ended) < 10*time.Second:
			out = append(out, x)
		}
	}
	return out
}

// Line renders one job on one line of width w.
func (x *Job) Line(s *Styles, w int) string {
	line := x.mark(s) + " " + text.Clean(x.Title)
	if x.State == JobRunning && x.Progress >= 0 {
		n := int(x.Progress * 10)
		line += " [" + strings.Repeat("█", n) + strings.Repeat("░", 10-n) + fmt.Sprintf("] %3.0f%%", x.Progress*100)
	}
	if x.Detail != "" {
		line += s.Muted.Render(" · " + text.Clean(x.Detail))
	}
	return cell(line, w)
}

func (x *Job) mark(s *Styles) string {
	switch x.State {
	case JobRunning:
		return s.Warn.Render("⟳")
	case JobDone:
		return s.OK.Render("✔")
	}
	return s.Crit.Render("✘")
}
