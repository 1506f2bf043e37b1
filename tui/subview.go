package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
)

// SubView is a screen inside a pane: a room's detail, the log, the
// diagnosis. While open it takes the pane's keys; Esc closes it.
type SubView interface {
	help.KeyMap
	// Update gets the pane's messages; closed says the view wants to go.
	Update(msg tea.Msg) (cmd tea.Cmd, closed bool)
	View(w, h int) string
	// Capturing is true while the view has a text input open.
	Capturing() bool
	// Close releases what the view holds. Anything slow (waiting for a
	// child process to exit) happens in the returned command, never in
	// Update.
	Close() tea.Cmd
}

// sizer is a sub-view that lays itself out when the pane's size changes
// rather than on each draw (a scrolled detail must know its height when a
// key arrives).
type sizer interface{ SetSize(w, h int) }

// subViews holds a pane's open sub-view, at most one, and the pane's size.
type subViews struct {
	cur  SubView
	w, h int
}

// Open replaces the open view, if any, with v.
func (s *subViews) Open(v SubView) tea.Cmd {
	cmd := s.Close()
	s.cur = v
	s.SetSize(s.w, s.h)
	return cmd
}

// SetSize records the pane's size and passes it on.
func (s *subViews) SetSize(w, h int) {
	s.w, s.h = w, h
	if z, ok := s.cur.(sizer); ok {
		z.SetSize(w, h)
	}
}

// Close closes the open view, if any.
func (s *subViews) Close() tea.Cmd {
	if s.cur == nil {
		return nil
	}
	cmd := s.cur.Close()
	s.cur = nil
	return cmd
}

// Update hands msg to the open view and closes it when it asks.
func (s *subViews) Update(msg tea.Msg) tea.Cmd {
	if s.cur == nil {
		return nil
	}
	cmd, closed := s.cur.Update(msg)
	if closed {
		return tea.Batch(cmd, s.Close())
	}
	return cmd
}

// Showing is whether a view is open.
func (s *subViews) Showing() bool { return s.cur != nil }

// scrollText is the body of a detail view: lines scrolled within bounds by
// the navigation keys. It is Bubbles' viewport with synops' bindings (the
// viewport's own b, u, d and f are room actions here).
type scrollText struct {
	vp viewport.Model
}

func newScrollText(k *KeyMap) scrollText {
	vp := viewport.New()
	vp.KeyMap = viewport.KeyMap{
		Up: k.Up, Down: k.Down, PageUp: k.PageUp, PageDown: k.PageDown,
		HalfPageUp: key.NewBinding(key.WithDisabled()), HalfPageDown: key.NewBinding(key.WithDisabled()),
		Left: key.NewBinding(key.WithDisabled()), Right: key.NewBinding(key.WithDisabled()),
	}
	vp.MouseWheelEnabled = false
	return scrollText{vp: vp}
}

// key scrolls for a navigation key; ok is false for any other key.
func (t *scrollText) key(km tea.KeyPressMsg, k *KeyMap) bool {
	switch {
	case key.Matches(km, k.Top):
		t.vp.GotoTop()
	case key.Matches(km, k.Bottom):
		t.vp.GotoBottom()
	case key.Matches(km, k.Up, k.Down, k.PageUp, k.PageDown):
		t.vp, _ = t.vp.Update(km)
	default:
		return false
	}
	return true
}

func (t *scrollText) setSize(w, h int) {
	t.vp.SetWidth(w)
	t.vp.SetHeight(h)
}

// setLines replaces the content; the scroll position stays within it.
func (t *scrollText) setLines(lines []string) { t.vp.SetContentLines(lines) }

func (t *scrollText) view() string { return t.vp.View() }
