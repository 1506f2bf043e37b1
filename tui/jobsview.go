package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops/text"
)

// JobsView is the job history: every job since the console started, newest
// first, with the selected one's detail (a failure's error in full). x cancels
// a running job or dismisses an ended one from the strip.
type JobsView struct {
	c *Common
	scroller
	keys struct{ Cancel key.Binding }
}

// NewJobsView opens the history.
func NewJobsView(c *Common) *JobsView {
	v := &JobsView{c: c}
	v.keys.Cancel = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cancel / dismiss"))
	return v
}

func (v *JobsView) jobs() []*Job {
	all := v.c.Jobs.All()
	out := make([]*Job, len(all))
	for i, x := range all {
		out[len(all)-1-i] = x
	}
	return out
}

func (v *JobsView) Capturing() bool { return false }

func (v *JobsView) Close() tea.Cmd { return nil }

func (v *JobsView) Update(msg tea.Msg) (tea.Cmd, bool) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	jobs := v.jobs()
	switch {
	case key.Matches(km, v.c.Keys.Back, v.c.Keys.Jobs):
		return nil, true
	case key.Matches(km, v.keys.Cancel):
		if v.cursor < len(jobs) {
			x := jobs[v.cursor]
			if !v.c.Jobs.Cancel(x.ID) {
				v.c.Jobs.Dismiss(x.ID)
			}
		}
		return nil, false
	}
	if d, ok := navDelta(km, v.c.Keys, len(jobs), 10); ok {
		v.move(d, len(jobs), 10)
	}
	return nil, false
}

func (v *JobsView) View(w, h int) string {
	s := v.c.Styles
	jobs := v.jobs()
	out := []string{s.Title.Render("Jobs") + s.Muted.Render(fmt.Sprintf(" · %d since the console started", len(jobs)))}
	if len(jobs) == 0 {
		out = append(out, s.Muted.Render("  nothing has run yet"))
	}
	listH := max(min(len(jobs), h/2), 1)
	v.move(0, len(jobs), listH)
	now := v.c.Now()
	for i := v.offset; i < len(jobs) && i < v.offset+listH; i++ {
		x := jobs[i]
		took := now.Sub(x.Started)
		if x.State != JobRunning {
			took = x.Ended.Sub(x.Started)
		}
		line := fmt.Sprintf("%s %s %7s  %s", x.mark(s), x.Started.Format("15:04:05"), took.Round(100e6), text.Clean(x.Title))
		line = cell(line, w)
		if i == v.cursor {
			line = s.Selected.Render(line)
		}
		out = append(out, line)
	}
	out = append(out, s.Muted.Render(strings.Repeat("─", max(w, 1))))
	if v.cursor < len(jobs) {
		x := jobs[v.cursor]
		state := map[JobState]string{JobRunning: "running", JobDone: "done", JobFailed: "failed"}[x.State]
		out = append(out, s.Detail.Render(text.Clean(x.Title))+s.Muted.Render(" · "+state))
		for _, l := range wrap(text.Clean(x.Detail), max(w-2, 10)) {
			st := s.App
			if x.State == JobFailed {
				st = s.Crit
			}
			out = append(out, "  "+st.Render(l))
		}
	}
	return fit(strings.Join(out, "\n"), w, h)
}

func (v *JobsView) ShortHelp() []key.Binding {
	return []key.Binding{v.c.Keys.Up, v.c.Keys.Down, v.keys.Cancel, v.c.Keys.Back}
}

func (v *JobsView) FullHelp() [][]key.Binding { return [][]key.Binding{v.ShortHelp()} }
