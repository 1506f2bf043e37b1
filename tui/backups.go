package tui

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"synops/ops"
	"synops/ops/backup"
	"synops/ops/rooms"
	"synops/ops/text"
)

// BackupsSource is what the Backups pane reads and changes: the catalog and
// the backup service of ops/backup. PlanPrune plans with the profile's
// retention.
type BackupsSource interface {
	List(ctx context.Context) ([]backup.Entry, error)
	PlanCreate(ctx context.Context, req backup.CreateRequest) (*ops.Plan, error)
	ApplyCreate(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*backup.CreateResult, error)
	PlanVerify(ctx context.Context, req backup.VerifyRequest) (*ops.Plan, error)
	ApplyVerify(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*backup.VerifyResult, error)
	PlanPrune(ctx context.Context) (*ops.Plan, error)
	ApplyPrune(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*backup.PruneResult, error)
	PlanRestore(ctx context.Context, req backup.RestoreRequest) (*ops.Plan, error)
	ApplyRestore(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*backup.RestoreResult, error)
	PlanVolumes(ctx context.Context) (*ops.Plan, error)
	ApplyVolumes(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*backup.Entry, error)
}

type backupsLoadedMsg struct {
	gen     int
	entries []backup.Entry
	err     error
	at      time.Time
}

// BackupsPane is the backup catalog (age, size, verified ✓/✗/never, what
// each entry holds) with create, verify, restore, prune and the volume
// backup through the kit.
type BackupsPane struct {
	listPane[backup.Entry]
	src    BackupsSource
	detail int // lines under the table for the selected entry
}

// NewBackupsPane builds the pane over src.
func NewBackupsPane(c *Common, src BackupsSource) *BackupsPane {
	p := &BackupsPane{listPane: listPane[backup.Entry]{c: c, owner: ownerBackups}, src: src, detail: 7}
	now := c.Now
	p.table = NewTable(c, []Column[backup.Entry]{
		{Title: "V", Width: 2, Cell: func(e *backup.Entry) string { return e.Mark() },
			Style: func(s *Styles, e *backup.Entry) lipgloss.Style {
				return map[string]lipgloss.Style{backup.Passed: s.OK, backup.Never: s.Unknown}[e.State]
			}, SortText: func(e *backup.Entry) string { return e.State }},
		{Title: "Backup", Min: 21, Max: 32, Cell: func(e *backup.Entry) string { return e.ID },
			SortText: func(e *backup.Entry) string { return e.ID }},
		{Title: "Taken", Width: 16, Cell: func(e *backup.Entry) string { return stamp(e.TakenAt()) },
			Less: func(a, b *backup.Entry) bool { return a.TakenAt().After(b.TakenAt()) }}, // newest first
		{Title: "Age", Width: 5, Cell: func(e *backup.Entry) string {
			if e.TakenAt().IsZero() {
				return "—"
			}
			return rooms.Age(e.Age(now()))
		}},
		{Title: "Size", Width: 9, Cell: func(e *backup.Entry) string { return text.Bytes(e.Size()) },
			Less: func(a, b *backup.Entry) bool { return a.Size() < b.Size() }},
		{Title: "Verified", Width: 10, Cell: func(e *backup.Entry) string {
			if e.VerifiedAt().IsZero() {
				return "never"
			}
			return e.VerifiedAt().Local().Format("2006-01-02")
		}},
		{Title: "Holds", Cell: func(e *backup.Entry) string { return strings.Join(e.Contents(), " ") }},
	}, 2, func(e *backup.Entry) string { return e.ID }, func(e *backup.Entry) string {
		return strings.ToLower(e.ID + "\x00" + e.State + "\x00" + strings.Join(e.Contents(), " "))
	})
	p.actions = NewActions(c, p.backupActions(src)...)
	return p
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func (p *BackupsPane) backupActions(src BackupsSource) []Action {
	k := func(keys, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(keys, help))
	}
	return []Action{
		{Name: "reload", Key: p.c.Keys.Refresh, Palette: "backups: read the catalog again", Do: func(string) tea.Cmd { return p.load() }},
		// Creating and verifying change nothing on the server: their plans
		// are read-only, run without a typed confirmation and in read-only
		// mode too.
		{Name: "create", Key: k("c", "back up now"), Palette: "backups: back up now (and verify)", Footer: true,
			Change: &Change{Title: "Back up", NoTarget: true,
				Ask: &Ask{Prompt: func(string) string { return "back up now; verify it by restoring right away? (yes/no): " },
					Check: func(s string) error { _, err := yesNo(s); return err }},
				Plan: func(ctx context.Context, _, answer string) (*ops.Plan, error) {
					verify, err := yesNo(answer)
					if err != nil {
						return nil, err
					}
					return src.PlanCreate(ctx, backup.CreateRequest{Verify: verify})
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					res, err := src.ApplyCreate(ctx, pl, a, progress)
					if res == nil {
						return Done("", err)
					}
					sum := fmt.Sprintf("backup %s: %s", res.Entry.ID, text.Bytes(res.Entry.Size()))
					if v := res.Verify; v != nil {
						sum += verdict(v)
					}
					return Done(sum, err)
				},
				JobLabel: func(*ops.Plan) string { return "Back up" }}},
		{Name: "verify", Key: k("v", "verify by restoring"), Palette: "backups: verify the selected backup by restoring it", Footer: true,
			Change: &Change{Title: "Verify backup",
				Plan: func(ctx context.Context, id, _ string) (*ops.Plan, error) {
					return src.PlanVerify(ctx, backup.VerifyRequest{ID: id})
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					res, err := src.ApplyVerify(ctx, pl, a, progress)
					if res == nil {
						return Done("", err)
					}
					return Done("backup "+res.ID+verdict(res), err)
				}}},
		{Name: "restore", Key: k("R", "restore"), Palette: "backups: restore the selected backup", Footer: true, Mutates: true,
			Change: &Change{Title: "Restore backup",
				Ask: &Ask{Prompt: func(id string) string { return "restore " + id + "; also put its media back? (yes/no): " },
					Check: func(s string) error { _, err := yesNo(s); return err }},
				Plan: func(ctx context.Context, id, answer string) (*ops.Plan, error) {
					media, err := yesNo(answer)
					if err != nil {
						return nil, err
					}
					return src.PlanRestore(ctx, backup.RestoreRequest{ID: id, Media: media})
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					res, err := src.ApplyRestore(ctx, pl, a, progress)
					if res == nil {
						return Done("", err)
					}
					return Done(fmt.Sprintf("restored %s in %s; the database as it was is backup %s", res.ID, res.Took.Round(time.Second), res.SafetyBackup), err)
				},
				JobLabel: func(p *ops.Plan) string { return "Restore backup" }}},
		{Name: "prune", Key: k("X", "prune"), Palette: "backups: prune by the profile's retention", Mutates: true,
			Change: &Change{Title: "Prune backups", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) { return src.PlanPrune(ctx) },
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					res, err := src.ApplyPrune(ctx, pl, a, progress)
					if res == nil {
						return Done("", err)
					}
					return Done(fmt.Sprintf("removed %d backups, %s freed", len(res.Removed), text.Bytes(res.Freed)), err)
				},
				JobLabel: func(*ops.Plan) string { return "Prune backups" }}},
		{Name: "volumes", Key: k("V", "volume backup"), Palette: "backups: back up the compose volumes (services stopped)", Mutates: true,
			Change: &Change{Title: "Back up the volumes", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) { return src.PlanVolumes(ctx) },
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					e, err := src.ApplyVolumes(ctx, pl, a, progress)
					if e == nil {
						return Done("", err)
					}
					return Done(fmt.Sprintf("volume backup %s: %s", e.ID, text.Bytes(e.Size())), err)
				},
				JobLabel: func(*ops.Plan) string { return "Back up the volumes" }}},
	}
}

