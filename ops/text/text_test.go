package text

import "testing"

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
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
