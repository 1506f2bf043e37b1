package tui

import (
	"slices"
	"strings"
	"unicode"

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
	rank := map[int]int{}
	for i, c := range p.all {
		if r, ok := matchRank(strings.ToLower(c.Name), q); ok {
			p.matches = append(p.matches, i)
			rank[i] = r
		}
	}
	// The closest matches first: "reset" must offer the reset's commands
	// before "rooms: delete the selected room", whose letters merely
	// contain r…e…s…e…t. Enter runs the first.
	slices.SortStableFunc(p.matches, func(a, b int) int { return rank[a] - rank[b] })
	p.cursor = min(p.cursor, max(len(p.matches)-1, 0))
}

// matchRank says whether q matches name and how closely: 0 a prefix, 1 at
// the start of a word, 2 anywhere, 3 only letter by letter.
func matchRank(name, q string) (int, bool) {
	switch i := strings.Index(name, q); {
	case q == "" || i == 0:
		return 0, true
	case i > 0 && !unicode.IsLetter(rune(name[i-1])) && !unicode.IsDigit(rune(name[i-1])):
		return 1, true
	case i > 0:
		return 2, true
	case fuzzy(name, q):
		return 3, true
	}
	return 0, false
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
