package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/backup"
	"synops/ops/reset"
	"synops/ops/text"
)

// ResetSource is seed 000's guided reset; *reset.Service is one.
type ResetSource interface {
	Plan(ctx context.Context, req reset.Request) (*reset.Plan, error)
	Start(ctx context.Context, p *reset.Plan, a ops.Approval) (*reset.Walk, error)
	PlanNotify(ctx context.Context, message string) (*ops.Plan, error)
	ApplyNotify(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*reset.Told, error)
	ConfirmTold(ctx context.Context, note string) (*reset.Told, error)
	PlanBackup(ctx context.Context) (*ops.Plan, error)
	TakeBackup(ctx context.Context, p *ops.Plan, progress func(ops.Progress)) (*backup.CreateResult, error)
}

type resetPlannedMsg struct {
	gen  int
	plan *reset.Plan
	err  error
}

// resetRun is the reset under way, shared by the pane (which draws it) and
// the commands that plan and apply its steps: the plans made for approval,
// the walk once started, the current step's output. Everything in it is
// behind its lock; the walk's own methods may be read while a step runs.
type resetRun struct {
	mu    sync.Mutex
	plans map[string]*reset.Plan // by the approval plan's ID
	walk  *reset.Walk
	out   []string // the last lines of the current step
}

const resetOutLines = 200

func (r *resetRun) keep(p *reset.Plan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plans[p.Op.ID] = p
}

func (r *resetRun) planned(id string) *reset.Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.plans[id]
}

func (r *resetRun) setWalk(w *reset.Walk) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.walk, r.out = w, nil
}

func (r *resetRun) current() *reset.Walk {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.walk
}

// progress keeps a step's output lines and passes every report on.
func (r *resetRun) progress(next func(ops.Progress)) func(ops.Progress) {
	return func(p ops.Progress) {
		line := ""
		switch p.Stage {
		case reset.StageStarted:
			line = "▸ " + p.Item + ": " + p.Detail
		case reset.StageOutput:
			line = "  " + p.Detail
		case reset.StageDone:
			line = "✓ " + p.Detail
		case reset.StageFailed:
			line = "✗ " + p.Detail
		}
		if line != "" {
			r.mu.Lock()
			r.out = append(r.out, line)
			if over := len(r.out) - resetOutLines; over > 0 {
				r.out = append(r.out[:0:0], r.out[over:]...)
			}
			r.mu.Unlock()
		}
		next(p)
	}
}

func (r *resetRun) lines(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.out[max(len(r.out)-n, 0):]...)
}

// ResetPane is seed 000's "Resetting the Matrix Database" as a walk: the
// pre-reset checklist with its evidence, every step with the exact commands
// it runs, the current step's live output, and the confirmations. One typed
// server name starts the reset; each destructive step asks once more.
type ResetPane struct {
	c       *Common
	src     ResetSource
	actions *Actions
	run     *resetRun

	gen      int
	plan     *reset.Plan
	planErr  string
	planning bool
	w, h     int
}

// NewResetPane builds the pane over src.
func NewResetPane(c *Common, src ResetSource) *ResetPane {
	p := &ResetPane{c: c, src: src, run: &resetRun{plans: map[string]*reset.Plan{}}}
	p.actions = NewActions(c, p.resetActions()...)
	return p
}

