package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"synops/ops/text"
	"synops/synapse"
)

// RevealMsg asks the root to show a secret a change made (a generated
// password, a login-as token) in a box of its own, once. Nothing else in the
// console ever shows a secret in full: not the toast, the job list or the
// history.
type RevealMsg struct {
	Title  string
	Secret synapse.Secret
	Note   string
}

// Reveal is the command that shows secret once.
func Reveal(title string, secret synapse.Secret, note string) tea.Cmd {
	return func() tea.Msg { return RevealMsg{Title: title, Secret: secret, Note: note} }
}

// revealBox is the open secret; Esc or Enter closes it and forgets it.
type revealBox struct{ msg RevealMsg }

func (r *revealBox) view(s *Styles, width int) string {
	w := min(max(width-8, 40), 100)
	lines := []string{
		s.DialogTitle.Render(text.Clean(r.msg.Title)),
		"",
		"  " + s.Title.Render(r.msg.Secret.Reveal()), // no border: it is copied with the mouse
		"",
	}
	lines = append(lines, wrap(text.Clean(r.msg.Note), w-4)...)
	lines = append(lines, "", s.Muted.Render("esc or enter closes this box; the secret is not kept anywhere"))
	return s.Dialog.Width(w).Render(strings.Join(lines, "\n"))
}
