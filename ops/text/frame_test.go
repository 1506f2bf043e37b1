package text

import (
	"strings"
	"testing"
)

func TestCleanFrame(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\nlines", "plain\nlines"},
		{"\x1b[1;38;2;10;20;30mbold\x1b[0m and \x1b[m", "\x1b[1;38;2;10;20;30mbold\x1b[0m and \x1b[m"},
		{"a\x1b]0;PWNED\x07b", "ab"},
		{"a\x1b]52;c;cHduZWQ=\x1b\\b", "ab"},
		{"a\x1b]8;;https://evil\x1b\\link\x1b]8;;\x1b\\", "alink"},
		{"a\x1bP$qm\x1b\\b", "ab"},
		{"a\x1b_apc payload\x1b\\b", "ab"},
		{"x\x1b[2Jy\x1b[?1049hz\x1b[10;20H", "xyz"},
		{"x\x1b[?25lm", "xm"}, // private CSI, even ending in m-like text
		{"x\x1b[>4;2m", "x"},  // private SGR-looking sequence
		{"a\u009b2Jb", "a2Jb"},
		{"bidi \u202eevil\u202c end", "bidi evil end"},
		{"tab\there\x07bell", "tab herebell"},
		{"\x1b]0;unterminated title", ""},
		{"\x1b(0drawing\x1b(B", "drawing"},
		{"ends with ESC\x1b", "ends with ESC"},
	}
	for _, tt := range tests {
		if got := CleanFrame(tt.in); got != tt.want {
			t.Errorf("CleanFrame(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Idempotent, and nothing but SGR escapes remain.
	for _, tt := range tests {
		once := CleanFrame(tt.in)
		if twice := CleanFrame(once); twice != once {
			t.Errorf("not idempotent on %q: %q then %q", tt.in, once, twice)
		}
		for _, part := range strings.Split(once, "\x1b")[1:] {
			if !strings.HasPrefix(part, "[") || !strings.Contains(part, "m") {
				t.Errorf("CleanFrame(%q) left a non-SGR escape: %q", tt.in, once)
			}
		}
	}
}
