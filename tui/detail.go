package tui

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops/text"
)

// Lines draws a detail's body; it is built from data a command read, and
// drawn in Update with the current styles.
type Lines func(s *Styles, now time.Time) []string

// detailMsg is what a detail view's load read: the body, or why not (both
// when it was read in part).
type detailMsg struct {
	key   string
	lines Lines
	err   error
}

// detailView shows one thing's detail (a room, an account) as a sub-view:
// a title line and a body scrolled within its length. The pane's actions
// that are live in sub-views act on its key.
type detailView struct {
	c      *Common
	key    string // the room or user ID
	title  string
	lines  Lines
	err    string
	scroll scrollText
}

// openDetail makes the view for key and the command that loads its body
// under a time limit. load captures IDs and a source, never a pane.
func openDetail(c *Common, key, title string, load func(ctx context.Context) (Lines, error)) (*detailView, tea.Cmd) {
	d := &detailView{c: c, key: key, title: title, scroll: newScrollText(c.Keys)}
	d.scroll.setLines(d.body())
	ctx := c.Ctx
	return d, func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		lines, err := load(ctx)
		return detailMsg{key: key, lines: lines, err: err}
	}
}

func (d *detailView) Capturing() bool { return false }

// Target is the room or account the detail shows.
func (d *detailView) Target() string { return d.key }

func (d *detailView) Close() tea.Cmd { return nil }

func (d *detailView) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case detailMsg:
		if msg.key == d.key {
			d.lines = msg.lines
			if msg.err != nil {
				d.err = msg.err.Error()
			}
			d.scroll.setLines(d.body())
		}
	case tea.KeyPressMsg:
		if key.Matches(msg, d.c.Keys.Back) {
			return nil, true
		}
		d.scroll.key(msg, d.c.Keys)
	}
	return nil, false
}

func (d *detailView) ShortHelp() []key.Binding { return []key.Binding{d.c.Keys.Back} }

func (d *detailView) FullHelp() [][]key.Binding {
	k := d.c.Keys
	return [][]key.Binding{{k.Back, k.Up, k.Down, k.PageUp, k.PageDown}}
}

// SetSize leaves the first line for the title.
func (d *detailView) SetSize(w, h int) { d.scroll.setSize(w, max(h-1, 1)) }

func (d *detailView) View(w, h int) string {
	title := d.c.Styles.Title.Render(d.title+" ") + text.Clean(d.key)
	return fit(title+"\n"+d.scroll.view(), w, h)
}

func (d *detailView) body() []string {
	s := d.c.Styles
	switch {
	case d.lines == nil && d.err == "":
		return []string{s.Muted.Render("reading…")}
	case d.lines == nil:
		return []string{s.Crit.Render(text.Clean(d.err))}
	}
	out := d.lines(s, d.c.Now())
	if d.err != "" {
		out = append(out, s.Warn.Render("partly read: "+text.Clean(d.err)))
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
