// Package backup takes, verifies, prunes and restores synops' backups of a
// Synapse box: a consistent dump of Synapse's database (and the application
// database), the files Synapse cannot run without (homeserver.yaml, the
// signing key, the log config, others the profile lists) and the media
// store, each entry a directory with a signed manifest. A backup counts as
// verified only after a restore test passed and while its files are what
// the manifest says; the destructive operations elsewhere ask the catalog
// for the newest verified backup before they run.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Invalid is the state of an entry the catalog does not trust: its manifest
// is unsigned or damaged, a file is missing, changed or outside the entry,
// or it is dated in the future.
const Invalid = "invalid"

// clockSkew is how far in the future a manifest's times may lie (clocks of
// a restored box, NTP steps) before the entry is refused.
const clockSkew = 5 * time.Minute

// Catalog is the backup directory: one subdirectory per entry, named by its
// ID, holding manifest.json and the files it names. Entries being written
// live under a dot-name and are not part of the catalog until renamed.
type Catalog struct {
	Dir string
	// KeyFile holds the key that signs manifests. It lives in synops' state
	// directory, not beside the backups: whoever can drop a file into the
	// backup directory cannot make it count.
	KeyFile string
	Now     func() time.Time

	mu   sync.Mutex
	sums map[fileStamp]string // checksums of files already read, by what identifies their content
}

// NewCatalog returns the catalog of dir, signed with the key in keyFile.
func NewCatalog(dir, keyFile string) *Catalog {
	return &Catalog{Dir: dir, KeyFile: keyFile}
}

func (c *Catalog) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Entry is one backup as the catalog judges it now.
type Entry struct {
	ID       string    `json:"id"`
	Dir      string    `json:"dir"`
	Manifest *Manifest `json:"manifest,omitempty"` // nil when unreadable
	// State is Passed, Failed or Never from the manifest when every check
	// holds, else Invalid.
	State   string `json:"state"`
	Problem string `json:"problem,omitempty"` // why Invalid, or why the verification failed
}

// Verified reports whether the entry counts as a verified backup.
func (e Entry) Verified() bool { return e.State == Passed }

// Kind is the entry's kind, "" when the manifest is unreadable.
func (e Entry) Kind() string {
	if e.Manifest == nil {
		return ""
	}
	return e.Manifest.Kind
}

// TakenAt is when the backup's snapshot was taken.
func (e Entry) TakenAt() time.Time {
	if e.Manifest == nil {
		return time.Time{}
	}
	return e.Manifest.TakenAt
}

// Age is how old the backup is at now.
func (e Entry) Age(now time.Time) time.Duration {
	if e.Manifest == nil {
		return 0
	}
	return now.Sub(e.Manifest.TakenAt)
}

// Size is the bytes of its files.
func (e Entry) Size() int64 {
	if e.Manifest == nil {
		return 0
	}
	return e.Manifest.Size()
}

// VerifiedAt is when its last restore test ran (zero: never).
func (e Entry) VerifiedAt() time.Time {
	if e.Manifest == nil {
		return time.Time{}
	}
	return e.Manifest.Verification.At
}

// Contents names its parts: "synapse-db", "config", "media"…
func (e Entry) Contents() []string {
	if e.Manifest == nil {
		return nil
	}
	out := make([]string, len(e.Manifest.Parts))
	for i, p := range e.Manifest.Parts {
		out[i] = p.Name
	}
	return out
}

// Mark is the state as one character: ✓ verified, ✗ failed or not
// trusted, · never verified.
func (e Entry) Mark() string {
	switch e.State {
	case Passed:
		return "✓"
	case Never:
		return "·"
	}
	return "✗"
}

// ErrNoEntry is returned for an ID the catalog does not hold.
var ErrNoEntry = errors.New("no such backup")

// List reads every entry, newest first, and checks each. A missing
// directory is an empty catalog.
func (c *Catalog) List(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := c.walk(ctx, func(e Entry) bool {
		out = append(out, e)
		return true
	})
	return out, err
}

// walk checks the entries newest first and hands each to fn until it
// returns false.
func (c *Catalog) walk(ctx context.Context, fn func(Entry) bool) error {
	ids, err := c.ids()
	if err != nil {
		return err
	}
	k, err := loadKey(c.KeyFile, false)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(c.check(ctx, k, id)) {
			return nil
		}
	}
	return nil
}

