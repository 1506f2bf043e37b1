package tui

import (
	"context"
	"errors"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/text"
)

// Action is one thing a pane offers, declared once: the key that runs it, its
// help text, its palette entry and what it does. Keys, the footer, the full
// help and the command palette are all read from a pane's Actions, so an
// action's name is written in one place.
type Action struct {
	Name    string      // routes a palette pick back to the action (ActionMsg)
	Key     key.Binding // with its help text; disabled in read-only mode when Mutates
	Palette string      // the palette entry; "" keeps the action out of the palette
	Footer  bool        // shown in the one-line help under the pane
	Mutates bool        // changes the server: absent in read-only mode
	// InSubView keeps the action live while a sub-view (a room's detail) is
	// open; it then acts on what the sub-view shows.
	InSubView bool
	// Exactly one of Do, Change and Answer is set.
	Do     func(target string) tea.Cmd // a plain action: reload, open, filter
	Change *Change                     // plan → typed confirm → guarded apply → job
	// Answer is a plain action that asks Ask's question first.
	Answer func(target, answer string) tea.Cmd
	Ask    *Ask
}

// Change is an action that changes state. The runner takes it through the
// same steps whatever the pane: plan (in a tea.Cmd), the plan's impact in the
// typed confirm dialog (with the backup waiver when the gate asks for it),
// the approval, then Apply as a job with progress, a toast and ChangeDoneMsg.
type Change struct {
	Title string // "Delete room": the dialog's title and the job's label
	// Ask, when set, asks one line before planning (purge history's date).
	Ask *Ask
	// NoTarget: the change needs no selected row (finish every interrupted
	// deletion); the plan names its own target.
	NoTarget bool
	// Plan runs in a tea.Cmd: it may read, never change. An error wrapping
	// ops.ErrNothingToDo is shown as a note, not a failure.
	Plan func(ctx context.Context, target, answer string) (*ops.Plan, error)
	// Apply runs as a job; its result's summary is shown when it ends, and
	// the whole result reaches the pane in JobDoneMsg.
	Apply func(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error)
	// JobLabel names the job; by default the title and the plan's target.
	JobLabel func(p *ops.Plan) string
	// Describe, when set, gives the dialog's lines instead of the plan's
	// step titles and impact (a reset's steps carry whole commands, shown
	// in its pane; the dialog leads with what is lost).
	Describe func(p *ops.Plan) []string
	// Confirm says whether the plan needs the typed confirmation; by
	// default any plan that changes something does. A reset's steps that
	// destroy nothing run under the reset's one approval.
	Confirm func(p *ops.Plan) bool
}

// Ask is a one-line question asked before planning.
type Ask struct {
	Prompt func(target string) string
	// Check validates the answer in Update (no I/O); its error is shown and
	// the question stays open.
	Check func(answer string) error
}

// Approvals is where the runner gets the backup state of a plan;
// *ops.Guard is one.
type Approvals interface {
	Request(ctx context.Context, p *ops.Plan) ops.Request
}

// Actions is a pane's list of actions.
type Actions struct {
	c    *Common
	list []Action
}

// NewActions declares a pane's actions. Mutating ones are disabled in
// read-only mode: a disabled binding neither matches nor shows in help, and
// the palette leaves it out. Actions with no key set are palette-only.
func NewActions(c *Common, list ...Action) *Actions {
	for i := range list {
		if list[i].Mutates && c.ReadOnly {
			list[i].Key.SetEnabled(false)
		}
	}
	return &Actions{c: c, list: list}
}

// Enable turns the action called name on or off: its key, help and
// palette entry (an action whose dependency is missing).
func (as *Actions) Enable(name string, on bool) {
	for i := range as.list {
		if as.list[i].Name == name {
			as.list[i].Key.SetEnabled(on)
		}
	}
}

// usable reports whether a may run now.
func (as *Actions) usable(a *Action) bool {
	return !(a.Mutates && as.c.ReadOnly) && (a.Key.Enabled() || len(a.Key.Keys()) == 0)
}

// Match finds the action km runs; inSub limits it to InSubView actions.
func (as *Actions) Match(km tea.KeyPressMsg, inSub bool) *Action {
	for i := range as.list {
		a := &as.list[i]
		if (!inSub || a.InSubView) && a.Key.Enabled() && key.Matches(km, a.Key) {
			return a
		}
	}
	return nil
}

// Find is the action called name, if it may run now.
func (as *Actions) Find(name string) *Action {
	for i := range as.list {
		if a := &as.list[i]; a.Name == name && as.usable(a) {
			return a
		}
	}
	return nil
}

