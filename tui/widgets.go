package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"synops/ops/health"
)

// newInput is a one-line text input with a steady cursor (a blinking one
// would redraw the screen twice a second for nothing).
func newInput(prompt string) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	return in
}

// scroller keeps a cursor within n rows and the window of h rows around it.
type scroller struct{ cursor, offset int }

// move shifts the cursor by d and keeps it visible.
func (s *scroller) move(d, n, h int) {
	s.cursor = min(max(s.cursor+d, 0), max(n-1, 0))
	if s.cursor < s.offset {
		s.offset = s.cursor
	}
	if s.cursor >= s.offset+h {
		s.offset = s.cursor - h + 1
	}
	s.offset = min(s.offset, max(n-h, 0))
}

// Glyph sets for statusMark: check marks in lists, dots in the status bar.
var (
	markGlyphs = [4]string{health.Unknown: "·", health.OK: "✔", health.Warn: "▲", health.Crit: "✘"}
	dotGlyphs  = [4]string{health.Unknown: "○", health.OK: "●", health.Warn: "●", health.Crit: "●"}
)

// statusGlyph draws st with one of the glyph sets in its status colour.
func statusGlyph(s *Styles, st health.Status, glyphs [4]string) string {
	switch st {
	case health.OK:
		return s.OK.Render(glyphs[st])
	case health.Warn:
		return s.Warn.Render(glyphs[st])
	case health.Crit:
		return s.Crit.Render(glyphs[st])
	}
	return s.Unknown.Render(glyphs[health.Unknown])
}

func statusMark(s *Styles, st health.Status) string { return statusGlyph(s, st, markGlyphs) }

// filterBox is the "/" filter of a list: open, type (the list narrows as you
// type), Enter keeps the filter, Esc clears it.
type filterBox struct {
	input  textinput.Model
	active bool // taking keys
}

func newFilterBox() filterBox { return filterBox{input: newInput("/ ")} }

// Open starts typing.
func (f *filterBox) Open() tea.Cmd {
	f.active = true
	return f.input.Focus()
}

// Key handles a key while active; changed says the query changed.
func (f *filterBox) Key(km tea.KeyPressMsg) (cmd tea.Cmd, changed bool) {
	switch km.String() {
	case "enter":
		f.active = false
		f.input.Blur()
		return nil, false
	case "esc":
		f.active = false
		f.input.Blur()
		return nil, f.Clear()
	}
	before := f.input.Value()
	f.input, cmd = f.input.Update(km)
	return cmd, f.input.Value() != before
}

// Clear empties the query; it reports whether there was one.
func (f *filterBox) Clear() bool {
	had := f.input.Value() != ""
	f.input.SetValue("")
	return had
}

// Query is the lower-cased filter text.
func (f *filterBox) Query() string { return strings.ToLower(f.input.Value()) }

// Shown says whether the header should show the filter instead of a title.
func (f *filterBox) Shown() bool { return f.active || f.input.Value() != "" }

func (f *filterBox) View() string { return f.input.View() }

func (f *filterBox) SetWidth(w int) { f.input.SetWidth(min(max(w/2, 10), 40)) }

// navDelta turns a list navigation key into a cursor move over n rows with
// pages of page rows; ok is false for any other key.
func navDelta(km tea.KeyPressMsg, k *KeyMap, n, page int) (d int, ok bool) {
	switch {
	case key.Matches(km, k.Up):
		return -1, true
	case key.Matches(km, k.Down):
		return 1, true
	case key.Matches(km, k.PageUp):
		return -page, true
	case key.Matches(km, k.PageDown):
		return page, true
	case key.Matches(km, k.Top):
		return -n, true
	case key.Matches(km, k.Bottom):
		return n, true
	}
	return 0, false
}