// ids are the entries' names, newest first (IDs sort by time).
func (c *Catalog) ids() ([]string, error) {
	des, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read backup directory: %w", err)
	}
	var ids []string
	for _, de := range des {
		if de.IsDir() && ValidID(de.Name()) {
			ids = append(ids, de.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	return ids, nil
}

// Get reads and checks one entry.
func (c *Catalog) Get(ctx context.Context, id string) (Entry, error) {
	if !ValidID(id) {
		return Entry{}, fmt.Errorf("%w: %q is not a backup ID (like 20260131T020000Z-1a2b; see backup list)", ErrNoEntry, id)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, id)); err != nil {
		return Entry{}, fmt.Errorf("%w: %s is not in %s (see backup list)", ErrNoEntry, id, c.Dir)
	}
	k, err := loadKey(c.KeyFile, false)
	if err != nil {
		return Entry{}, err
	}
	return c.check(ctx, k, id), nil
}

// NewestVerified is the guard's question: when was the newest verified
// backup of Synapse taken, and which is it. It reads entries newest first
// and stops at the first that passes every check.
func (c *Catalog) NewestVerified(ctx context.Context) (time.Time, string, error) {
	e, err := c.newestVerified(ctx)
	if err != nil || e == nil {
		return time.Time{}, "", err
	}
	return e.TakenAt(), e.ID, nil
}

func (c *Catalog) newestVerified(ctx context.Context) (*Entry, error) {
	var found *Entry
	err := c.walk(ctx, func(e Entry) bool {
		if e.Verified() && e.Kind() == KindBackup {
			found = &e
		}
		return found == nil
	})
	return found, err
}

// Summary is the catalog at a glance, for the health check.
type Summary struct {
	Dir            string
	NewestVerified *Entry // nil: none
	// Newest is the newest backup of Synapse whatever its state; when it is
	// not NewestVerified, it failed, was never verified or is not trusted.
	Newest *Entry
}

// Summary reads the catalog for the health check.
func (c *Catalog) Summary(ctx context.Context) (Summary, error) {
	s := Summary{Dir: c.Dir}
	err := c.walk(ctx, func(e Entry) bool {
		if e.Kind() != KindBackup && e.State != Invalid {
			return true
		}
		if s.Newest == nil {
			s.Newest = &e
		}
		if e.Verified() {
			s.NewestVerified = &e
		}
		return s.NewestVerified == nil
	})
	return s, err
}

// check judges one entry: a signed manifest naming this entry, no time in
// the future, and every file inside the entry's directory, a regular file,
// with the size and SHA-256 the manifest records.
func (c *Catalog) check(ctx context.Context, k key, id string) Entry {
	dir := filepath.Join(c.Dir, id)
	e := Entry{ID: id, Dir: dir, State: Invalid}
	m, err := readManifest(dir)
	if err != nil {
		e.Problem = "no readable manifest: " + err.Error()
		return e
	}
	e.Manifest = m
	now := c.now()
	switch {
	case m.ID != id:
		e.Problem = fmt.Sprintf("its manifest describes %q, not this entry", m.ID)
	case !k.valid(*m):
		e.Problem = "its manifest is not signed by synops with this machine's key (written by hand, edited, or made elsewhere)"
	case m.TakenAt.IsZero() || m.TakenAt.After(now.Add(clockSkew)):
		e.Problem = fmt.Sprintf("it is dated %s, in the future", m.TakenAt.Format(time.RFC3339))
	case m.Verification.At.After(now.Add(clockSkew)):
		e.Problem = fmt.Sprintf("its verification is dated %s, in the future", m.Verification.At.Format(time.RFC3339))
	case m.Kind == KindBackup && m.Part(PartSynapseDB) == nil:
		e.Problem = "it has no dump of Synapse's database"
	default:
		for _, p := range m.Parts {
			if err := c.checkPart(ctx, dir, p); err != nil {
				e.Problem = err.Error()
				return e
			}
		}
		e.State = m.Verification.State
		if e.State == Failed {
			e.Problem = "its restore test failed: " + m.Verification.Error
		}
		if e.State != Passed && e.State != Failed {
			e.State = Never
		}
	}
	return e
}

// checkPart checks one file of an entry.
func (c *Catalog) checkPart(ctx context.Context, dir string, p Part) error {
	if p.File == "" || p.File != filepath.Base(p.File) || p.File == "." || p.File == ".." || p.File == ManifestName {
		return fmt.Errorf("its manifest names %q, which is not a file inside the entry", p.File)
	}
	path := filepath.Join(dir, p.File)
	st, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("%s is missing: %v", p.File, errors.Unwrap(err))
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (a link or a directory): refusing to follow it", p.File)
	}
	if st.Size() != p.Size {
		return fmt.Errorf("%s is %d bytes, the manifest says %d: it changed since the backup", p.File, st.Size(), p.Size)
	}
	sum, err := c.checksum(ctx, path, st)
	if err != nil {
		return err
	}
	if sum != p.SHA256 {
		return fmt.Errorf("%s does not match its checksum (sha256 %s…, manifest %s…): it changed since the backup", p.File, sum[:12], short(p.SHA256))
	}
	return nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// fileStamp identifies a file's content without reading it: a write moves
// its ctime, which no user can set back.
type fileStamp struct {
	path         string
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func stampOf(path string, st fs.FileInfo) (fileStamp, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStamp{}, false
	}
	return fileStamp{path: path, dev: uint64(sys.Dev), ino: sys.Ino, size: st.Size(),
		mtime: st.ModTime().UnixNano(), ctime: sys.Ctim.Nano()}, true
}

// checksum is path's SHA-256, read once per content for the life of the
// catalog (the health check asks every few seconds).
func (c *Catalog) checksum(ctx context.Context, path string, st fs.FileInfo) (string, error) {
	stamp, ok := stampOf(path, st)
	if ok {
		c.mu.Lock()
		sum, hit := c.sums[stamp]
		c.mu.Unlock()
		if hit {
			return sum, nil
		}
	}
	sum, err := fileSHA256(ctx, path)
	if err != nil {
		return "", err
	}
	if ok {
		c.mu.Lock()
		if c.sums == nil {
			c.sums = map[fileStamp]string{}
		}
		c.sums[stamp] = sum
		c.mu.Unlock()
	}
	return sum, nil
}

func fileSHA256(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("checksum %s: %w", filepath.Base(path), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a long read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
