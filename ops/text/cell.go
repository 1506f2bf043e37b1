package text

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Width is how many terminal cells s takes: CJK characters and most emoji
// take two, combining marks none.
func Width(s string) int { return ansi.StringWidth(s) }

// Cell fits s to exactly w terminal cells: cut with "…" when wider, padded
// with spaces when narrower. Widths are display widths, so a column of CJK or
// emoji names lines up with the next one. It does not clean: the console's
// cells and the CLI's tables clean their text first.
func Cell(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		s = ansi.Truncate(s, w, "…")
		n = ansi.StringWidth(s)
	}
	if n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}