func (p *ResetPane) resetActions() []Action {
	src, run := p.src, p.run
	k := func(keys, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(keys, help))
	}
	return []Action{
		{Name: "check", Key: p.c.Keys.Refresh, Palette: "reset: run the checklist again", Footer: true, Do: func(string) tea.Cmd {
			if w := run.current(); w != nil {
				if ended, _ := w.Ended(); ended {
					run.setWalk(nil) // done with: the checklist is for the next reset
				}
			}
			return p.load()
		}},
		{Name: "told", Key: k("t", "team told"), Palette: "reset: record that the team has been told", Footer: true, Mutates: true,
			Ask: &Ask{Prompt: func(string) string { return "how was the team told? " }, Check: func(string) error { return nil }},
			Answer: func(_, note string) tea.Cmd {
				ctx := p.c.Ctx
				return func() tea.Msg {
					if _, err := src.ConfirmTold(ctx, note); err != nil {
						return ToastMsg{Text: "record that the team was told: " + err.Error(), Error: true}
					}
					return JobDoneMsg{Owner: ownerReset, Action: "told", Result: JobResult{Summary: "recorded: the team has been told"}}
				}
			}},
		{Name: "notify", Key: k("n", "send a notice"), Palette: "reset: send a notice to every user (or the configured room)", Mutates: true,
			Change: &Change{Title: "Tell the team", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) { return src.PlanNotify(ctx, "") },
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					told, err := src.ApplyNotify(ctx, pl, a, progress)
					if told == nil {
						return Done("", err)
					}
					return Done("told: "+told.String(), err)
				},
				JobLabel: func(*ops.Plan) string { return "Tell the team" }}},
		{Name: "backup", Key: k("b", "back up now"), Palette: "reset: take and verify a backup now", Footer: true, Mutates: true,
			Change: &Change{Title: "Back up before the reset", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) { return src.PlanBackup(ctx) },
				Apply: func(ctx context.Context, pl *ops.Plan, _ ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					res, err := src.TakeBackup(ctx, pl, progress)
					if res == nil {
						return Done("", err)
					}
					sum := "backup " + res.Entry.ID
					if res.Verify != nil {
						sum += verdict(res.Verify)
					}
					return Done(sum, err)
				},
				JobLabel: func(*ops.Plan) string { return "Back up before the reset" }}},
		{Name: "start", Key: k("S", "start the reset"), Palette: "reset: start the reset (type the server name)", Footer: true, Mutates: true,
			Change: &Change{Title: "Reset the Matrix database", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) {
					rp, err := src.Plan(ctx, reset.Request{})
					if err != nil {
						return nil, err
					}
					if rp.StepsError != "" {
						return nil, errors.New(rp.StepsError)
					}
					if b := rp.Blocking(); len(b) > 0 {
						return nil, fmt.Errorf("not ready: %s (%s)", b[0].Title, b[0].Hint)
					}
					run.keep(rp)
					return rp.Op, nil
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, _ func(ops.Progress)) (JobResult, error) {
					w, err := src.Start(ctx, run.planned(pl.ID), a)
					if err != nil {
						return Done("", err)
					}
					run.setWalk(w)
					return Done("the reset has started", nil)
				},
				// The dialog leads with what is lost, then the steps by
				// name: their commands are in the pane behind it.
				Describe: func(pl *ops.Plan) []string {
					var out []string
					if len(pl.Impact) > 0 {
						out = append(out, pl.Impact[0])
					}
					if rp := run.planned(pl.ID); rp != nil {
						for i, st := range rp.Steps[rp.First:] {
							line := fmt.Sprintf("%d. %s", rp.First+i+1, st.Title)
							if st.Risk >= ops.Destructive {
								line += " (" + st.Risk.String() + ": asks again)"
							}
							out = append(out, line)
						}
					}
					return out
				},
				JobLabel: func(*ops.Plan) string { return "Start the reset" }}},
		{Name: "next", Key: k("x", "run the next step"), Palette: "reset: run the next step", Footer: true, Mutates: true,
			Change: &Change{Title: "Reset step", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) {
					w := run.current()
					if w == nil {
						return nil, errors.New("the reset has not started: S starts it")
					}
					if ended, _ := w.Ended(); ended {
						return nil, fmt.Errorf("%w: the reset has ended", ops.ErrNothingToDo)
					}
					return w.PlanStep(ctx)
				},
				Confirm: reset.NeedsConfirm,
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					w := run.current()
					cur, _ := w.Current()
					err := w.ApplyStep(ctx, pl, a, run.progress(progress))
					var se *reset.StepError
					if errors.As(err, &se) && se.Next != "" {
						err = fmt.Errorf("%w; next: %s", err, se.Next)
					}
					summary := "done"
					for _, st := range w.Steps() {
						if st.ID == cur.ID && st.Evidence != "" {
							summary = st.Evidence
						}
					}
					return Done(summary, err)
				},
				JobLabel: func(pl *ops.Plan) string { return "Reset: " + pl.Steps[0].Title }}},
	}
}

func (p *ResetPane) Title() string { return ownerReset }

