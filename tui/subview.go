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

// subViews holds a pane's open sub-view, at most one.
type subViews struct{ cur SubView }

// Open replaces the open view, if any, with v.
func (s *subViews) Open(v SubView) tea.Cmd {
	cmd := s.Close()
	s.cur = v
	return cmd
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

// view draws lines in w×h, keeping the scroll position within the content.
func (t *scrollText) view(lines []string, w, h int) string {
	t.vp.SetWidth(w)
	t.vp.SetHeight(h)
	t.vp.SetContentLines(lines)
	return t.vp.View()
}
