package text

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// Quote is a name between double quotes, cleaned: what a message shows in
// place of Go's %q, which would print an escape sequence as \x1b… instead of
// removing it.
func Quote(s string) string { return `"` + Clean(s) + `"` }

// Writer cleans everything written through it, line by line, keeping the
// line breaks: the CLI's standard output and error are Writers, so no command
// can print a server string raw by accident. A rune split across two writes
// is held back until it is whole.
type Writer struct {
	w     io.Writer
	carry []byte
}

// NewWriter wraps w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Unwrap is the writer underneath (to ask whether it is a terminal).
func (c *Writer) Unwrap() io.Writer { return c.w }

func (c *Writer) Write(p []byte) (int, error) {
	buf := append(c.carry, p...)
	c.carry = nil
	// Hold back an incomplete rune at the end.
	if i := lastRuneStart(buf); i >= 0 && !utf8.FullRune(buf[i:]) {
		c.carry = append([]byte(nil), buf[i:]...)
		buf = buf[:i]
	}
	var out bytes.Buffer
	for len(buf) > 0 {
		line, rest, nl := bytes.Cut(buf, []byte{'\n'})
		out.WriteString(Clean(string(line)))
		if nl {
			out.WriteByte('\n')
		}
		buf = rest
	}
	if _, err := c.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// lastRuneStart is the index of the start byte of the last rune in b, or -1.
func lastRuneStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return -1
}

// EscapeJSON rewrites encoded JSON so that every control, C1, bidirectional
// and invisible code point inside its strings is a \u escape: the data is
// the same, but `jq -r` or a terminal cannot be handed the raw characters
// from it. encoding/json leaves DEL, C1 and bidi characters as they are.
func EscapeJSON(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1:
			out.WriteString(`\ufffd`)
		case r >= 0x20 && (Unsafe(r) || r == 0x2028 || r == 0x2029):
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&out, `\u%04x\u%04x`, hi, lo)
			} else {
				fmt.Fprintf(&out, `\u%04x`, r)
			}
		default:
			out.Write(b[:n])
		}
		b = b[n:]
	}
	return out.Bytes()
}
