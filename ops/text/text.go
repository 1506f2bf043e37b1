// Package text makes untrusted text safe for a terminal. Room names, topics,
// display names and log lines come from users of the homeserver; any of them
// can carry escape sequences that clear the screen, retitle the window or
// fake a prompt.
package text

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Clean removes escape sequences and control characters (tabs become a space,
// newlines too) and bidirectional overrides, leaving printable text on one line.
func Clean(s string) string {
	if isPlain(s) {
		return s
	}
	s = ansi.Strip(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi embeddings/overrides/isolates
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isPlain is the fast path: printable ASCII needs no work.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// Truncate cuts s to at most n terminal cells, ending with "…" when cut.
func Truncate(s string, n int) string { return ansi.Truncate(s, n, "…") }
