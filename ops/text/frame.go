package text

import (
	"strings"
	"unicode/utf8"
)

// CleanFrame makes a whole rendered screen safe: it keeps the colour and
// style sequences (SGR, "ESC [ … m") that the console's own styles produce,
// drops every other escape sequence (OSC title and clipboard writes,
// hyperlinks, DCS, APC, cursor and erase commands), and cleans the text
// between them with Clean, line by line. The console passes every frame
// through it, so a pane that forgets to clean a server string still cannot
// reach the terminal with it.
func CleanFrame(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = cleanStyledLine(l)
	}
	return strings.Join(lines, "\n")
}

func cleanStyledLine(l string) string {
	if !needsClean(l) {
		return l // the usual frame: text and SGR only
	}
	var b strings.Builder
	b.Grow(len(l))
	for len(l) > 0 {
		i := strings.IndexByte(l, 0x1b)
		if i < 0 {
			b.WriteString(Clean(l))
			break
		}
		b.WriteString(Clean(l[:i]))
		n, keep := escapeLen(l[i:])
		if keep {
			b.WriteString(l[i : i+n])
		}
		l = l[i+n:]
	}
	return b.String()
}

// escapeLen is the length of the escape sequence at the start of s (which
// begins with ESC) and whether it is a plain SGR sequence to keep.
func escapeLen(s string) (n int, sgr bool) {
	if len(s) < 2 {
		return len(s), false
	}
	switch s[1] {
	case '[': // CSI: parameters, intermediates, one final byte
		j := 2
		params := true
		for j < len(s) && s[j] >= 0x30 && s[j] <= 0x3f {
			if c := s[j]; c != ';' && c != ':' && (c < '0' || c > '9') {
				params = false // private parameters (<=>?) are never SGR
			}
			j++
		}
		inter := j
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
			j++
		}
		if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
			return j + 1, s[j] == 'm' && params && inter == j
		}
		return j, false // malformed: drop what was read
	case ']', 'P', '_', '^', 'X': // OSC, DCS, APC, PM, SOS: up to BEL or ST
		for j := 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j + 1, false
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2, false
			}
		}
		return len(s), false // unterminated: the rest of the line is its payload
	}
	j := 1 // ESC, intermediates, a final byte (charset selection, ESC c, ESC 7)
	for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
		j++
	}
	if j < len(s) {
		j++
	}
	return j, false
}

// needsClean is the fast check of a frame line: false when it holds only
// printable text and SGR sequences, which is every line of a clean frame.
func needsClean(l string) bool {
	for i := 0; i < len(l); {
		c := l[i]
		switch {
		case c == 0x1b:
			n, sgr := escapeLen(l[i:])
			if !sgr {
				return true
			}
			i += n
			continue
		case c < 0x20 || c == 0x7f:
			return true
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(l[i:])
			if r == utf8.RuneError || Unsafe(r) || r == 0x2028 || r == 0x2029 {
				return true
			}
			i += size
			continue
		}
		i++
	}
	return false
}
