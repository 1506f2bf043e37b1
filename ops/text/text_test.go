package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"General", "General"},
		{"Evil \x1b[2J\x1b]0;pwned\x07 room", "Evil  room"},
		{"red \x1b[31mtext\x1b[0m", "red text"},
		{"line1\nline2\tx", "line1 line2 x"},
		{"bell\x07 nul\x00 del\x7f c1\u009b31m", "bell nul del c131m"},
		{"rtl \u202eevil\u202c ok", "rtl evil ok"},
		{"ünïcödé 🎉", "ünïcödé 🎉"},
		{"osc8 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "osc8 link"},
		// Invisible characters that make two names look alike or hide text.
		{"ad\u200bmin", "admin"},
		{"ad\u200c\u200dmin", "admin"},
		{"ad\u2060min\ufeff", "admin"},
		{"\u200eadmin\u200f\u061c", "admin"},
		{"\u2066iso\u2069", "iso"},
		{"para\u2028graph\u2029end", "para graph end"},
		{"note\ufff9hidden\ufffafurigana\ufffb", "notehiddenfurigana"},
		{"tag\U000e0041\U000e0062\U000e007f", "tag"},
		{"soft\u00adhyphen", "softhyphen"},
		{"cgj\u034fx", "cgjx"},
		{"hangul\u115f\u1160\u3164\uffa0filler", "hangulfiller"},
		{"mongolian\u180evs", "mongolianvs"},
		// Look-alikes that are letters stay: cleaning is not confusable folding.
		{"аdmin", "аdmin"}, // Cyrillic а
		{"emoji ❤️ with VS16", "emoji ❤️ with VS16"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnsafeClasses(t *testing.T) {
	for _, r := range []rune{0, 0x1b, 0x7f, 0x9b, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, 0x200e, 0x200f, 0x061c,
		0x2028, 0x2029, 0xfff9, 0xfffa, 0xfffb, 0xe0000, 0xe0041, 0xe007f, 0x00ad, 0x034f, 0x115f, 0x1160, 0x3164, 0xffa0, 0x180e,
		0x202a, 0x202e, 0x2066, 0x2069} {
		if !Unsafe(r) {
			t.Errorf("Unsafe(%U) = false, want true", r)
		}
	}
	for _, r := range []rune{'a', ' ', '~', 0xa0, 0xe9, 0x0430, 0xfe0f, 0x1f389, 0x3000, 0xe0080} {
		if Unsafe(r) {
			t.Errorf("Unsafe(%U) = true, want false", r)
		}
	}
	if IsInvisible(0x1b) || !IsInvisible(0x200b) || !IsInvisible(0x202e) || IsInvisible('x') {
		t.Error("IsInvisible: want the bidi and invisible classes only, not controls")
	}
}

// FuzzClean: whatever comes in, what comes out has no escape, no control,
// no bidi or invisible character, is valid UTF-8, is one line, and cleaning
// it again changes nothing.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"General", "Evil \x1b[2J\x1b]0;pwned\x07 room", "rtl \u202eevil\u202c ok", "ad\u200bmin",
		"tag\U000e0041", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "a\u2028b", "\xff\xfe bad utf-8", "\x1b[", "\x1b]0;",
		"\u009b31m", "\x1bP1$r\x1b\\", "hangul\u3164", "é\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Clean(in)
		if !utf8.ValidString(out) {
			t.Fatalf("Clean(%q) = %q: not valid UTF-8", in, out)
		}
		for i, r := range out {
			if Unsafe(r) || r == '\n' || r == '\t' {
				t.Fatalf("Clean(%q) = %q keeps %U at byte %d", in, out, r, i)
			}
		}
		if again := Clean(out); again != out {
			t.Fatalf("Clean is not idempotent: Clean(%q) = %q, Clean of that = %q", in, out, again)
		}
		if isPlain(in) && out != in {
			t.Fatalf("printable ASCII %q changed to %q", in, out)
		}
		if strings.ContainsRune(out, 0x1b) {
			t.Fatalf("Clean(%q) = %q keeps ESC", in, out)
		}
	})
}
