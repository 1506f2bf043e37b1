// Package text makes untrusted text safe for a terminal. Room names, topics,
// display names and log lines come from users of the homeserver; any of them
// can carry escape sequences that clear the screen, retitle the window or
// fake a prompt.
package text

import (
	"fmt"
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
