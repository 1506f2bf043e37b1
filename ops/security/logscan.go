package security

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
)

// How much of a log is read: its last scanTail bytes, and at most
// maxFindings findings of one file are listed (all are counted).
const (
	scanTail    = 16 << 20
	maxFindings = 10
)

// secretPattern is a kind of secret that can land in a log. value is the
// submatch holding the secret, which is what gets redacted.
type secretPattern struct {
	what  string
	re    *regexp.Regexp
	value int
	token bool // a token, which may be shown as its hint (syt_…a1b2); a password never is
}

// The most telling description first: a token in an Authorization header
// is reported as the header, not again as a token.
var secretPatterns = []secretPattern{
	{"an Authorization header", regexp.MustCompile(`(?i)authorization["']?\s*[:=]\s*["']?bearer\s+([^\s"',;]{8,})`), 1, true},
	{"an access_token parameter", regexp.MustCompile(`[?&]access_token=([^&\s"'<]{8,})`), 1, true},
	{"a password field", regexp.MustCompile(`(?i)["']?(?:new_)?password["']?\s*:\s*"([^"]+)"`), 1, false},
	// Synapse's tokens: syt_ (access), syr_ (refresh), mct_ (MAS compat).
	{"an access token", regexp.MustCompile(`\b((?:syt|syr|mct)_[A-Za-z0-9_-]{16,})`), 1, true},
	// Macaroon tokens of old Synapse: base64 of "0010location…" or "001clocation…".
	{"a macaroon access token", regexp.MustCompile(`\b(MDAx[A-Za-z0-9+/_-]{40,}=*)`), 1, true},
}

// finding is one secret in one line; its text is already redacted.
type finding struct {
	line int
	what string
	hint string
}

// scanLog reads the end of a log and reports every line holding a secret:
// one of the patterns, or one of the literal secrets synops knows.
func scanLog(ctx context.Context, path string, literals []KnownSecret) (found []finding, total int, scanned int64, partial bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, 0, false, err
	}
	size := fi.Size()
	var start int64
	if size > scanTail {
		start, partial = size-scanTail, true
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, 0, 0, false, err
	}
	// Line numbers count from the start of the file even when only its tail
	// is read, so an operator can go to them.
	lineNo := 1
	if start > 0 {
		lineNo = countLines(f, start)
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return nil, 0, 0, false, err
		}
	}
	r := bufio.NewReaderSize(f, 64<<10)
	first := start > 0 // the first line read is a fragment
	for {
		if ctx.Err() != nil {
			return found, total, scanned, true, nil
		}
		line, rerr := r.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			// A line longer than the buffer: scan this part, then the rest.
			rerr = nil
		}
		scanned += int64(len(line))
		if !first {
			for _, fd := range scanLine(line, literals) {
				total++
				if len(found) < maxFindings {
					fd.line = lineNo
					found = append(found, fd)
				}
			}
		}
		first = false
		if len(line) > 0 && line[len(line)-1] == '\n' {
			lineNo++
		}
		if rerr == io.EOF {
			return found, total, scanned, partial, nil
		}
		if rerr != nil {
			return found, total, scanned, partial, rerr
		}
	}
}

func scanLine(line []byte, literals []KnownSecret) []finding {
	var out []finding
	s := string(line)
	var seen []string
	for _, lit := range literals {
		if v := lit.Secret.Reveal(); len(v) >= 8 && strings.Contains(s, v) {
			seen = append(seen, v)
			f := finding{what: lit.What, hint: "[redacted]"}
			if lit.Token {
				f.hint = lit.Secret.Hint()
			}
			out = append(out, f)
		}
	}
	for _, p := range secretPatterns {
		for _, m := range p.re.FindAllStringSubmatch(s, -1) {
			v := m[p.value]
			if v == "[redacted]" || v == "<redacted>" || strings.HasPrefix(v, "***") || reported(seen, v) {
				continue
			}
			seen = append(seen, v)
			f := finding{what: p.what, hint: "[redacted]"}
			if p.token {
				f.hint = secretHint(v)
			}
			out = append(out, f)
		}
	}
	return out
}

// reported: v is (part of) a secret already found in the line.
func reported(seen []string, v string) bool {
	for _, s := range seen {
		if strings.Contains(s, v) || strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// countLines counts the lines before offset n.
func countLines(r io.Reader, n int64) int {
	count := 1
	buf := make([]byte, 256<<10)
	lr := io.LimitReader(r, n)
	for {
		k, err := lr.Read(buf)
		count += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return count
		}
	}
}

func checkLogs(ctx context.Context, d Deps, c *Check) {
	literals := append([]KnownSecret(nil), d.Secrets...)
	if d.Tokens != nil && !d.Tokens.Synapse.Token().IsZero() {
		literals = append(literals, KnownSecret{What: "the admin token synops uses", Secret: d.Tokens.Synapse.Token(), Token: true})
	}
	scannedAny := false
	for _, lf := range d.Logs {
		found, total, scanned, partial, err := scanLog(ctx, lf.Path, literals)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			c.see("%s %s: not there (nothing logged yet, or a path inside a container)", lf.Label, lf.Path)
			continue
		case err != nil:
			c.worse(Warn)
			c.see("%s %s: %v", lf.Label, lf.Path, err)
			continue
		}
		scannedAny = true
		what := "read whole"
		if partial {
			what = "its last " + sizeText(scanned) + " read"
		}
		if total == 0 {
			c.see("%s %s (%s): no token, Authorization header or password", lf.Label, lf.Path, what)
			continue
		}
		c.worse(Fail)
		c.see("%s %s (%s): %d secrets", lf.Label, lf.Path, what, total)
		for _, f := range found {
			c.see("  %s:%d: %s (%s)", lf.Path, f.line, f.what, f.hint)
		}
		if total > len(found) {
			c.see("  … and %d more", total-len(found))
		}
	}
	if !scannedAny {
		c.worse(Warn)
		c.see("no log file was read: Synapse's logs go to the journal or docker (set log.file to scan a file)")
	}
	if c.Status == Fail {
		c.Hint = "rotate every secret found (synops tokens rotate for the admin token), remove those lines from the logs, and find what logged them (a debug log level, a proxy logging headers)"
	}
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return sprintf("%d KiB", n>>10)
	}
	return sprintf("%d bytes", n)
}
