package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/diagnose"
	"synops/ops/health"
	"synops/ops/text"
)

// Diagnoser runs the seeds' troubleshooting checks.
type Diagnoser interface {
	Symptoms() []diagnose.Symptom
	Run(ctx context.Context, symptomID string) (diagnose.Verdict, error)
	// ForRoom is the checks of one room's symptoms (diagnose.TakesRoom),
	// run on that room.
	ForRoom(roomID string) Diagnoser
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
	subject  string // "room !x:y" when the checks are of one room
	target   string // that room's ID: what the pane's actions act on here
}

// NewRoomDiagnoseView opens the symptom list of one room (the Rooms pane's d).
func NewRoomDiagnoseView(c *Common, d Diagnoser, roomID string) *DiagnoseView {
	v := NewDiagnoseView(c, d.ForRoom(roomID))
	v.subject, v.target = "room "+roomID, roomID
	return v
}

// Target is the room the view diagnoses ("" for the server's checks).
func (v *DiagnoseView) Target() string { return v.target }

// NewDiagnoseView opens the symptom list.
func NewDiagnoseView(c *Common, d Diagnoser) *DiagnoseView {
	return &DiagnoseView{
		c: c, d: d, id: c.NextID(), symptoms: d.Symptoms(),
		running: map[string]bool{}, verdicts: map[string]diagnose.Verdict{}, errs: map[string]string{},
		run: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run checks")),
	}
}

func (v *DiagnoseView) Capturing() bool { return false }

// Close keeps the verdicts: the view is reopened as it was, and a run still
// going lands in it.
func (v *DiagnoseView) Close() tea.Cmd { return nil }

func (v *DiagnoseView) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case JobDoneMsg:
		v.verdict(msg)
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

// verdict records a finished run of this view's checks.
func (v *DiagnoseView) verdict(msg JobDoneMsg) {
	if msg.Owner != v.owner() {
		return
	}
	sym := msg.Target
	delete(v.running, sym)
	if msg.Err != nil {
		v.errs[sym] = msg.Err.Error()
		return
	}
	if vd, ok := msg.Result.Value.(diagnose.Verdict); ok {
		v.verdicts[sym] = vd
		delete(v.errs, sym)
	}
}

// owner tags this view's jobs, so a closed and replaced view's results are
// not taken for another's.
func (v *DiagnoseView) owner() string { return fmt.Sprintf("diagnose#%d", v.id) }

func (v *DiagnoseView) start() tea.Cmd {
	if v.cursor >= len(v.symptoms) {
		return nil
	}
	sym := v.symptoms[v.cursor]
	if v.running[sym.ID] {
		return nil
	}
	v.running[sym.ID] = true
	d := v.d
	return v.c.Jobs.Run(JobSpec{
		Title: "diagnose: " + sym.Title, Owner: v.owner(), Target: sym.ID, Quiet: true,
		Fn: func(ctx context.Context, _ func(ops.Progress)) (JobResult, error) {
			ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			verdict, err := d.Run(ctx, sym.ID)
			verdict.Symptom = sym
			return JobResult{Summary: verdict.Status.String(), Value: verdict}, err
		},
	})
}

func (v *DiagnoseView) View(w, h int) string {
	s := v.c.Styles
	out := []string{s.Title.Render("Diagnose") + s.Muted.Render(" · the troubleshooting sections of the ops guides, as checks")}
	if v.subject != "" {
		out[0] = s.Title.Render("Diagnose "+text.Clean(v.subject)) + s.Muted.Render(" · the ops guides' checks for one room")
	}
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