// Run starts a for target (the selected row): a plain action runs; a change
// is planned, or first asks its question. Refused in read-only mode.
func (as *Actions) Run(a *Action, owner, target string) tea.Cmd {
	if a == nil {
		return nil
	}
	if a.Mutates && as.c.ReadOnly {
		return Toast("read-only: "+a.Name+" is disabled", true)
	}
	if a.Do != nil {
		return a.Do(target)
	}
	if a.Answer != nil {
		req := askRequest{owner: owner, action: a.Name, target: target, ask: a.Ask, then: a.Answer}
		return func() tea.Msg { return openAskMsg{req} }
	}
	ch := a.Change
	if target == "" && !ch.NoTarget {
		return nil
	}
	if ch.Ask != nil {
		req := askRequest{owner: owner, action: a.Name, target: target, ask: ch.Ask, change: ch}
		return func() tea.Msg { return openAskMsg{req} }
	}
	return planCmd(as.c, owner, a.Name, target, "", ch)
}

// shown says whether a's key belongs in help: it has a key and help text
// (a second key of a pair, like "-" beside "+/-", has none).
func shown(a *Action) bool { return len(a.Key.Keys()) > 0 && a.Key.Help().Key != "" }

// Footer is the short help: the actions marked Footer, in order.
func (as *Actions) Footer() []key.Binding {
	var out []key.Binding
	for i := range as.list {
		if a := &as.list[i]; a.Footer && shown(a) {
			out = append(out, a.Key)
		}
	}
	return out
}

// Help is every action's key in two groups: what reads and what changes.
func (as *Actions) Help() [][]key.Binding {
	var reads, changes []key.Binding
	for i := range as.list {
		switch a := &as.list[i]; {
		case !shown(a):
		case a.Mutates:
			changes = append(changes, a.Key)
		default:
			reads = append(reads, a.Key)
		}
	}
	if len(changes) == 0 {
		return [][]key.Binding{reads}
	}
	return [][]key.Binding{reads, changes}
}

// SubViewKeys are the keys of the actions that stay live in a sub-view.
func (as *Actions) SubViewKeys() []key.Binding {
	var out []key.Binding
	for i := range as.list {
		if a := &as.list[i]; a.InSubView && shown(a) {
			out = append(out, a.Key)
		}
	}
	return out
}

// Commands are the palette entries.
func (as *Actions) Commands() []Command {
	var out []Command
	for i := range as.list {
		if a := &as.list[i]; a.Palette != "" && as.usable(a) {
			out = append(out, Command{Name: a.Palette, Action: a.Name})
		}
	}
	return out
}

// The runner's messages. A plan comes back as planReadyMsg; the root keeps it
// under a tag while the confirm dialog is open.
type (
	askRequest struct {
		owner, action, target string
		ask                   *Ask
		change                *Change                             // planned with the answer, or
		then                  func(target, answer string) tea.Cmd // run with it
	}
	openAskMsg   struct{ req askRequest }
	planReadyMsg struct {
		owner, action string
		change        *Change
		req           ops.Request
		err           error
	}
)

// planCmd plans ch in the background and asks the gate for the backup state.
func planCmd(c *Common, owner, action, target, answer string, ch *Change) tea.Cmd {
	ctx, gate := c.Ctx, c.Approvals
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		p, err := ch.Plan(ctx, target, answer)
		msg := planReadyMsg{owner: owner, action: action, change: ch, err: err}
		if err == nil && p == nil {
			msg.err = errors.New(action + ": the planner returned no plan")
		}
		if msg.err != nil {
			return msg
		}
		msg.req = ops.Request{Plan: p, BackupOK: !p.LosesData, BackupNote: "no backup gate is configured"}
		if gate != nil {
			msg.req = gate.Request(ctx, p)
		}
		return msg
	}
}

// runner takes changes from plan to job. The root owns it: it is the one place
// a plan waits for its approval.
type runner struct {
	c       *Common
	pending map[string]planReadyMsg // confirm tag → plan
	ask     *askBox
}

func newRunner(c *Common) *runner { return &runner{c: c, pending: map[string]planReadyMsg{}} }

// update handles the runner's messages; ok is false for any other message.
func (r *runner) update(msg tea.Msg) (cmd tea.Cmd, ok bool) {
	switch msg := msg.(type) {
	case openAskMsg:
		r.ask = newAskBox(msg.req)
		return r.ask.input.Focus(), true
	case planReadyMsg:
		return r.planned(msg), true
	case ConfirmResultMsg:
		return r.confirmed(msg), true
	}
	return nil, false
}

