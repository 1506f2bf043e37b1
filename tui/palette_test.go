package tui

import "testing"

// Enter runs the palette's first match, so the closest match must come
// first: typing "reset" offers the reset's commands before a room deletion
// whose letters merely contain r…e…s…e…t in order.
func TestPaletteClosestMatchFirst(t *testing.T) {
	cmds := []Command{
		{Name: "rooms: delete the selected room"},
		{Name: "go to Reset"},
		{Name: "users: reset the password of the selected account"},
		{Name: "reset: run the checklist again"},
	}
	p := NewPalette(NewCommon(Common{}), cmds)
	p.input.SetValue("reset")
	p.filter()
	var got []string
	for _, i := range p.matches {
		got = append(got, cmds[i].Name)
	}
	want := []string{"reset: run the checklist again", "go to Reset", "users: reset the password of the selected account", "rooms: delete the selected room"}
	if len(got) != len(want) {
		t.Fatalf("matches %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("matches %q, want %q", got, want)
		}
	}
}
