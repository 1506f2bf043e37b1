package logs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseLevel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2025-01-01 10:00:00,001 - synapse.access.http.8008 - 473 - INFO - GET-3 - 127.0.0.1 - 8008 - {None} Processed request", "INFO"},
		{"synapse-1  | 2025-01-01 10:00:00,001 - synapse.handlers - 12 - WARNING - - Something", "WARNING"},
		{"2025-01-01T10:00:00+0000 box matrix-synapse[812]: synapse.http.server - 130 - ERROR - GET-9 - Failed handle request", "ERROR"},
		{"2025-01-01 10:00:00,001 - synapse.app - 1 - CRITICAL - main - cannot start", "CRITICAL"},
		{"Traceback (most recent call last):", ""},
		{`  File "x.py", line 3, in f - ERROR - `, "ERROR"},
		{"2025-01-01 10:00:00,001 - synapse.x - 1 - INFO - GET-1 - message quoting - ERROR - text", "INFO"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := parseLevel(tt.in); got != tt.want {
			t.Errorf("parseLevel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBacklogStart(t *testing.T) {
	tests := []struct {
		content string
		n       int
		want    string // the content from the start offset
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 10, "a\nb\nc\n"},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc", 1, "b\nc"},
		{"a\nb\nc", 0, "c"},
		{"", 5, ""},
		{"\n\n\n", 1, "\n"},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(p)
		start, skip, err := backlogStart(f, tt.n)
		f.Close()
		if err != nil || skip || tt.content[start:] != tt.want {
			t.Errorf("backlogStart(%q, %d) = %d (%q), skip %v, %v; want %q", tt.content, tt.n, start, tt.content[start:], skip, err, tt.want)
		}
	}
}

func TestRing(t *testing.T) {
	r := ring{lines: make([]Line, 3)}
	if d := r.push([]Line{{Text: "1"}, {Text: "2"}}); d != 0 {
		t.Errorf("dropped %d", d)
	}
	if got := r.take(1); len(got) != 1 || got[0].Text != "1" {
		t.Errorf("got %v", got)
	}
	if d := r.push([]Line{{Text: "3"}, {Text: "4"}, {Text: "5"}}); d != 1 {
		t.Errorf("got dropped %d, want 1", d)
	}
	if d := r.push([]Line{{Text: "6"}, {Text: "7"}, {Text: "8"}, {Text: "9"}}); d != 4 {
		t.Errorf("got dropped %d, want 4", d)
	}
	got := r.take(0)
	if len(got) != 3 || got[0].Text != "7" || got[2].Text != "9" {
		t.Errorf("got %v, want 7 8 9", got)
	}
}