func (r *runner) planned(msg planReadyMsg) tea.Cmd {
	switch {
	case errors.Is(msg.err, ops.ErrNothingToDo):
		done := JobDoneMsg{Owner: msg.owner, Action: msg.action, Err: msg.err}
		return tea.Batch(Toast(msg.err.Error(), false), func() tea.Msg { return done })
	case msg.err != nil:
		return Toast(msg.action+": "+msg.err.Error(), true)
	}
	p := msg.req.Plan
	confirm := p.Risk() > ops.ReadOnly
	if msg.change.Confirm != nil {
		confirm = msg.change.Confirm(p)
	}
	if !confirm {
		// Nothing on the server changes (a backup, a restore test), or an
		// approval already covers it: no typed confirmation, as the CLI asks
		// none; the guard still audits it.
		return r.start(msg, ops.Approval{})
	}
	tag := msg.owner + ":" + p.ID
	r.pending[tag] = msg
	req := ConfirmRequest{
		Title: msg.change.Title, Server: p.Server, Environment: p.Environment,
		Production: p.Environment == "production", Target: msg.req.Phrase(), Risk: p.Risk().String(), Tag: tag,
	}
	if msg.change.Describe != nil {
		req.Impact = msg.change.Describe(p)
	} else {
		for _, s := range p.Steps {
			req.Impact = append(req.Impact, s.Title)
		}
		req.Impact = append(req.Impact, p.Impact...)
	}
	if p.LosesData {
		if msg.req.NeedsWaiver() {
			req.Warning = "⚠ " + msg.req.BackupNote + ": type the target followed by \"" + ops.WaiverSuffix + "\" to accept losing this data"
		} else {
			req.Impact = append(req.Impact, "backup: "+msg.req.BackupNote)
		}
	}
	return func() tea.Msg { return OpenConfirmMsg{Request: req} }
}

func (r *runner) confirmed(msg ConfirmResultMsg) tea.Cmd {
	pm, ok := r.pending[msg.Tag]
	if !ok {
		return nil
	}
	delete(r.pending, msg.Tag)
	if !msg.Confirmed {
		return Toast("cancelled: nothing was changed", false)
	}
	ap, err := pm.req.Approve(msg.Typed, r.c.Now())
	if err != nil {
		return Toast("not approved: "+err.Error(), true)
	}
	return r.start(pm, ap)
}

// start runs an approved change as a job.
func (r *runner) start(pm planReadyMsg, ap ops.Approval) tea.Cmd {
	p, ch := pm.req.Plan, pm.change
	label := ch.Title + " " + p.Target
	if ch.JobLabel != nil {
		label = ch.JobLabel(p)
	}
	owner, action, target := pm.owner, pm.action, p.Target
	return r.c.Jobs.Run(JobSpec{
		Title: label, Owner: owner, Action: action, Target: target,
		Fn: func(ctx context.Context, progress func(ops.Progress)) (JobResult, error) {
			return ch.Apply(ctx, p, ap, progress)
		},
	})
}

// askBox is the one-line question of a change, drawn by the root like the
// palette. Enter checks the answer and plans; Esc drops the change.
type askBox struct {
	req   askRequest
	input textinput.Model
	err   string
}

func newAskBox(req askRequest) *askBox {
	in := newInput(text.Clean(req.ask.Prompt(req.target)))
	in.CharLimit = 200
	return &askBox{req: req, input: in}
}

// update handles a key; done says the box closed.
func (b *askBox) update(c *Common, km tea.KeyPressMsg) (cmd tea.Cmd, done bool) {
	switch km.String() {
	case "esc":
		return Toast("cancelled: nothing was changed", false), true
	case "enter":
		answer := strings.TrimSpace(b.input.Value())
		if err := b.req.ask.Check(answer); err != nil {
			b.err = err.Error()
			return nil, false
		}
		if b.req.then != nil {
			return b.req.then(b.req.target, answer), true
		}
		return planCmd(c, b.req.owner, b.req.action, b.req.target, answer, b.req.change), true
	}
	b.input, cmd = b.input.Update(km)
	b.err = ""
	return cmd, false
}

func (b *askBox) view(s *Styles, width int) string {
	out := b.input.View()
	if b.err != "" {
		out += "\n" + s.Crit.Render(b.err)
	}
	out += "\n" + s.Muted.Render("enter to plan · esc to cancel")
	return s.Palette.Width(min(max(width-8, 30), 90)).Render(out)
}
