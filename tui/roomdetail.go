package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"synops/ops/rooms"
	"synops/ops/text"
)

type roomDetailMsg struct {
	roomID string
	impact *rooms.Impact
	err    error
}

// roomDetail is one room's detail, a sub-view of the Rooms pane: what its
// plans would show (members, references, size) and its state. The pane's
// room actions stay live on it.
type roomDetail struct {
	c      *Common
	roomID string
	impact *rooms.Impact
	err    string
	scroll scrollText
}

func (d *roomDetail) Capturing() bool { return false }

func (d *roomDetail) Close() tea.Cmd { return nil }

func (d *roomDetail) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case roomDetailMsg:
		if msg.roomID == d.roomID {
			d.impact = msg.impact
			if msg.err != nil {
				d.err = msg.err.Error()
			}
			d.scroll.setLines(d.body())
		}
	case tea.KeyPressMsg:
		if key.Matches(msg, d.c.Keys.Back) {
			return nil, true
		}
		d.scroll.key(msg, d.c.Keys)
	}
	return nil, false
}

func (d *roomDetail) ShortHelp() []key.Binding { return []key.Binding{d.c.Keys.Back} }

func (d *roomDetail) FullHelp() [][]key.Binding {
	k := d.c.Keys
	return [][]key.Binding{{k.Back, k.Up, k.Down, k.PageUp, k.PageDown}}
}

// SetSize leaves the first line for the title.
func (d *roomDetail) SetSize(w, h int) { d.scroll.setSize(w, max(h-1, 1)) }

// View draws the title line and the detail, scrolled within its length.
func (d *roomDetail) View(w, h int) string {
	title := d.c.Styles.Title.Render("Room ") + text.Clean(d.roomID)
	return fit(title+"\n"+d.scroll.view(), w, h)
}

func (d *roomDetail) body() []string {
	s := d.c.Styles
	switch {
	case d.impact == nil && d.err == "":
		return []string{s.Muted.Render("reading the room…")}
	case d.impact == nil:
		return []string{s.Crit.Render(text.Clean(d.err))}
	}
	return d.lines()
}

func (d *roomDetail) lines() []string {
	s := d.c.Styles
	im := d.impact
	var out []string
	for _, l := range im.Lines(d.c.Now()) {
		out = append(out, text.Clean(l))
	}
	r := im.Room
	out = append(out,
		"topic: "+text.Clean(r.Topic),
		text.Clean(fmt.Sprintf("version %s · join rule %s · history %s · encryption %s · federatable %v · public %v · blocked %v",
			r.Version, r.JoinRules, r.HistoryVisibility, orDash(r.Encryption), r.Federatable, r.Public, im.Blocked)))
	if len(im.Retention) > 0 {
		out = append(out, "room retention (m.room.retention): "+text.Clean(string(im.Retention)))
	} else {
		out = append(out, s.Muted.Render("room retention: none set in the room"))
	}
	if im.ServerPolicy != "" {
		out = append(out, s.Muted.Render("server retention: "+text.Clean(im.ServerPolicy)))
	}
	if len(im.StateTypes) > 0 {
		out = append(out, "state: "+text.Clean(im.StateSummary()))
	}
	if d.err != "" {
		out = append(out, s.Warn.Render("partly read: "+text.Clean(d.err)))
	}
	out = append(out, "", s.Group.Render(fmt.Sprintf("Members (%d)", len(im.LocalMembers)+len(im.RemoteMembers))))
	for _, m := range append(append([]string{}, im.LocalMembers...), im.RemoteMembers...) {
		out = append(out, "  "+text.Clean(m))
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
