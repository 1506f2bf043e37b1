package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"synops/ops/text"
)

// ConfirmRequest is what a destructive action shows before it may run.
type ConfirmRequest struct {
	Title       string   // "Delete room"
	Server      string   // server name
	Environment string   // environment label
	Production  bool     // drawn in the danger colour
	Target      string   // what the operator must type: the room ID, user ID, server name
	Risk        string   // "destructive", "irreversible"
	Impact      []string // the plan's impact lines
	Warning     string   // shown above the impact, never cut (a missing backup)
	// Tag routes the answer back to whoever asked.
	Tag string
}

// ConfirmResultMsg is the dialog's answer. Confirmed is true only when the
// typed text equalled the target and the operator pressed Enter.
type ConfirmResultMsg struct {
	Tag       string
	Confirmed bool
	Typed     string
}

type confirmFocus int

const (
	focusInput confirmFocus = iota
	focusCancel
	focusConfirm
)

// Confirm is the typed confirmation dialog. Cancel is the default: Esc
// cancels, Enter on the input does nothing until the text equals Target.
type Confirm struct {
	c      *Common
	req    ConfirmRequest
	input  textinput.Model
	focus  confirmFocus
	width  int
	height int
}

// NewConfirm opens a dialog for req.
func NewConfirm(c *Common, req ConfirmRequest) *Confirm {
	in := newInput("› ")
	in.Placeholder = "type " + text.Clean(req.Target)
	in.CharLimit = 512
	in.Focus()
	return &Confirm{c: c, req: req, input: in, width: 72, height: 40}
}

// Matches reports whether the typed text equals the target exactly.
func (d *Confirm) Matches() bool { return d.input.Value() == d.req.Target }

// SetSize fits the dialog to the area it is drawn in.
func (d *Confirm) SetSize(w, h int) {
	d.width = min(max(w-4, 30), 90)
	d.height = h
	d.input.SetWidth(d.width - 12)
}

// Update handles a key; it returns a command that yields ConfirmResultMsg
// when the dialog closes, and whether it closed.
func (d *Confirm) Update(msg tea.Msg) (tea.Cmd, bool) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		var cmd tea.Cmd
		d.input, cmd = d.input.Update(msg)
		return cmd, false
	}
	answer := func(yes bool) (tea.Cmd, bool) {
		r := ConfirmResultMsg{Tag: d.req.Tag, Confirmed: yes, Typed: d.input.Value()}
		return func() tea.Msg { return r }, true
	}
	switch {
	case key.Matches(km, d.c.Keys.Back):
		return answer(false)
	case km.String() == "tab", km.String() == "shift+tab":
		step := confirmFocus(1)
		if km.String() == "shift+tab" {
			step = 2
		}
		d.focus = (d.focus + step) % 3
		if d.focus == focusInput {
			d.input.Focus()
		} else {
			d.input.Blur()
		}
		return nil, false
	case km.String() == "enter":
		switch d.focus {
		case focusCancel:
			return answer(false)
		case focusInput, focusConfirm:
			if d.Matches() {
				return answer(true)
			}
			return nil, false // Enter alone never confirms
		}
	}
	if d.focus == focusInput {
		var cmd tea.Cmd
		d.input, cmd = d.input.Update(msg)
		return cmd, false
	}
	return nil, false
}

// View draws the dialog box. Impact lines wrap and, when the screen is
// short, as many as fit show: the input and the buttons always do.
func (d *Confirm) View() string {
	s := d.c.Styles
	inner := d.width - 4 // border and horizontal padding
	line := func(t string) string { return cell(t, inner) }
	var top []string
	clean := text.Clean
	title := s.DialogTitle.Render(clean(d.req.Title))
	if d.req.Risk != "" {
		title += s.Muted.Render("  (" + d.req.Risk + ")")
	}
	env := s.BadgeEnv.Render(d.req.Environment)
	if d.req.Production {
		env = s.BadgeProd.Render(strings.ToUpper(d.req.Environment))
	}
	top = append(top, title, "Server  "+clean(d.req.Server)+"  "+env, line("Target  "+clean(d.req.Target)))
	if d.req.Warning != "" {
		for _, w := range wrap(clean(d.req.Warning), inner) {
			top = append(top, s.Crit.Render(w))
		}
	}
	cancel, confirm := s.Button, s.Button
	if d.focus == focusCancel || d.focus == focusInput {
		cancel = s.ButtonActive
	}
	if d.Matches() && d.focus != focusCancel {
		confirm = s.ButtonDanger
	}
	bottom := []string{
		"Type the target to confirm:",
		s.Input.Width(inner).Render(d.input.View()),
		lipgloss.JoinHorizontal(lipgloss.Top, cancel.Render("Cancel"), "  ", confirm.Render(clean(d.req.Title))),
		s.Muted.Render(line("esc cancel · tab move · enter confirms only when the target matches")),
	}
	// Room for the impact: the height less the border, the fixed parts and
	// the two blank lines around the impact.
	room := d.height - 2 - len(top) - (len(bottom) + 2) - 2
	// Each impact wraps (a notice's message, a path: the operator approves
	// what they can read); when the screen is short, what does not fit is
	// counted.
	impact := make([]string, 0, len(d.req.Impact))
	for i, l := range d.req.Impact {
		lines := wrap(clean(l), inner-4)
		if len(impact)+len(lines) > room || (len(impact)+len(lines) == room && i < len(d.req.Impact)-1) {
			if len(impact) == room {
				impact = impact[:room-1]
			}
			impact = append(impact, s.Muted.Render(fmt.Sprintf("  … and %d more", len(d.req.Impact)-i)))
			break
		}
		for j, w := range lines {
			lead := "  • "
			if j > 0 {
				lead = "    "
			}
			impact = append(impact, line(lead+w))
		}
	}
	parts := append(top, "")
	if len(impact) > 0 {
		parts = append(append(parts, impact...), "")
	}
	parts = append(parts, bottom...)
	box := s.Dialog
	if d.req.Production {
		box = s.DialogDanger
	}
	return box.Width(d.width).Render(strings.Join(parts, "\n"))
}

// wrap breaks s into lines of at most w cells at spaces.
func wrap(s string, w int) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && lipgloss.Width(line)+1+lipgloss.Width(word) > w {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(out, line)
}