// verdict is a verification's outcome for a summary.
func verdict(v *backup.VerifyResult) string {
	if v.Passed {
		return fmt.Sprintf(", verified by restoring in %s", v.Took.Round(time.Second))
	}
	return ", VERIFICATION FAILED: " + v.Error
}

func (p *BackupsPane) Init() tea.Cmd { return p.load() }

func (p *BackupsPane) load() tea.Cmd {
	gen := p.list.begin()
	ctx, src, now := p.c.Ctx, p.src, p.c.Now
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		es, err := src.List(ctx)
		return backupsLoadedMsg{gen: gen, entries: es, err: err, at: now()}
	}
}

func (p *BackupsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case backupsLoadedMsg:
		if p.list.done(msg.gen, 0, msg.err, msg.at) {
			p.table.SetRows(msg.entries)
		}
		return nil
	case JobDoneMsg:
		if msg.Owner == ownerBackups && !errors.Is(msg.Err, ops.ErrNothingToDo) {
			return p.load()
		}
		return nil
	case ActionMsg:
		return p.action(msg.Action)
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return nil
}

// SetSize leaves room under the table for the selected entry.
func (p *BackupsPane) SetSize(w, h int) {
	p.listPane.SetSize(w, h)
	p.table.SetSize(w, max(h-2-p.detail, 3))
}

func (p *BackupsPane) View() string {
	s := p.c.Styles
	lines := []string{p.view("Backups", "backups", "", "no backup yet: c takes one"), s.Muted.Render(strings.Repeat("─", max(p.w, 1)))}
	if e := p.table.Selected(); e != nil {
		lines = append(lines, entryLines(s, e)...)
	}
	return fit(strings.Join(lines, "\n"), p.w, p.h)
}

// entryLines is what the pane says of one backup: its state and why, what
// it was taken of, its parts, its last restore test.
func entryLines(s *Styles, e *backup.Entry) []string {
	st := map[string]lipgloss.Style{backup.Passed: s.OK, backup.Never: s.Muted}[e.State]
	if e.State != backup.Passed && e.State != backup.Never {
		st = s.Crit
	}
	out := []string{s.Detail.Render(text.Clean(e.ID)) + " " + st.Render(e.State)}
	if e.Problem != "" {
		out = append(out, s.Crit.Render("  "+text.Clean(e.Problem)))
	}
	m := e.Manifest
	if m == nil {
		return out
	}
	out = append(out, "  "+text.Clean(fmt.Sprintf("%s of %s, schema %d, PostgreSQL %s, taken %s", m.Kind, m.Server, m.SchemaVersion,
		m.PostgresVersion, m.TakenAt.Local().Format(time.RFC3339))))
	for _, part := range m.Parts {
		line := fmt.Sprintf("  %s: %s, %s", part.Name, part.File, text.Bytes(part.Size))
		if len(part.Rows) > 0 {
			var names []string
			for t := range part.Rows {
				names = append(names, t)
			}
			sort.Strings(names)
			var rows []string
			for _, t := range names {
				rows = append(rows, fmt.Sprintf("%s %d", t, part.Rows[t]))
			}
			line += " · rows: " + strings.Join(rows, ", ")
		}
		out = append(out, text.Clean(line))
	}
	if v := m.Verification; !v.At.IsZero() {
		line := fmt.Sprintf("  restore test %s %s, %.0f s", v.State, v.At.Local().Format("2006-01-02 15:04"), v.Seconds)
		if v.Error != "" {
			line += ": " + v.Error
		}
		out = append(out, text.Clean(line))
	}
	return out
}
