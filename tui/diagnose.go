package tui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops/diagnose"
	"synops/ops/health"
	"synops/ops/text"
)

// Diagnoser runs the seeds' troubleshooting checks.
type Diagnoser interface {
	Symptoms() []diagnose.Symptom
	Run(ctx context.Context, symptomID string) (diagnose.Verdict, error)
}

type verdictMsg struct {
	id      int
	job     int
	verdict diagnose.Verdict
	err     error
}

// DiagnoseView lists the symptoms; Enter runs the checks for one (as a job in
// the job list) and shows the verdict with its evidence.
type DiagnoseView struct {
	c        *Common
	d        Diagnoser
	id       int
	symptoms []diagnose.Symptom
	cursor   int
	running  map[string]bool
	verdicts map[string]diagnose.Verdict
	errs     map[string]string
	run      key.Binding
}

// NewDiagnoseView opens the symptom list.
func NewDiagnoseView(c *Common, d Diagnoser) *DiagnoseView {
	return &DiagnoseView{
		c: c, d: d, id: c.NextID(), symptoms: d.Symptoms(),
		running: map[string]bool{}, verdicts: map[string]diagnose.Verdict{}, errs: map[string]string{},
		run: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run checks")),
	}
}

func (v *DiagnoseView) Capturing() bool { return false }
func (v *DiagnoseView) Close()          {}

func (v *DiagnoseView) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case verdictMsg:
		if msg.id != v.id {
			return nil, false
		}
		sym := msg.verdict.Symptom.ID
		delete(v.running, sym)
		state, detail := JobDone, msg.verdict.Status.String()
		if msg.err != nil {
			v.errs[sym] = msg.err.Error()
			state, detail = JobFailed, msg.err.Error()
		} else {
			v.verdicts[sym] = msg.verdict
			delete(v.errs, sym)
		}
		v.c.Jobs.Apply(JobMsg{ID: msg.job, State: state, Progress: 1, Detail: detail})
		return nil, false
	case tea.KeyPressMsg:
		k := v.c.Keys
		switch {
		case key.Matches(msg, k.Back):
			return nil, true
		case key.Matches(msg, k.Up):
			v.cursor = max(v.cursor-1, 0)
		case key.Matches(msg, k.Down):
			v.cursor = min(v.cursor+1, len(v.symptoms)-1)
		case key.Matches(msg, v.run):
			return v.start(), false
		}
	}
	return nil, false
}

func (v *DiagnoseView) start() tea.Cmd {
	if v.cursor >= len(v.symptoms) {
		return nil
	}
	sym := v.symptoms[v.cursor]
	if v.running[sym.ID] {
		return nil
	}
	v.running[sym.ID] = true
	job := v.c.Jobs.Start("diagnose: " + sym.Title)
	ctx, d, id := v.c.Ctx, v.d, v.id
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		verdict, err := d.Run(ctx, sym.ID)
		verdict.Symptom = sym
		return verdictMsg{id: id, job: job, verdict: verdict, err: err}
	}
}

func (v *DiagnoseView) View(w, h int) string {
	s := v.c.Styles
	out := []string{s.Title.Render("Diagnose") + s.Muted.Render(" · the troubleshooting sections of the ops guides, as checks")}
	for i, sym := range v.symptoms {
		mark := s.Unknown.Render("·")
		if vd, ok := v.verdicts[sym.ID]; ok {
			mark = statusMark(s, vd.Status)
		}
		if v.running[sym.ID] {
			mark = s.Warn.Render("⟳")
		}
		line := " " + mark + " " + sym.Title
		if i == v.cursor {
			line = s.Selected.Render(cell(line, w))
		}
		out = append(out, line)
	}
	out = append(out, s.Muted.Render(strings.Repeat("─", max(w, 1))))
	if v.cursor < len(v.symptoms) {
		sym := v.symptoms[v.cursor]
		if sym.FromSeed != "" {
			out = append(out, s.Muted.Render(cell("seed: "+sym.FromSeed, w)))
		}
		switch {
		case v.running[sym.ID]:
			out = append(out, s.Muted.Render("running the checks…"))
		case v.errs[sym.ID] != "":
			out = append(out, s.Crit.Render(cell(text.Clean(v.errs[sym.ID]), w)))
		default:
			if vd, ok := v.verdicts[sym.ID]; ok {
				out = append(out, statusMark(s, vd.Status)+" "+s.Detail.Render(text.Clean(vd.Summary)))
				for _, f := range vd.Findings {
					out = append(out, "  "+statusMark(s, f.Status)+" "+cell(text.Clean(f.Check+": "+f.Evidence), max(w-4, 10)))
					if f.Hint != "" && f.Status >= health.Warn {
						out = append(out, s.Hint.Render(cell("      → "+text.Clean(f.Hint), w)))
					}
				}
			} else {
				out = append(out, s.Muted.Render("press enter to run the checks for this symptom"))
			}
		}
	}
	return fit(strings.Join(out, "\n"), w, h)
}

func (v *DiagnoseView) ShortHelp() []key.Binding {
	return []key.Binding{v.c.Keys.Up, v.c.Keys.Down, v.run, v.c.Keys.Back}
}

func (v *DiagnoseView) FullHelp() [][]key.Binding { return [][]key.Binding{v.ShortHelp()} }
