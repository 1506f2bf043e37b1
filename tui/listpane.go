package tui

import (
	"fmt"
	"strings"
	"time"

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
