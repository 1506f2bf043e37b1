package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops/logs"
	"synops/ops/text"
)

// LogFollower yields Synapse's log lines; *logs.Follower is one.
type LogFollower interface {
	Next(ctx context.Context, max int) ([]logs.Line, error)
	Close() error
}

// LogOpener starts following the configured log source.
type LogOpener func(ctx context.Context) (LogFollower, string, error)

type logsOpenedMsg struct {
	id     int
	f      LogFollower
	source string
	err    error
}

type logLinesMsg struct {
	id    int
	lines []logs.Line
	err   error
}

const maxLogLines = 5000

// LogsView follows Synapse's log inside the Health pane.
type LogsView struct {
	c      *Common
	open   LogOpener
	id     int // tags this view's messages; a closed view's stragglers are dropped
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	f      LogFollower
	source string
	status string

	lines   []logs.Line
	follow  bool // stick to the newest line
	offset  int  // first visible line among the filtered ones, when not following
	filter  filterBox
	matches []int // indexes of lines that pass the filter

	keys struct{ Follow, Filter key.Binding }
}

// NewLogsView opens the view and starts following.
func NewLogsView(c *Common, open LogOpener) (*LogsView, tea.Cmd) {
	v := &LogsView{c: c, id: c.NextID(), open: open, follow: true, filter: newFilterBox(), status: "opening…"}
	v.keys.Follow = key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "follow"))
	v.keys.Filter = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter"))
	v.ctx, v.cancel = context.WithCancel(c.Ctx)
	ctx, id := v.ctx, v.id
	return v, func() tea.Msg {
		f, src, err := open(ctx)
		return logsOpenedMsg{id: id, f: f, source: src, err: err}
	}
}

// next waits for the next batch of lines; Close cancels the wait.
func (v *LogsView) next() tea.Cmd {
	ctx, f, id := v.ctx, v.f, v.id
	return func() tea.Msg {
		lines, err := f.Next(ctx, 500)
		return logLinesMsg{id: id, lines: lines, err: err}
	}
}

// Close stops following. The follower's Close waits for its child process
// to exit, so it runs in the returned command, not in Update.
func (v *LogsView) Close() tea.Cmd {
	v.closed = true
	v.cancel()
	return closeFollower(v.f)
}

func closeFollower(f LogFollower) tea.Cmd {
	if f == nil {
		return nil
	}
	return func() tea.Msg {
		_ = f.Close()
		return nil
	}
}

func (v *LogsView) Capturing() bool { return v.filter.active }

func (v *LogsView) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case logsOpenedMsg:
		if msg.id != v.id || v.closed {
			return closeFollower(msg.f), false
		}
		if msg.err != nil {
			v.status = "cannot follow the log: " + msg.err.Error()
			return nil, false
		}
		v.f, v.source, v.status = msg.f, msg.source, "following"
		return v.next(), false
	case logLinesMsg:
		if msg.id != v.id || v.closed {
			return nil, false
		}
		v.append(msg.lines)
		switch {
		case errors.Is(msg.err, io.EOF):
			v.status = "the log source ended"
			return nil, false
		case msg.err != nil:
			v.status = "log: " + msg.err.Error()
			return nil, false
		}
		return v.next(), false
	case tea.KeyPressMsg:
		return v.key(msg)
	}
	return nil, false
}

func (v *LogsView) append(lines []logs.Line) {
	v.lines = append(v.lines, lines...)
	if over := len(v.lines) - maxLogLines; over > 0 {
		v.lines = append(v.lines[:0:0], v.lines[over:]...)
	}
	v.refilter()
}

func (v *LogsView) refilter() {
	q := v.filter.Query()
	v.matches = v.matches[:0]
	for i, l := range v.lines {
		if q == "" || strings.Contains(strings.ToLower(l.Text), q) {
			v.matches = append(v.matches, i)
		}
	}
}

func (v *LogsView) key(km tea.KeyPressMsg) (tea.Cmd, bool) {
	if v.filter.active {
		cmd, changed := v.filter.Key(km)
		if changed {
			v.refilter()
		}
		return cmd, false
	}
	k := v.c.Keys
	switch {
	case key.Matches(km, k.Back):
		if v.filter.Clear() {
			v.refilter()
			return nil, false
		}
		return nil, true
	case key.Matches(km, v.keys.Filter):
		return v.filter.Open(), false
	case key.Matches(km, v.keys.Follow):
		v.follow = true
	case key.Matches(km, k.Up):
		v.scroll(-1)
	case key.Matches(km, k.Down):
		v.scroll(1)
	case key.Matches(km, k.PageUp):
		v.scroll(-20)
	case key.Matches(km, k.PageDown):
		v.scroll(20)
	case key.Matches(km, k.Top):
		v.follow, v.offset = false, 0
	}
	return nil, false
}

func (v *LogsView) scroll(d int) {
	if v.follow {
		v.follow = false
		v.offset = max(len(v.matches)-20, 0)
	}
	v.offset = max(v.offset+d, 0)
	if v.offset >= max(len(v.matches)-1, 0) {
		v.follow = true
	}
}

func (v *LogsView) View(w, h int) string {
	s := v.c.Styles
	state := "following"
	if !v.follow {
		state = "paused (G to follow)"
	}
	if v.f == nil || v.status != "following" {
		state = v.status
	}
	header := s.Title.Render("Logs") + s.Muted.Render(" · "+text.Clean(v.source)+" · "+text.Clean(state)+
		fmt.Sprintf(" · %d lines", len(v.matches)))
	if v.filter.Shown() {
		header = v.filter.View() + s.Muted.Render(fmt.Sprintf("  %d of %d lines", len(v.matches), len(v.lines)))
	}
	lh := max(h-1, 1)
	start := v.offset
	if v.follow {
		start = max(len(v.matches)-lh, 0)
	}
	start = min(start, max(len(v.matches)-lh, 0))
	out := []string{header}
	for i := start; i < len(v.matches) && i < start+lh; i++ {
		l := v.lines[v.matches[i]]
		st := s.App
		switch l.Level {
		case "ERROR", "CRITICAL":
			st = s.Crit
		case "WARNING":
			st = s.Warn
		case "DEBUG":
			st = s.Muted
		}
		out = append(out, st.Render(cell(text.Clean(l.Text), w)))
	}
	return strings.Join(out, "\n")
}

func (v *LogsView) ShortHelp() []key.Binding {
	return []key.Binding{v.c.Keys.Up, v.c.Keys.Down, v.keys.Follow, v.keys.Filter, v.c.Keys.Back}
}

func (v *LogsView) FullHelp() [][]key.Binding { return [][]key.Binding{v.ShortHelp()} }
