package tui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"synops/ops/text"
)

// Column is one column of a Table.
type Column[T any] struct {
	Title string
	// Width is a fixed width in cells. With 0 the column shares what the
	// fixed ones leave: Min and Max bound its share, and the first flexible
	// column without a Max takes whatever is left.
	Width, Min, Max int
	Cell            func(r *T) string // the cell's text; the table cleans and fits it
	// Style, when set, colours the cell (not on the selected row).
	Style func(s *Styles, r *T) lipgloss.Style
	// SortText (compared as given, computed once per sort) or Less makes the
	// column sortable; with neither, s skips it.
	SortText func(r *T) string
	Less     func(a, b *T) bool
}

func (c *Column[T]) sortable() bool { return c.SortText != nil || c.Less != nil }

// Table is the list every pane shows: columns from specs, a "/" filter,
// s/S to sort and reverse, a cursor whose row stays selected across reloads,
// re-sorts and filtering, and a drawn window of only the visible rows.
//
// It is not Bubbles' table: that one renders every row into its viewport on
// each update and keeps rows as copies of strings, which at 100k rooms costs
// tens of milliseconds a keystroke; here a keystroke touches indexes only
// (BenchmarkRoomsKeypress100k, BenchmarkRoomsFilter100k).
type Table[T any] struct {
	c    *Common
	cols []Column[T]
	id   func(r *T) string // identity of a row, to keep it selected across reloads
	hay  func(r *T) string // what the filter searches, lower-cased by the caller

	rows  []T
	hays  []string
	order []int // every row's index, sorted
	view  []int // the rows that pass the filter, in order
	sel   int   // index into rows of the selected row; -1 none

	sortCol int
	desc    bool
	filter  filterBox
	scroller
	w, h int // h: rows shown

	keys struct{ Filter, Sort, Reverse key.Binding }
}

// NewTable builds an empty table sorted by column sortCol.
func NewTable[T any](c *Common, cols []Column[T], sortCol int, id, hay func(r *T) string) *Table[T] {
	t := &Table[T]{c: c, cols: cols, id: id, hay: hay, sortCol: sortCol, sel: -1, filter: newFilterBox()}
	t.keys.Filter = c.Keys.Filter
	t.keys.Sort = key.NewBinding(key.WithKeys("s"), key.WithHelp("s/S", "sort / reverse"))
	t.keys.Reverse = key.NewBinding(key.WithKeys("S"))
	return t
}

// SetRows replaces the rows, keeping the selected row (by identity) selected.
func (t *Table[T]) SetRows(rows []T) {
	keep := ""
	if r := t.Selected(); r != nil {
		keep = t.id(r)
	}
	t.rows = rows
	t.hays = make([]string, len(rows))
	t.sel = -1
	for i := range rows {
		t.hays[i] = t.hay(&rows[i])
		if keep != "" && t.sel < 0 && t.id(&rows[i]) == keep {
			t.sel = i
		}
	}
	t.Resort()
}

// Resort orders the rows by the sort column (after data a sort reads
// changed), then reapplies the filter.
func (t *Table[T]) Resort() {
	n := len(t.rows)
	if len(t.order) != n {
		t.order = make([]int, n)
	}
	for i := range t.order {
		t.order[i] = i
	}
	col := &t.cols[t.sortCol]
	less := func(a, b int) bool { return false }
	switch {
	case col.SortText != nil:
		keys := make([]string, n)
		for i := range t.rows {
			keys[i] = col.SortText(&t.rows[i])
		}
		less = func(a, b int) bool { return keys[a] < keys[b] }
	case col.Less != nil:
		less = func(a, b int) bool { return col.Less(&t.rows[a], &t.rows[b]) }
	}
	sort.SliceStable(t.order, func(i, j int) bool {
		if t.desc {
			return less(t.order[j], t.order[i])
		}
		return less(t.order[i], t.order[j])
	})
	t.refilter()
}

// refilter rebuilds the visible rows from the sorted order: one pass, no
// sorting, so a keystroke in the filter stays cheap with 100k rows.
func (t *Table[T]) refilter() {
	q := t.filter.Query()
	t.view = t.view[:0]
	t.cursor = 0
	for _, i := range t.order {
		if q == "" || strings.Contains(t.hays[i], q) {
			if i == t.sel {
				t.cursor = len(t.view)
			}
			t.view = append(t.view, i)
		}
	}
	t.move(0)
}

func (t *Table[T]) move(d int) {
	t.scroller.move(d, len(t.view), t.h)
	if t.cursor < len(t.view) {
		t.sel = t.view[t.cursor]
	}
}

