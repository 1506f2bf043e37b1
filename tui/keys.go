package tui

import "charm.land/bubbles/v2/key"

// KeyMap holds the global bindings. It is built by NewKeyMap and travels in
// Common; nothing in the TUI keeps bindings in package variables.
type KeyMap struct {
	Quit, Help, Palette, Filter, Back       key.Binding
	NextPane, PrevPane, Refresh             key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Enter, Jobs                             key.Binding
	Pane                                    []key.Binding // 1..9
}

// NewKeyMap builds the global bindings.
func NewKeyMap() *KeyMap {
	k := &KeyMap{
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Palette:  key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "commands")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		NextPane: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Refresh:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh now")),
		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Jobs:     key.NewBinding(key.WithKeys("J"), key.WithHelp("J", "jobs")),
	}
	for i := 1; i <= 9; i++ {
		d := string(rune('0' + i))
		k.Pane = append(k.Pane, key.NewBinding(key.WithKeys(d), key.WithHelp(d, "pane")))
	}
	return k
}

// Mutating marks a pane binding that changes the server. In read-only mode it
// is disabled: a disabled binding neither matches a key nor shows in help.
func Mutating(b key.Binding, readOnly bool) key.Binding {
	b.SetEnabled(!readOnly)
	return b
}
