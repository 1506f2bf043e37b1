package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
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
	c     *Common
	req   ConfirmRequest
	input textinput.Model
	focus confirmFocus
	width int
}

// NewConfirm opens a dialog for req.
func NewConfirm(c *Common, req ConfirmRequest) *Confirm {
	in := newInput("› ")
	in.Placeholder = "type " + req.Target
	in.CharLimit = 512
	in.Focus()
	return &Confirm{c: c, req: req, input: in, width: 72}
}

// Matches reports whether the typed text equals the target exactly.
func (d *Confirm) Matches() bool { return d.input.Value() == d.req.Target }

// SetWidth fits the dialog to the screen.
func (d *Confirm) SetWidth(w int) {
	d.width = min(max(w-4, 30), 90)
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

// View draws the dialog box.
func (d *Confirm) View() string {
	s := d.c.Styles
	var b strings.Builder
	b.WriteString(s.DialogTitle.Render(d.req.Title))
	if d.req.Risk != "" {
		b.WriteString(s.Muted.Render("  (" + d.req.Risk + ")"))
	}
	b.WriteString("\n\n")
	env := s.BadgeEnv.Render(d.req.Environment)
	if d.req.Production {
		env = s.BadgeProd.Render(strings.ToUpper(d.req.Environment))
	}
	b.WriteString("Server  " + d.req.Server + "  " + env + "\n")
	b.WriteString("Target  " + d.req.Target + "\n")
	if len(d.req.Impact) > 0 {
		b.WriteString("\n")
		for _, l := range d.req.Impact {
			b.WriteString("  • " + l + "\n")
		}
	}
	b.WriteString("\nType the target to confirm:\n")
	b.WriteString(s.Input.Width(d.width - 6).Render(d.input.View()))
	b.WriteString("\n\n")
	cancel, confirm := s.Button, s.Button
	if d.focus == focusCancel || d.focus == focusInput {
		cancel = s.ButtonActive
	}
	if d.Matches() {
		confirm = s.ButtonDanger
		if d.focus == focusCancel {
			confirm = s.Button
		}
	}
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, cancel.Render("Cancel"), "  ", confirm.Render(d.req.Title)))
	b.WriteString("\n" + s.Muted.Render("esc cancel · tab move · enter confirms only when the target matches"))
	box := s.Dialog
	if d.req.Production {
		box = s.DialogDanger
	}
	return box.Width(d.width).Render(b.String())
}