func (p *ResetPane) Init() tea.Cmd {
	if p.c.Production {
		// Planning a production reset is itself refused (and audited):
		// the console does not ask, the pane says why.
		p.actions = NewActions(p.c)
		return nil
	}
	return p.load()
}

// load runs the checklist and plans the reset (changing nothing).
func (p *ResetPane) load() tea.Cmd {
	p.gen++
	p.planning = true
	ctx, src, gen := p.c.Ctx, p.src, p.gen
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		rp, err := src.Plan(ctx, reset.Request{})
		return resetPlannedMsg{gen: gen, plan: rp, err: err}
	}
}

func (p *ResetPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case resetPlannedMsg:
		if msg.gen != p.gen {
			return nil
		}
		p.planning, p.planErr = false, ""
		if msg.err != nil {
			p.planErr = msg.err.Error()
		}
		if msg.plan != nil {
			p.plan = msg.plan
		}
		return nil
	case JobDoneMsg:
		return p.changed(msg)
	case ActionMsg:
		return p.actions.Run(p.actions.Find(msg.Action), ownerReset, "")
	case tea.KeyPressMsg:
		return p.actions.Run(p.actions.Match(msg, false), ownerReset, "")
	}
	return nil
}

// changed follows the walk: after the start or a step that went well the
// next step is planned at once (it runs, or asks when it destroys); a
// failure stops the walk where it is, to be run again with x.
func (p *ResetPane) changed(msg JobDoneMsg) tea.Cmd {
	if msg.Owner != ownerReset {
		return nil
	}
	cmds := []tea.Cmd{p.load()}
	if msg.Action == "told" {
		cmds = append(cmds, Toast(msg.Result.Summary, false))
	}
	if (msg.Action == "start" || msg.Action == "next") && msg.Err == nil {
		if w := p.run.current(); w != nil {
			if ended, err := w.Ended(); !ended {
				cmds = append(cmds, p.actions.Run(p.actions.Find("next"), ownerReset, ""))
			} else if err == nil {
				cmds = append(cmds, func() tea.Msg { return ServerResetMsg{} })
			}
		}
	}
	return tea.Batch(cmds...)
}

func (p *ResetPane) SetSize(w, h int) { p.w, p.h = w, h }

func (p *ResetPane) Capturing() bool { return false }

func (p *ResetPane) Commands() []Command { return p.actions.Commands() }

func (p *ResetPane) ShortHelp() []key.Binding { return p.actions.Footer() }

func (p *ResetPane) FullHelp() [][]key.Binding { return p.actions.Help() }

