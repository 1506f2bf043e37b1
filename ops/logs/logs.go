// Package logs follows Synapse's log: a homeserver.log on this machine (a
// poll-based tail that survives truncation and rotation), or the output of the
// service manager's log command (docker compose logs -f, journalctl -f).
//
// Log lines are untrusted: users of the homeserver choose room names, display
// names and request paths that end up in them. Every line is passed through
// text.Clean, cut to MaxLineBytes, and the lines waiting for the reader are
// bounded (the oldest are dropped and counted).
package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/text"
)

// Source is where the log comes from. Exactly one field is set.
type Source struct {
	File    string   // a log file on this machine
	Command []string // argv whose standard output and error are the log
}

func (s Source) String() string {
	if s.File != "" {
		return s.File
	}
	return strings.Join(s.Command, " ")
}

// Limits and defaults.
const (
	// DefaultBacklog is how many old lines SourceFor's commands start with.
	DefaultBacklog = 500
	// MaxLineBytes is where a long line is cut (a traceback line, a huge request).
	MaxLineBytes = 4 << 10
	// MaxPending is how many lines wait for Next before the oldest are dropped.
	MaxPending = 10000
	// DefaultPoll is how often a log file is checked for new lines.
	DefaultPoll = 250 * time.Millisecond
)

// cutMark ends a line that was cut at MaxLineBytes.
const cutMark = " …[cut]"

// ErrClosed is what Next returns after Close.
var ErrClosed = errors.New("log follower closed")

// SourceFor picks the log source for a profile: the log file when one is set
// and readable here, else the service manager's log command (also when the
// discovered file is a path inside a container), else an error that says what
// to configure.
func SourceFor(r *config.Resolved) (Source, error) {
	cmd, hasCmd := services.LogsCommand(r.Services, DefaultBacklog)
	if r.LogFile != "" {
		if _, err := os.Stat(r.LogFile); err == nil || !hasCmd {
			return Source{File: r.LogFile}, nil
		}
		return Source{Command: cmd}, nil
	}
	if hasCmd {
		return Source{Command: cmd}, nil
	}
	return Source{}, errors.New("no Synapse log to follow: set log.file in the profile to the homeserver.log on this machine, " +
		"or services.kind (compose or systemd) so synops reads the log through docker compose logs or journalctl")
}

// Line is one log line, safe to print.
type Line struct {
	Text  string // cleaned with text.Clean; a cut line ends with " …[cut]"
	Level string // "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"; "" when the line has none (a traceback line)
}

// Options tune a Follower. Zero values take the defaults.
type Options struct {
	Backlog    int           // file sources: start with this many old lines (0: only new ones)
	Poll       time.Duration // file sources: DefaultPoll
	MaxPending int           // MaxPending
}

// Follower delivers a log's lines. One goroutine produces; Next consumes.
type Follower struct {
	src    Source
	cancel context.CancelFunc
	done   chan struct{} // closed when the producer has stopped

	mu      sync.Mutex
	buf     ring
	dropped int
	ended   bool
	endErr  error
	closed  bool
	wake    chan struct{} // closed and replaced whenever something changes
	stopper io.Closer     // the command's output, closed by Close
}

// Follow starts following src, beginning with the last backlog lines of a
// file (a command source starts where its own argv says: SourceFor uses
// DefaultBacklog). ctx bounds the whole life of the follower; Close ends it
// earlier. Errors opening the file or starting the command come back here.
func Follow(ctx context.Context, src Source, backlog int) (*Follower, error) {
	return FollowOptions(ctx, src, Options{Backlog: backlog})
}

