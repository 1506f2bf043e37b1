package text

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestWriterCleansEveryLine(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	hostile := "room \x1b]0;PWNED\x07name\u202e\u200b\x1b[2J"
	fmtWrites := []string{"ID\tNAME\n", "!a:hs  " + hostile + "\n", "tail \x1b", "]52;c;x\x07 end\n"}
	for _, s := range fmtWrites {
		if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	// A rune split across two writes is kept whole.
	cjk := []byte("会议\n")
	w.Write(cjk[:4])
	w.Write(cjk[4:])
	got := b.String()
	want := "ID NAME\n!a:hs  room name\ntail ]52;c;x end\n会议\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEscapeJSON(t *testing.T) {
	v := map[string]string{"name": "a\x1b]0;x\x07b\u009bc\u202ed\u200be\x7ff\U000E0041g 会议 \u2028"}
	raw, _ := json.Marshal(v)
	esc := EscapeJSON(raw)
	for _, r := range string(esc) {
		if r < 0x20 || r == 0x7f || Unsafe(r) {
			t.Errorf("escaped JSON still holds %U: %s", r, esc)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(esc, &back); err != nil || back["name"] != v["name"] {
		t.Errorf("round trip: %v %q, want %q", err, back["name"], v["name"])
	}
	if !strings.Contains(string(esc), `\u009b`) || !strings.Contains(string(esc), `\u202e`) || !strings.Contains(string(esc), `\udb40\udc41`) {
		t.Errorf("escapes missing: %s", esc)
	}
	if !strings.Contains(string(esc), "会议") {
		t.Errorf("printable text was escaped: %s", esc)
	}
}
