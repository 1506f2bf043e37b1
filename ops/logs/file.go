package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// fileTail follows one path by polling: it reads what was appended, starts
// again from the top when the file shrinks (truncation, copytruncate), and
// switches to the new file when the path names another one (rotation by
// rename), after reading the old one to its end.
type fileTail struct {
	path  string
	f     *os.File
	off   int64
	sp    splitter
	batch []Line
	buf   []byte
}

func (f *Follower) startFile(ctx context.Context, path string, o Options) error {
	file, err := os.Open(path)
	if err != nil {
		return openError(path, err)
	}
	t := &fileTail{path: path, f: file, buf: make([]byte, 64<<10)}
	t.sp.emit = func(raw []byte, cut bool) { t.batch = append(t.batch, makeLine(raw, cut)) }
	start, skipFirst, err := backlogStart(file, o.Backlog)
	if err != nil {
		file.Close()
		return fmt.Errorf("follow log %s: %w", path, err)
	}
	t.off = start
	t.sp.skipping = skipFirst
	// The backlog is there before Follow returns, so the first Next shows it.
	if err := t.drain(); err != nil {
		file.Close()
		return fmt.Errorf("follow log %s: %w", path, err)
	}
	f.push(t.take())
	go func() {
		defer close(f.done)
		defer func() { t.f.Close() }()
		tick := time.NewTicker(o.Poll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				f.end(fmt.Errorf("follow log %s: %w", path, ctx.Err()))
				return
			case <-tick.C:
			}
			if err := t.poll(); err != nil {
				// A read error on an open file is rare (an NFS hiccup); say it
				// once as a line and keep polling.
				t.batch = append(t.batch, Line{Text: "synops: reading " + path + ": " + err.Error(), Level: "ERROR"})
			}
			f.push(t.take())
		}
	}()
	return nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("follow log: %s does not exist on this machine: set log.file in the profile to Synapse's homeserver.log here, "+
			"or services.kind (compose or systemd) to read the log through docker compose logs or journalctl", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("follow log: cannot read %s: permission denied (run synops as a user in the group that owns the log, e.g. adm, or point log.file at a readable copy)", path)
	}
	return fmt.Errorf("follow log: %w", err)
}

func (t *fileTail) take() []Line {
	b := t.batch
	t.batch = nil
	return b
}

// drain reads from off to the end of the open file.
func (t *fileTail) drain() error {
	for {
		n, err := t.f.ReadAt(t.buf, t.off)
		t.off += int64(n)
		t.sp.write(t.buf[:n])
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (t *fileTail) poll() error {
	if err := t.drain(); err != nil {
		return err
	}
	// Truncated: start again from the top of the same file.
	if fi, err := t.f.Stat(); err == nil && fi.Size() < t.off {
		t.off = 0
		t.sp.reset()
		if err := t.drain(); err != nil {
			return err
		}
	}
	// Rotated: the path now names another file. Until a new one appears the
	// old one is kept (the writer may still be appending to it).
	cur, err := os.Stat(t.path)
	if err != nil {
		return nil
	}
	old, err := t.f.Stat()
	if err != nil || os.SameFile(cur, old) {
		return nil
	}
	nf, err := os.Open(t.path)
	if err != nil {
		return nil // created but not yet readable: try again next tick
	}
	if err := t.drain(); err != nil {
		nf.Close()
		return err
	}
	t.sp.flush() // the old file's last line, even without a newline
	t.f.Close()
	t.f, t.off = nf, 0
	return t.drain()
}

// backlogStart finds where the last n complete lines of f begin (the partial
// line after them, if any, comes too). It reads backwards at most about n
// times MaxLineBytes; when that is not enough, the start falls inside a line
// and skipFirst says to drop that line's remainder.
func backlogStart(f *os.File, n int) (start int64, skipFirst bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	size := fi.Size()
	limit := int64(n+1)*MaxLineBytes + 64<<10
	floor := max(0, size-limit)
	// The (n+1)-th newline from the end (a final newline counts as the 1st)
	// ends the line just before the ones we want.
	need := n + 1
	buf := make([]byte, 64<<10)
	end := size
	for end > floor {
		lo := max(floor, end-int64(len(buf)))
		chunk := buf[:end-lo]
		if _, err := f.ReadAt(chunk, lo); err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' {
				continue
			}
			need--
			if need == 0 {
				return lo + int64(i) + 1, false, nil
			}
		}
		end = lo
	}
	if floor == 0 {
		return 0, false, nil
	}
	// Lines that long: start at the limit and drop the broken first line,
	// unless the byte before the limit happens to be a newline.
	var b [1]byte
	if _, err := f.ReadAt(b[:], floor-1); err == nil && b[0] == '\n' {
		return floor, false, nil
	}
	return floor, true, nil
}