// FollowOptions is Follow with every knob.
func FollowOptions(ctx context.Context, src Source, o Options) (*Follower, error) {
	if (src.File == "") == (len(src.Command) == 0) {
		return nil, errors.New("follow log: give exactly one of a file or a command")
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.MaxPending <= 0 {
		o.MaxPending = MaxPending
	}
	if o.Backlog < 0 {
		o.Backlog = 0
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Follower{
		src:    src,
		cancel: cancel,
		done:   make(chan struct{}),
		buf:    ring{lines: make([]Line, o.MaxPending)},
		wake:   make(chan struct{}),
	}
	var err error
	if src.File != "" {
		err = f.startFile(ctx, src.File, o)
	} else {
		err = f.startCommand(ctx, src.Command)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return f, nil
}

// Next waits until at least one line is there and returns up to max of them
// (max <= 0: all waiting). When the source has ended it returns the remaining
// lines first, then io.EOF (the command exited 0) or the command's error. It
// returns ctx.Err() when ctx ends first and ErrClosed after Close. Next blocks:
// call it from a goroutine (a tea.Cmd), one caller at a time.
func (f *Follower) Next(ctx context.Context, max int) ([]Line, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil, ErrClosed
		}
		if f.buf.n > 0 {
			lines := f.buf.take(max)
			f.mu.Unlock()
			return lines, nil
		}
		if f.ended {
			err := f.endErr
			f.mu.Unlock()
			return nil, err
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// Dropped is how many lines were dropped so far because the reader fell more
// than MaxPending lines behind.
func (f *Follower) Dropped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

// Source is what this follower reads.
func (f *Follower) Source() Source { return f.src }

// Close stops the command (killing it) or the file polling and waits until
// the producer has stopped. Safe to call more than once.
func (f *Follower) Close() error {
	f.mu.Lock()
	already := f.closed
	f.closed = true
	stopper := f.stopper
	f.signal()
	f.mu.Unlock()
	f.cancel()
	if stopper != nil && !already {
		_ = stopper.Close()
	}
	<-f.done
	return nil
}

// signal wakes every waiting Next. Call with mu held.
func (f *Follower) signal() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// push adds lines, dropping the oldest beyond the bound.
func (f *Follower) push(lines []Line) {
	if len(lines) == 0 {
		return
	}
	f.mu.Lock()
	f.dropped += f.buf.push(lines)
	f.signal()
	f.mu.Unlock()
}

// end records that the source has ended with err (io.EOF for a clean end).
func (f *Follower) end(err error) {
	f.mu.Lock()
	if !f.ended {
		f.ended, f.endErr = true, err
	}
	f.signal()
	f.mu.Unlock()
}

// startCommand runs argv and reads its merged output.
func (f *Follower) startCommand(ctx context.Context, argv []string) error {
	rc, wait, err := services.Exec{}.Start(ctx, argv)
	if err != nil {
		return fmt.Errorf("follow log with %s: %w", argv[0], err)
	}
	f.stopper = rc
	go func() {
		defer close(f.done)
		var batch []Line
		sp := splitter{emit: func(raw []byte, cut bool) { batch = append(batch, makeLine(raw, cut)) }}
		buf := make([]byte, 64<<10)
		for {
			n, rerr := rc.Read(buf)
			sp.write(buf[:n])
			f.push(batch)
			batch = batch[:0]
			if rerr != nil {
				break
			}
		}
		sp.flush()
		f.push(batch)
		rc.Close()
		werr := wait()
		switch {
		case ctx.Err() != nil:
			f.end(fmt.Errorf("log command %s stopped: %w", argv[0], ctx.Err()))
		case werr != nil:
			f.end(fmt.Errorf("log command ended: %w", werr))
		default:
			f.end(io.EOF)
		}
	}()
	return nil
}

// makeLine turns raw bytes into a safe Line.
func makeLine(raw []byte, cut bool) Line {
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	if cut {
		raw = bytes.ToValidUTF8(raw, nil) // the cut may split a character
	}
	t := text.Clean(string(raw))
	if cut {
		t += cutMark
	}
	return Line{Text: t, Level: parseLevel(t)}
}

var levels = []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

// parseLevel finds the level in Synapse's log format,
// "<time> - <logger> - <lineno> - <LEVEL> - <request> - <message>", also when
// journald or compose put a prefix before it. Only the head of the line is
// searched, so a message that quotes " - ERROR - " does not count.
func parseLevel(s string) string {
	head := s[:min(len(s), 256)]
	best, at := "", len(head)
	for _, l := range levels {
		if i := strings.Index(head, " - "+l+" - "); i >= 0 && i < at {
			best, at = l, i
		}
	}
	return best
}

// splitter cuts a byte stream into lines of at most MaxLineBytes. The rest of
// an over-long line is discarded up to its newline.
type splitter struct {
	partial  []byte
	skipping bool
	emit     func(raw []byte, cut bool)
}

func (s *splitter) write(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		if s.skipping {
			if i >= 0 {
				s.skipping = false
			}
			continue
		}
		if room := MaxLineBytes - len(s.partial); len(chunk) > room {
			s.partial = append(s.partial, chunk[:room]...)
			s.emit(s.partial, true)
			s.partial = s.partial[:0]
			s.skipping = i < 0
			continue
		}
		s.partial = append(s.partial, chunk...)
		if i >= 0 {
			s.emit(s.partial, false)
			s.partial = s.partial[:0]
		}
	}
}

// flush emits a last line that had no newline.
func (s *splitter) flush() {
	if len(s.partial) > 0 {
		s.emit(s.partial, false)
	}
	s.reset()
}

// reset forgets a partial line (after a truncation).
func (s *splitter) reset() {
	s.partial = s.partial[:0]
	s.skipping = false
}

// ring is a bounded FIFO of lines.
type ring struct {
	lines   []Line
	head, n int
}

// push appends, overwriting the oldest when full; it returns how many were dropped.
func (r *ring) push(ls []Line) int {
	dropped := 0
	c := len(r.lines)
	if len(ls) > c {
		dropped += len(ls) - c
		ls = ls[len(ls)-c:]
	}
	for _, l := range ls {
		if r.n == c {
			r.head = (r.head + 1) % c
			r.n--
			dropped++
		}
		r.lines[(r.head+r.n)%c] = l
		r.n++
	}
	return dropped
}

// take removes and returns up to max lines (max <= 0: all).
func (r *ring) take(max int) []Line {
	k := r.n
	if max > 0 && max < k {
		k = max
	}
	out := make([]Line, k)
	c := len(r.lines)
	for i := range out {
		out[i] = r.lines[(r.head+i)%c]
		r.lines[(r.head+i)%c] = Line{}
	}
	r.head = (r.head + k) % c
	r.n -= k
	return out
}
