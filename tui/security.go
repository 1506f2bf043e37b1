package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/security"
	"synops/ops/text"
	"synops/ops/tokens"
)

// SecuritySource is what the Security pane reads and changes: seed 004's
// checklist, the audit log, and the admin token's rotation.
type SecuritySource interface {
	Audit(ctx context.Context) []security.Check
	Acknowledge(item, note string) error
	AuditLog(f audit.Filter) ([]audit.Operation, error)
	// Tokens is nil when the admin token cannot be read; the token actions
	// are then off.
	Tokens() TokenSource
}

// TokenSource is token rotation; *tokens.Service is one.
type TokenSource interface {
	Age(ctx context.Context) tokens.Age
	PlanRotate(ctx context.Context, req tokens.RotateRequest) (*ops.Plan, error)
	ApplyRotate(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*tokens.Rotation, error)
	PlanFinish(ctx context.Context, req tokens.FinishRequest) (*ops.Plan, error)
	ApplyFinish(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*tokens.FinishResult, error)
	PlanRollback(ctx context.Context) (*ops.Plan, error)
	ApplyRollback(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*tokens.Rotation, error)
}

type auditedMsg struct {
	gen    int
	checks []security.Check
	at     time.Time
}

// TokenAgeMsg carries the admin token's age; the root shows it in the status
// bar when the token is older than it should be (seed 004: 90 days).
type TokenAgeMsg struct{ Age tokens.Age }

// SecurityPane is seed 004's security checklist as checks with evidence,
// the admin token's rotation, and synops' audit log.
type SecurityPane struct {
	listPane[security.Check]
	src    SecuritySource
	detail int // lines under the table for the selected check
}

// NewSecurityPane builds the pane over src.
func NewSecurityPane(c *Common, src SecuritySource) *SecurityPane {
	p := &SecurityPane{listPane: listPane[security.Check]{c: c, owner: ownerSecurity}, src: src, detail: 6}
	glyph := func(ch *security.Check) string {
		return map[security.Status]string{security.OK: "✔", security.Warn: "▲", security.Fail: "✘", security.Manual: "?"}[ch.Status]
	}
	p.table = NewTable(c, []Column[security.Check]{
		{Title: "St", Width: 3, Cell: glyph, Style: func(s *Styles, ch *security.Check) lipgloss.Style {
			return map[security.Status]lipgloss.Style{security.OK: s.OK, security.Warn: s.Warn, security.Fail: s.Crit, security.Manual: s.Unknown}[ch.Status]
		}, Less: func(a, b *security.Check) bool { return severity(a.Status) > severity(b.Status) }},
		{Title: "Check", Min: 30, Max: 60, Cell: func(ch *security.Check) string { return ch.Title },
			SortText: func(ch *security.Check) string { return ch.Title }},
		{Title: "Evidence", Cell: func(ch *security.Check) string {
			if len(ch.Evidence) == 0 {
				return ""
			}
			return ch.Evidence[0]
		}},
	}, 0, func(ch *security.Check) string { return ch.ID },
		func(ch *security.Check) string {
			return strings.ToLower(ch.ID + "\x00" + ch.Title + "\x00" + strings.Join(ch.Evidence, "\x00"))
		})
	p.actions = NewActions(c, p.securityActions()...)
	return p
}

// severity orders statuses worst first.
func severity(s security.Status) int {
	return map[security.Status]int{security.Fail: 3, security.Warn: 2, security.Manual: 1, security.OK: 0}[s]
}

