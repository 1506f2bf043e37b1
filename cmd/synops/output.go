package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"

	"synops/ops/text"
)

// The CLI's one way out. a.stdout and a.stderr are text.Writers: everything
// a command prints is cleaned of escape sequences and invisible characters on
// its way to the terminal, whatever the command forgot. JSON is escaped
// (text.EscapeJSON), tables are aligned by display width (text.Cell), and
// only the console and the terminal checks see the raw files.

// streams wraps the process's output streams.
func streams(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	return text.NewWriter(stdout), text.NewWriter(stderr)
}

// terminal is the *os.File under w when it is one (the console draws on it;
// it cleans its own frames).
func terminal(w io.Writer) (*os.File, bool) {
	if cw, ok := w.(*text.Writer); ok {
		w = cw.Unwrap()
	}
	f, ok := w.(*os.File)
	return f, ok
}

// writeJSON prints v as indented JSON whose strings carry no raw control,
// C1, bidi or invisible character (they are \u escapes).
func writeJSON(a *app, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(append(text.EscapeJSON(data), '\n'))
	return err
}

// table prints rows under a header, each column as wide as its widest cell
// in display cells (CJK and emoji count two), two spaces between columns.
// Cells are cleaned before they are measured.
func (a *app) table(header []string, rows [][]string) { a.tableAt("", header, rows) }

// tableAt is table with each line indented; header may be nil.
func (a *app) tableAt(indent string, header []string, rows [][]string) {
	all := rows
	if header != nil {
		all = append([][]string{header}, rows...)
	}
	cols := 0
	for _, r := range all {
		cols = max(cols, len(r))
	}
	widths := make([]int, cols)
	cleaned := make([][]string, len(all))
	for i, r := range all {
		cleaned[i] = make([]string, cols)
		for j := range r {
			cleaned[i][j] = text.Clean(r[j])
			widths[j] = max(widths[j], text.Width(cleaned[i][j]))
		}
	}
	var b strings.Builder
	for _, r := range cleaned {
		b.Reset()
		b.WriteString(indent)
		for j, c := range r {
			if j == cols-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(text.Cell(c, widths[j]) + "  ")
		}
		io.WriteString(a.stdout, strings.TrimRight(b.String(), " ")+"\n")
	}
}