func (p *ResetPane) View() string {
	s := p.c.Styles
	out := []string{s.Title.Render("Reset") + s.Muted.Render(" · seed 000's \"Resetting the Matrix Database\"")}
	if p.c.Production {
		out = append(out, "", s.Crit.Render("This profile is labelled production: the console does not reset it."),
			s.Muted.Render("If you really mean to: synops reset plan --production-override, then synops reset run --production-override (the server name typed)."))
		return fit(strings.Join(out, "\n"), p.w, p.h)
	}
	if p.planErr != "" {
		out = append(out, s.Crit.Render(text.Clean(p.planErr)))
	}
	rp := p.plan
	if rp == nil {
		if p.planning {
			out = append(out, s.Muted.Render("running the checklist…"))
		}
		return fit(strings.Join(out, "\n"), p.w, p.h)
	}
	head := fmt.Sprintf("%s · path %s", rp.Op.Server, rp.Path)
	if rp.Resume && p.run.current() == nil {
		head += fmt.Sprintf(" · resuming an earlier run at step %d of %d", rp.First+1, len(rp.Steps))
	}
	if p.planning {
		head += " · checking…"
	}
	out = append(out, s.Muted.Render(text.Clean(head)), "", s.Group.Render("Before the reset"))
	walking := p.run.current() != nil
	mark := map[reset.Status]func(...string) string{reset.OK: s.OK.Render, reset.Warn: s.Warn.Render, reset.Fail: s.Crit.Render,
		reset.Pending: s.Warn.Render, reset.Skipped: s.Muted.Render}
	if walking {
		// Under way, the steps matter: the checklist approved the start.
		switch ended, err := p.run.current().Ended(); {
		case ended && err == nil:
			out = append(out, cell(s.OK.Render(" ✓ The reset is complete: "+text.Clean(rp.Op.Server)+" is empty and runs, and synops and the application use the new admin's token."), p.w),
				cell(s.Muted.Render("   r runs the checklist again (for another reset)"), p.w))
		case ended:
			out = append(out, cell(s.Crit.Render(" ✗ The reset stopped: "+text.Clean(err.Error())), p.w))
		default:
			out = append(out, cell(s.Muted.Render(" checked and approved when the reset started"), p.w))
		}
	} else {
		out = append(out, p.checklist(rp, mark)...)
	}
	if rp.StepsError != "" {
		out = append(out, s.Crit.Render(text.Clean(rp.StepsError)))
	}
	steps, current := rp.Steps, rp.First
	if w := p.run.current(); w != nil {
		steps = w.Steps()
		current = -1
		if st, ok := w.Current(); ok {
			for i, x := range steps {
				if x.ID == st.ID {
					current = i
				}
			}
		}
	}
	out = append(out, "", s.Group.Render("Steps"))
	for i, st := range steps {
		m := st.Status.Mark()
		line := " " + m + " " + text.Clean(st.Title)
		if st.Risk >= ops.Destructive {
			line += s.Crit.Render(" (" + st.Risk.String() + ")")
		}
		if st.Evidence != "" {
			line += s.Muted.Render(" · " + text.Clean(st.Evidence))
		}
		if st.Error != "" {
			line += s.Crit.Render(" · " + text.Clean(st.Error))
		}
		if i == current {
			line = s.Selected.Render(cell(line, p.w))
		}
		out = append(out, cell(line, p.w))
		if i == current {
			for _, c := range st.Commands {
				out = append(out, cell(s.Muted.Render("     runs: "+text.Clean(c)), p.w))
			}
			if st.Verify != "" {
				out = append(out, cell(s.Muted.Render("     then checks: "+text.Clean(st.Verify)), p.w))
			}
		}
	}
	if lines := p.run.lines(max(p.h-len(out)-2, 3)); len(lines) > 0 {
		out = append(out, "", s.Group.Render("Output"))
		for _, l := range lines {
			out = append(out, cell(text.Clean(l), p.w))
		}
	}
	return fit(strings.Join(out, "\n"), p.w, p.h)
}

// checklist draws the pre-reset checks: what holds on one line with its
// evidence as far as it fits; what does not with all its evidence and what
// to do about it here.
func (p *ResetPane) checklist(rp *reset.Plan, mark map[reset.Status]func(...string) string) []string {
	s := p.c.Styles
	var out []string
	for _, it := range rp.Checklist.Items {
		line := " " + mark[it.Status](it.Status.Mark()) + " " + text.Clean(it.Title)
		if it.Status == reset.OK || it.Status == reset.Skipped {
			if it.Evidence != "" {
				line += s.Muted.Render(" · " + text.Clean(it.Evidence))
			}
			out = append(out, cell(line, p.w))
			continue
		}
		out = append(out, cell(line, p.w))
		if it.Evidence != "" {
			for _, l := range wrap(text.Clean(it.Evidence), max(p.w-6, 20)) {
				out = append(out, cell(s.Muted.Render("     "+l), p.w))
			}
		}
		todo := offerHints(it.Offer, rp.Op.Server)
		if todo == "" {
			todo = text.Clean(it.Hint)
		}
		if todo != "" {
			for _, l := range wrap("→ "+todo, max(p.w-6, 20)) {
				out = append(out, cell(s.Hint.Render("     "+l), p.w))
			}
		}
	}
	for _, n := range rp.Notes {
		out = append(out, cell(s.Warn.Render(" ! "+text.Clean(n)), p.w))
	}
	return out
}

// offerHints says, in this pane's keys, what a checklist item offers.
func offerHints(offers []string, server string) string {
	var out []string
	for _, o := range offers {
		switch o {
		case reset.OfferNotify:
			out = append(out, "n sends a notice to every local user (or the configured room)")
		case reset.OfferTold:
			out = append(out, "t records that you told them yourself")
		case reset.OfferBackup:
			out = append(out, "b takes and verifies a backup now; or S and type \""+text.Clean(server)+" without backup\" to go without")
		}
	}
	return strings.Join(out, "; ")
}
