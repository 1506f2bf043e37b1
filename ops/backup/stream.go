package backup

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"synops/ops"
	"synops/ops/text"
)

// outFile is a part being written: buffered, hashed and counted on the way
// to disk, fsynced before it counts as written.
type outFile struct {
	f    *os.File
	bw   *bufio.Writer
	h    hash.Hash
	size int64
}

func createPart(path string) (*outFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	o := &outFile{f: f, h: sha256.New()}
	o.bw = bufio.NewWriterSize(writerFunc(o.write), 1<<20)
	return o, nil
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

func (o *outFile) write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	o.h.Write(p[:n])
	o.size += int64(n)
	return n, err
}

func (o *outFile) Write(p []byte) (int, error) { return o.bw.Write(p) }

// finish flushes, fsyncs and closes the file, and returns its size and
// SHA-256.
func (o *outFile) finish() (int64, string, error) {
	if err := o.bw.Flush(); err != nil {
		o.f.Close()
		return 0, "", err
	}
	if err := o.f.Sync(); err != nil {
		o.f.Close()
		return 0, "", err
	}
	if err := o.f.Close(); err != nil {
		return 0, "", err
	}
	return o.size, hex.EncodeToString(o.h.Sum(nil)), nil
}

// abort closes the file after a failure; the caller removes the directory.
func (o *outFile) abort() { o.f.Close() }

// writePart writes part.File in dir from what fill writes: compressed as
// part.Format, hashed and fsynced on the way, its size and SHA-256 recorded
// in part. An error from any of them is the error.
func writePart(dir string, part *Part, fill func(w io.Writer) error) error {
	out, err := createPart(filepath.Join(dir, part.File))
	if err != nil {
		return err
	}
	comp, err := compressor(part.Format, out)
	if err != nil {
		out.abort()
		return err
	}
	fillErr := fill(comp)
	closeErr := comp.Close()
	size, sum, finErr := out.finish()
	if err := errors.Join(fillErr, closeErr, finErr); err != nil {
		os.Remove(out.f.Name())
		return err
	}
	part.Size, part.SHA256 = size, sum
	return nil
}

// compressor wraps w in the compression of format.
func compressor(format string, w io.Writer) (io.WriteCloser, error) {
	switch format {
	case FormatCustomZstd, FormatTarZstd:
		// Both cores (or more) compress at once: pg_dump streams faster than
		// one core compresses, and this is what makes a backup quicker than
		// seed 004's pg_dump | gzip at a smaller size.
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(runtime.NumCPU()), zstd.WithEncoderLevel(zstd.SpeedDefault))
	case FormatSQLGzip:
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	}
	return nil, fmt.Errorf("unknown backup format %q", format)
}

// decompressor reads a part of format.
func decompressor(format string, r io.Reader) (io.ReadCloser, error) {
	switch format {
	case FormatCustomZstd, FormatTarZstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(runtime.NumCPU()))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case FormatSQLGzip:
		return gzip.NewReader(r)
	}
	return nil, fmt.Errorf("unknown backup format %q", format)
}

// openPart opens a part of an entry decompressed.
func openPart(dir string, p Part) (io.ReadCloser, error) {
	f, err := os.Open(fileIn(dir, p))
	if err != nil {
		return nil, err
	}
	d, err := decompressor(p.Format, bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{d, closers{d, f}}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var first error
	for _, c := range cs {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// meter counts bytes going through and turns them into progress reports
// with the rate and the time left, a few times a second.
type meter struct {
	item, stage string
	total       int64 // an estimate; 0: unknown
	report      func(ops.Progress)
	start, last time.Time
	n           int64
}

func newMeter(item, stage string, total int64, report func(ops.Progress)) *meter {
	now := time.Now()
	return &meter{item: item, stage: stage, total: total, report: report, start: now}
}

func (m *meter) Write(p []byte) (int, error) {
	m.add(int64(len(p)))
	return len(p), nil
}

func (m *meter) add(n int64) {
	m.n += n
	if m.report != nil && time.Since(m.last) >= 250*time.Millisecond {
		m.last = time.Now()
		m.report(m.progress())
	}
}

func (m *meter) progress() ops.Progress {
	p := ops.Progress{Item: m.item, Stage: m.stage, Bytes: m.n}
	el := time.Since(m.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(m.n) / el
	}
	p.Detail = text.Bytes(m.n)
	if m.total > 0 {
		p.TotalBytes = max(m.total, m.n)
		p.Detail += " of ~" + text.Bytes(p.TotalBytes)
	}
	if rate > 0 {
		p.Detail += fmt.Sprintf(", %s/s", text.Bytes(int64(rate)))
		if m.total > m.n {
			p.Detail += ", " + clock(time.Duration(float64(m.total-m.n)/rate*float64(time.Second))) + " left"
		}
	}
	return p
}

// clock is a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