func (p *SecurityPane) securityActions() []Action {
	src := p.src
	k := func(keys, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(keys, help))
	}
	acts := []Action{
		{Name: "refresh", Key: p.c.Keys.Refresh, Palette: "security: run the audit again", Footer: true, Do: func(string) tea.Cmd { return p.load() }},
		{Name: "audit-log", Key: k("L", "audit log"), Palette: "security: synops' audit log", Footer: true, Do: p.openLog},
		{Name: "ack", Key: k("a", "acknowledge"), Palette: "security: acknowledge the selected manual item", Footer: true, Mutates: true,
			Ask: &Ask{Prompt: func(id string) string { return "acknowledge " + id + ": what did you check? " }, Check: func(string) error { return nil }},
			Answer: func(id, note string) tea.Cmd {
				return func() tea.Msg {
					if err := src.Acknowledge(id, note); err != nil {
						return ToastMsg{Text: "acknowledge " + id + ": " + err.Error(), Error: true}
					}
					return acknowledgedMsg{id: id}
				}
			}},
	}
	ts := src.Tokens()
	if ts == nil {
		return acts
	}
	return append(acts,
		Action{Name: "rotate", Key: k("t", "rotate the admin token"), Palette: "security: rotate the admin token", Footer: true, Mutates: true,
			Change: &Change{Title: "Rotate the admin token", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) {
					return ts.PlanRotate(ctx, tokens.RotateRequest{})
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					rot, err := ts.ApplyRotate(ctx, pl, a, progress)
					if err != nil || rot == nil {
						return Done("", err)
					}
					// This console still holds the old token: finish refuses
					// until synops is started again with the new one.
					return Done(fmt.Sprintf("rotated to %s; the old token works until you finish: quit, start synops again (it reads the new token), then f", rot.NewAdmin), nil)
				},
				JobLabel: func(*ops.Plan) string { return "Rotate the admin token" }}},
		Action{Name: "finish", Key: k("f", "finish the rotation"), Palette: "security: finish the token rotation (log the old token out)", Mutates: true,
			Change: &Change{Title: "Finish the token rotation", NoTarget: true,
				Ask: &Ask{Prompt: func(string) string { return "also deactivate the old admin? (yes/no): " }, Check: func(s string) error { _, err := yesNo(s); return err }},
				Plan: func(ctx context.Context, _, answer string) (*ops.Plan, error) {
					deactivate, err := yesNo(answer)
					if err != nil {
						return nil, err
					}
					return ts.PlanFinish(ctx, tokens.FinishRequest{DeactivateOld: deactivate})
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					res, err := ts.ApplyFinish(ctx, pl, a, progress)
					if err != nil || res == nil {
						return Done("", err)
					}
					msg := "the old token is logged out"
					if res.Deactivated != "" {
						msg += "; " + res.Deactivated + " is deactivated"
					}
					return Done(msg, nil)
				}}},
		Action{Name: "rollback", Key: k("B", "roll back the rotation"), Palette: "security: roll back an unfinished token rotation", Mutates: true,
			Change: &Change{Title: "Roll back the token rotation", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) { return ts.PlanRollback(ctx) },
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					_, err := ts.ApplyRollback(ctx, pl, a, progress)
					return Done("rolled back: the old token is in use again", err)
				}}},
	)
}

type acknowledgedMsg struct{ id string }

func (p *SecurityPane) Init() tea.Cmd { return tea.Batch(p.load(), p.tokenAge()) }

func (p *SecurityPane) load() tea.Cmd {
	gen := p.list.begin()
	ctx, src, now := p.c.Ctx, p.src, p.c.Now
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		return auditedMsg{gen: gen, checks: src.Audit(ctx), at: now()}
	}
}

// tokenAge reads the token's age for the status bar (no network unless
// synops never recorded a rotation).
func (p *SecurityPane) tokenAge() tea.Cmd {
	ts := p.src.Tokens()
	if ts == nil {
		return nil
	}
	ctx := p.c.Ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return TokenAgeMsg{Age: ts.Age(ctx)}
	}
}

func (p *SecurityPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case auditedMsg:
		if p.list.done(msg.gen, 0, nil, msg.at) {
			p.table.SetRows(msg.checks)
		}
		return nil
	case acknowledgedMsg:
		return tea.Batch(Toast("acknowledged "+msg.id, false), p.load())
	case JobDoneMsg:
		if msg.Owner == ownerSecurity {
			return tea.Batch(p.load(), p.tokenAge())
		}
		return nil
	case ServerResetMsg:
		return tea.Batch(p.load(), p.tokenAge())
	case ActionMsg:
		return p.action(msg.Action)
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return p.sub.Update(msg)
}

func (p *SecurityPane) openLog(string) tea.Cmd {
	return p.sub.Open(newAuditLogView(p.c, p.src))
}

// SetSize leaves room under the table for the selected check's detail.
func (p *SecurityPane) SetSize(w, h int) {
	p.listPane.SetSize(w, h)
	p.table.SetSize(w, max(h-2-p.detail, 3))
}

func (p *SecurityPane) View() string {
	if p.sub.Showing() {
		return p.sub.cur.View(p.w, p.h)
	}
	s := p.c.Styles
	list := p.view("Security", "checks", "", "running the checks…")
	lines := []string{list, s.Muted.Render(strings.Repeat("─", max(p.w, 1)))}
	if ch := p.table.Selected(); ch != nil {
		lines = append(lines, s.Detail.Render(text.Clean(ch.Title))+s.Muted.Render(" · "+ch.Status.String()))
		for _, e := range ch.Evidence {
			lines = append(lines, "  "+text.Clean(e))
		}
		if ch.Hint != "" && ch.Status != security.OK {
			lines = append(lines, s.Hint.Render("  → "+text.Clean(ch.Hint)))
		}
		if ch.Ack != nil {
			lines = append(lines, s.Muted.Render(fmt.Sprintf("  acknowledged %s by %s: %s",
				ch.Ack.At.Local().Format("2006-01-02"), text.Clean(ch.Ack.Operator), text.Clean(ch.Ack.Note))))
		}
	}
	return fit(strings.Join(lines, "\n"), p.w, p.h)
}