// Selected is the row under the cursor, nil when the list is empty.
func (t *Table[T]) Selected() *T {
	if t.cursor < len(t.view) {
		return &t.rows[t.view[t.cursor]]
	}
	return nil
}

// Len is the number of rows; Shown the number that pass the filter.
func (t *Table[T]) Len() int   { return len(t.rows) }
func (t *Table[T]) Shown() int { return len(t.view) }

// Capturing is true while the filter takes keys.
func (t *Table[T]) Capturing() bool { return t.filter.active }

// FilterShown says the header should show the filter.
func (t *Table[T]) FilterShown() bool { return t.filter.Shown() }

// Key handles the table's keys: the filter while typing, navigation, /, s, S
// and Esc (clears the filter). handled is false for any other key.
func (t *Table[T]) Key(km tea.KeyPressMsg) (cmd tea.Cmd, handled bool) {
	if t.filter.active {
		cmd, changed := t.filter.Key(km)
		if changed {
			t.refilter()
		}
		return cmd, true
	}
	k := t.c.Keys
	if d, ok := navDelta(km, k, len(t.view), t.h); ok {
		t.move(d)
		return nil, true
	}
	switch {
	case key.Matches(km, t.keys.Filter):
		return t.filter.Open(), true
	case key.Matches(km, k.Back):
		if t.filter.Clear() {
			t.refilter()
		}
		return nil, true
	case key.Matches(km, t.keys.Sort):
		for c := (t.sortCol + 1) % len(t.cols); c != t.sortCol; c = (c + 1) % len(t.cols) {
			if t.cols[c].sortable() {
				t.sortCol = c
				break
			}
		}
		t.Resort()
		return nil, true
	case key.Matches(km, t.keys.Reverse):
		t.desc = !t.desc
		t.Resort()
		return nil, true
	}
	return nil, false
}

// HelpKeys are the table's keys for the footer and the full help.
func (t *Table[T]) HelpKeys() []key.Binding { return []key.Binding{t.keys.Filter, t.keys.Sort} }

// SetSize gives the table w columns and h rows (besides its title line).
func (t *Table[T]) SetSize(w, h int) {
	t.w, t.h = w, max(h, 1)
	t.filter.SetWidth(w)
	t.move(0)
}

// FilterLine is the header while filtering: the input and the count.
func (t *Table[T]) FilterLine(noun string) string {
	return t.filter.View() + t.c.Styles.Muted.Render(fmt.Sprintf("  %d of %d %s", len(t.view), len(t.rows), noun))
}

// SortLabel says how the rows are sorted: "name ↑".
func (t *Table[T]) SortLabel() string {
	return strings.ToLower(t.cols[t.sortCol].Title) + " " + t.arrow()
}

func (t *Table[T]) arrow() string {
	if t.desc {
		return "↓"
	}
	return "↑"
}

// widths lays the columns out in t.w cells, one space between columns.
func (t *Table[T]) widths() []int {
	w := make([]int, len(t.cols))
	fixed := len(t.cols) - 1
	for _, c := range t.cols {
		fixed += c.Width
	}
	rest := max(t.w-fixed, 20)
	fill, used := -1, 0
	for i, c := range t.cols {
		switch {
		case c.Width > 0:
			w[i] = c.Width
		case c.Max == 0 && fill < 0:
			fill = i
		default:
			w[i] = min(max(rest/2, c.Min), c.Max)
			used += w[i]
		}
	}
	if fill >= 0 {
		w[fill] = max(rest-used, 1)
	}
	return w
}

// View draws the column titles and the visible rows, every cell cleaned of
// escape sequences and fitted to its width by display cells.
func (t *Table[T]) View() []string {
	s := t.c.Styles
	widths := t.widths()
	titles := make([]string, len(t.cols))
	for i, c := range t.cols {
		title := c.Title
		if i == t.sortCol {
			title += t.arrow()
		}
		titles[i] = text.Cell(title, widths[i])
	}
	lines := []string{s.Muted.Render(strings.Join(titles, " "))}
	cells := make([]string, len(t.cols))
	for i := t.offset; i < len(t.view) && i < t.offset+t.h; i++ {
		r := &t.rows[t.view[i]]
		for j, c := range t.cols {
			cells[j] = text.Cell(text.Clean(c.Cell(r)), widths[j])
			if c.Style != nil && i != t.cursor {
				cells[j] = c.Style(s, r).Render(cells[j])
			}
		}
		line := strings.Join(cells, " ")
		if i == t.cursor {
			line = s.Selected.Render(cell(line, t.w))
		}
		lines = append(lines, line)
	}
	return lines
}
