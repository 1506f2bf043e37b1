// Package text makes untrusted text safe for a terminal. Room names, topics,
// display names and log lines come from users of the homeserver; any of them
// can carry escape sequences that clear the screen, retitle the window or
// fake a prompt.
package text

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"synops/synapse"
)

// Clean removes escape sequences, control characters, bidirectional
// formatting and invisible characters (zero-width spaces, tag characters,
// soft hyphens, Hangul fillers: see Unsafe), leaving printable text on one
// line. Tabs and line breaks (\n, \r, U+2028, U+2029) become a space.
func Clean(s string) string {
	if isPlain(s) {
		return s
	}
	s = ansi.Strip(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029:
			b.WriteByte(' ')
		case Unsafe(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Unsafe reports whether Clean drops r: a control character, a
// bidirectional formatting character or an invisible one. It is the same
// set the synapse package refuses in room and user IDs.
func Unsafe(r rune) bool { return synapse.UnsafeRune(r) }

// IsInvisible reports whether r shows nothing or reorders what is shown
// (bidirectional and invisible formatting): the part of Unsafe that is not
// a control character. Two names that differ only by such characters look
// alike.
func IsInvisible(r rune) bool { return synapse.InvisibleRune(r) }

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

// Bytes formats a size in binary units: "512 B", "3.4 MiB", "212 MiB", "1.2 GiB".
func Bytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	b, i := float64(n), 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 || b >= 10 {
		return fmt.Sprintf("%.0f %s", b, units[i])
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