// auditLogView is synops' audit log as a sub-view: newest first, "/" to
// filter, the selected operation's error and detail in full below.
type auditLogView struct {
	c     *Common
	table *Table[audit.Operation]
	err   string
	w, h  int
}

func newAuditLogView(c *Common, src SecuritySource) *auditLogView {
	v := &auditLogView{c: c}
	v.table = NewTable(c, []Column[audit.Operation]{
		{Title: "When", Width: 16, Cell: func(o *audit.Operation) string { return o.Time.Local().Format("2006-01-02 15:04") },
			Less: func(a, b *audit.Operation) bool { return a.Time.After(b.Time) }}, // newest first
		{Title: "Profile", Width: 10, Cell: func(o *audit.Operation) string { return o.Profile }, SortText: func(o *audit.Operation) string { return o.Profile }},
		{Title: "Action", Width: 22, Cell: func(o *audit.Operation) string { return o.Action }, SortText: func(o *audit.Operation) string { return o.Action }},
		{Title: "Target", Min: 20, Max: 48, Cell: func(o *audit.Operation) string { return o.Target }, SortText: func(o *audit.Operation) string { return o.Target }},
		{Title: "Outcome", Width: 10, Cell: func(o *audit.Operation) string { return o.Outcome }, SortText: func(o *audit.Operation) string { return o.Outcome },
			Style: func(s *Styles, o *audit.Operation) lipgloss.Style {
				return map[string]lipgloss.Style{"ok": s.OK, "failed": s.Crit, "refused": s.Warn, "partial": s.Warn}[o.Outcome]
			}},
		{Title: "Error", Cell: func(o *audit.Operation) string { return o.Error }},
	}, 0, func(o *audit.Operation) string { return o.PlanID + o.Time.String() },
		func(o *audit.Operation) string {
			return strings.ToLower(strings.Join([]string{o.Profile, o.Server, o.Operator, o.Action, o.Target, o.Outcome, o.Error}, "\x00"))
		})
	ops, err := src.AuditLog(audit.Filter{})
	if err != nil {
		v.err = err.Error()
	}
	v.table.SetRows(ops)
	return v
}

func (v *auditLogView) Capturing() bool { return v.table.Capturing() }

func (v *auditLogView) Close() tea.Cmd { return nil }

func (v *auditLogView) SetSize(w, h int) {
	v.w, v.h = w, h
	v.table.SetSize(w, max(h-5, 3))
}

func (v *auditLogView) Update(msg tea.Msg) (tea.Cmd, bool) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	if !v.table.Capturing() && !v.table.FilterShown() && key.Matches(km, v.c.Keys.Back) {
		return nil, true
	}
	cmd, _ := v.table.Key(km)
	return cmd, false
}

func (v *auditLogView) View(w, h int) string {
	s := v.c.Styles
	header := s.Title.Render("Audit log") + s.Muted.Render(fmt.Sprintf(" · %d operations, newest first · esc back", v.table.Len()))
	if v.table.FilterShown() {
		header = v.table.FilterLine("operations")
	}
	if v.err != "" {
		header = s.Crit.Render("cannot read the audit log: " + text.Clean(v.err))
	}
	lines := append([]string{header}, v.table.View()...)
	lines = append(lines, s.Muted.Render(strings.Repeat("─", max(w, 1))))
	if o := v.table.Selected(); o != nil {
		lines = append(lines, text.Clean(fmt.Sprintf("%s %s by %s on %s (%s) · plan %s · %s", o.Action, o.Target, o.Operator, o.Server, o.Environment, o.PlanID, o.Outcome)))
		if o.Error != "" {
			lines = append(lines, s.Crit.Render(text.Clean(o.Error)))
		}
	}
	return fit(strings.Join(lines, "\n"), w, h)
}

func (v *auditLogView) ShortHelp() []key.Binding {
	return append(v.table.HelpKeys(), v.c.Keys.Back)
}

func (v *auditLogView) FullHelp() [][]key.Binding { return [][]key.Binding{v.ShortHelp()} }
