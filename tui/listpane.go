package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops/text"
)

// listState is what a list pane (Rooms, Users) knows of its last load.
type listState struct {
	gen         int // of the load in flight; older answers are dropped
	loading     bool
	loadErr     string
	loadedAt    time.Time
	interrupted int // operations earlier runs left unfinished
}

// begin starts a load and returns its generation.
func (l *listState) begin() int {
	l.gen++
	l.loading = true
	return l.gen
}

// done records a load's answer; it reports whether the rows are to be used.
func (l *listState) done(gen, interrupted int, err error, at time.Time) bool {
	if gen != l.gen {
		return false
	}
	l.loading, l.interrupted = false, interrupted
	if err != nil {
		l.loadErr = err.Error()
		return false
	}
	l.loadErr, l.loadedAt = "", at
	return true
}

// listView draws a list pane: its header line (the filter while filtering,
// else the title, the count, the unfinished operations and how the rows are
// sorted), the table, and empty when there are no rows.
func listView[T any](c *Common, l *listState, t *Table[T], title, noun, unfinished, empty string) string {
	s := c.Styles
	var header string
	switch {
	case t.FilterShown():
		header = t.FilterLine(noun)
	case l.loadErr != "":
		header = s.Crit.Render("cannot list " + noun + ": " + text.Clean(l.loadErr))
	default:
		header = s.Title.Render(title) + s.Muted.Render(fmt.Sprintf("  %d %s", t.Len(), noun))
		// Unfinished operations come first: on a narrow screen the end of
		// the line is cut.
		if l.interrupted > 0 && unfinished != "" {
			header += s.Warn.Render(" · " + unfinished)
		}
		header += s.Muted.Render(" · sorted by " + t.SortLabel())
		if l.loading {
			header += s.Muted.Render(" · loading…")
		} else if !l.loadedAt.IsZero() {
			header += s.Muted.Render(" · listed " + l.loadedAt.Format("15:04:05"))
		}
	}
	lines := append([]string{header}, t.View()...)
	if t.Len() == 0 && !l.loading && l.loadErr == "" {
		lines = append(lines, s.Muted.Render("  "+empty))
	}
	return strings.Join(lines, "\n")
}

// listPane is what the list panes (Rooms, Users) are made of: the table, the
// actions, a detail sub-view and the state of the last load. A pane embeds
// it and adds its columns, its actions and its messages.
type listPane[T any] struct {
	c       *Common
	owner   string // the pane's title, owner of its changes and jobs
	table   *Table[T]
	actions *Actions
	sub     subViews
	list    listState
	w, h    int
}

func (l *listPane[T]) Title() string { return l.owner }

// key routes a key: see listKey.
func (l *listPane[T]) key(km tea.KeyPressMsg) tea.Cmd {
	return listKey(km, &l.sub, l.table, l.actions, l.owner)
}

// target is what the actions act on: the detail's key, or the selected row's.
func (l *listPane[T]) target() string { return listTarget(&l.sub, l.table) }

// action runs a palette pick.
func (l *listPane[T]) action(name string) tea.Cmd {
	return l.actions.Run(l.actions.Find(name), l.owner, l.target())
}

// Layout: a header, the column titles, the rows.
func (l *listPane[T]) SetSize(w, h int) {
	l.w, l.h = w, h
	l.table.SetSize(w, max(h-2, 1))
	l.sub.SetSize(w, h)
}

func (l *listPane[T]) Capturing() bool {
	return l.table.Capturing() || (l.sub.Showing() && l.sub.cur.Capturing())
}

func (l *listPane[T]) Commands() []Command { return l.actions.Commands() }

func (l *listPane[T]) ShortHelp() []key.Binding {
	if l.sub.Showing() {
		return append(l.sub.cur.ShortHelp(), l.actions.SubViewKeys()...)
	}
	f := l.actions.Footer()
	return append(append(f[:1:1], l.table.HelpKeys()...), f[1:]...)
}

func (l *listPane[T]) FullHelp() [][]key.Binding {
	h := l.actions.Help()
	h[0] = append(h[0], l.table.HelpKeys()...)
	return h
}

// view draws the open sub-view, or the list (see listView).
func (l *listPane[T]) view(title, noun, unfinished, empty string) string {
	if l.sub.Showing() {
		return l.sub.cur.View(l.w, l.h)
	}
	return listView(l.c, &l.list, l.table, title, noun, unfinished, empty)
}

// listKey routes a key of a list pane: to the open sub-view (where the
// actions marked InSubView come first, on the sub-view's target), else to
// the table, else to the pane's actions on the selected row.
func listKey[T any](km tea.KeyPressMsg, sub *subViews, t *Table[T], as *Actions, owner string) tea.Cmd {
	if sub.Showing() {
		if a := as.Match(km, true); a != nil && !sub.cur.Capturing() {
			return as.Run(a, owner, listTarget(sub, t))
		}
		return sub.Update(km)
	}
	if cmd, ok := t.Key(km); ok {
		return cmd
	}
	return as.Run(as.Match(km, false), owner, listTarget(sub, t))
}

// listTarget is what a list pane's actions act on: the open sub-view's
// target (a detail's room or account, a room's diagnosis), or the selected
// row's. The selection may have moved under the sub-view since it opened
// (a reload without that row): the sub-view's own target is the one shown.
func listTarget[T any](sub *subViews, t *Table[T]) string {
	if v, ok := sub.cur.(interface{ Target() string }); ok && v.Target() != "" {
		return v.Target()
	}
	if r := t.Selected(); r != nil {
		return t.id(r)
	}
	return ""
}

// openInspect opens the detail of id (a room, an account): inspect reads it
// in a command (a method value of the pane's source, never the pane), lines
// draws it.
func openInspect[T, D any](l *listPane[T], id, title string, inspect func(context.Context, string) (*D, error),
	lines func(*Styles, *D, time.Time) []string) tea.Cmd {
	if id == "" {
		return nil
	}
	d, load := openDetail(l.c, id, title, func(ctx context.Context) (Lines, error) {
		v, err := inspect(ctx, id)
		if v == nil {
			return nil, err
		}
		return func(s *Styles, now time.Time) []string { return lines(s, v, now) }, err
	})
	return tea.Batch(l.sub.Open(d), load)
}
