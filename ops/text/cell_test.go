package text

import "testing"

func TestCellWidths(t *testing.T) {
	tests := []struct {
		in   string
		w    int
		want string
	}{
		{"abc", 5, "abc  "},
		{"abcdef", 4, "abc…"},
		{"会议室", 8, "会议室  "}, // three wide characters are six cells
		{"会议室", 5, "会议…"},   // cut on a character boundary, then padded
		{"会议室", 4, "会… "},
		{"🎉 party", 9, "🎉 party "},
		{"", 3, "   "},
		{"x", 0, ""},
	}
	for _, tt := range tests {
		got := Cell(tt.in, tt.w)
		if got != tt.want {
			t.Errorf("Cell(%q, %d) = %q, want %q", tt.in, tt.w, got, tt.want)
		}
		if tt.w > 0 && Width(got) != tt.w {
			t.Errorf("Cell(%q, %d) is %d cells wide", tt.in, tt.w, Width(got))
		}
	}
}
