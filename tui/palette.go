package tui

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// Command is one entry of the command palette.
type Command struct {
	Name string // "health: logs"
	Pane int    // pane index to switch to
	// Action is handed to the pane as ActionMsg; empty just switches pane.
	Action string
}

// ActionMsg asks a pane to perform a named action (from the palette).
type ActionMsg struct{ Action string }

// Palette is the ':' command palette: type to narrow, enter to run.
type Palette struct {
	c       *Common
	input   textinput.Model
	all     []Command
	matches []int
	cursor  int
}

// NewPalette opens a palette over cmds.
func NewPalette(c *Common, cmds []Command) *Palette {
	in := newInput(": ")
	in.Focus()
	p := &Palette{c: c, input: in, all: cmds}
	p.filter()
	return p
}

func (p *Palette) filter() {
	q := strings.ToLower(strings.TrimSpace(p.input.Value()))
	p.matches = p.matches[:0]
	for i, c := range p.all {
		if q == "" || fuzzy(strings.ToLower(c.Name), q) {
			p.matches = append(p.matches, i)
		}
	}
	p.cursor = min(p.cursor, max(len(p.matches)-1, 0))
}

// fuzzy reports whether every rune of q appears in s in order.
func fuzzy(s, q string) bool {
	for _, r := range q {
		i := strings.IndexRune(s, r)
		if i < 0 {
			return false
		}
		s = s[i+len(string(r)):]
	}
	return true
}

// Update handles keys; it returns the chosen command (nil if none yet) and
// whether the palette closed.
func (p *Palette) Update(msg tea.Msg) (*Command, bool, tea.Cmd) {
	if km, ok := msg.(tea.KeyPressMsg); ok {
		switch km.String() {
		case "esc":
			return nil, true, nil
		case "enter":
			if len(p.matches) == 0 {
				return nil, false, nil
			}
			c := p.all[p.matches[p.cursor]]
			return &c, true, nil
		case "up", "ctrl+p":
			p.cursor = max(p.cursor-1, 0)
			return nil, false, nil
		case "down", "ctrl+n", "tab":
			p.cursor = min(p.cursor+1, max(len(p.matches)-1, 0))
			return nil, false, nil
		}
	}
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	p.filter()
	return nil, false, cmd
}

// View draws the palette, at most 10 entries.
func (p *Palette) View(width int) string {
	s := p.c.Styles
	w := min(max(width-8, 30), 70)
	var b strings.Builder
	b.WriteString(p.input.View() + "\n")
	for n, i := range p.matches {
		if n >= 10 {
			b.WriteString(s.Muted.Render("  …"))
			break
		}
		line := "  " + p.all[i].Name
		st := s.PaletteItem
		if n == p.cursor {
			line, st = "› "+p.all[i].Name, s.PaletteActive
		}
		b.WriteString(st.Render(line) + "\n")
	}
	if len(p.matches) == 0 {
		b.WriteString(s.Muted.Render("  no command matches") + "\n")
	}
	return s.Palette.Width(w).Render(strings.TrimRight(b.String(), "\n"))
}
