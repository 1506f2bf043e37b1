package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops"
)

// planted is an entry written the way an attacker (or a careless hand)
// would: any manifest, signed with the given key or not at all.
type planted struct {
	id      string
	file    string // the part's file name in the manifest
	content string // what is written to that file inside the entry ("" : nothing)
	sum     string // the manifest's checksum ("" : the content's real one)
	taken   time.Time
	checked time.Time // the verification's time; zero: a minute after taken
	state   string
	kind    string
	sign    key
}

func plant(t *testing.T, c *Catalog, p planted) {
	t.Helper()
	dir := filepath.Join(c.Dir, p.id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if p.content != "" {
		// Where the name leads, even out of the entry: a check that followed
		// it would find the right checksum there.
		if err := os.WriteFile(filepath.Join(dir, p.file), []byte(p.content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sum := p.sum
	if sum == "" {
		h := sha256.Sum256([]byte(p.content))
		sum = hex.EncodeToString(h[:])
	}
	if p.kind == "" {
		p.kind = KindBackup
	}
	if p.checked.IsZero() {
		p.checked = p.taken.Add(time.Minute)
	}
	m := Manifest{Format: manifestFormat, ID: p.id, Kind: p.kind, Server: "example.org", TakenAt: p.taken,
		Parts:        []Part{{Name: PartSynapseDB, File: p.file, Format: FormatCustomZstd, Size: int64(len(p.content)), SHA256: sum}},
		Verification: Verification{State: p.state, At: p.checked}}
	if p.sign != nil {
		p.sign.sign(&m)
	}
	data, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, ManifestName), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func testCatalog(t *testing.T) (*Catalog, key) {
	t.Helper()
	dir := t.TempDir()
	c := NewCatalog(filepath.Join(dir, "backups"), filepath.Join(dir, "state", "backup.key"))
	k, err := loadKey(c.KeyFile, true)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// A manifest opens the gate only when synops signed it, its file lies in
// the entry and matches its checksum now, and its dates are not in the
// future. Each forgery below breaks exactly one of these; the first is the
// issue's own example.
func TestForgedManifestsDoNotOpenTheGate(t *testing.T) {
	now := time.Now()
	other := key(strings.Repeat("k", 32))
	tests := []struct {
		name    string
		p       planted
		link    string // make p.file a symlink to this path
		problem string
	}{
		{"hand-written: dated 2099, ../../etc/hostname, made-up checksum, unsigned",
			planted{file: "../../etc/hostname", sum: strings.Repeat("ab", 32), taken: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), state: Passed},
			"", "not signed"},
		{"signed elsewhere", planted{file: "db.zst", content: "dump", taken: now.Add(-time.Hour), state: Passed, sign: other}, "", "not signed"},
		{"file outside the directory", planted{file: "../../outside.zst", content: "dump", taken: now.Add(-time.Hour), state: Passed}, "", "not a file inside the entry"},
		{"symlink out of the directory", planted{file: "db.zst", content: "", sum: "", taken: now.Add(-time.Hour), state: Passed}, "/etc/hostname", "not a regular file"},
		{"wrong checksum", planted{file: "db.zst", content: "dump", sum: strings.Repeat("00", 32), taken: now.Add(-time.Hour), state: Passed}, "", "does not match its checksum"},
		{"future date", planted{file: "db.zst", content: "dump", taken: now.Add(24 * time.Hour), checked: now, state: Passed}, "", "dated " + now.Add(24*time.Hour).Format(time.RFC3339)},
		{"future verification", planted{file: "db.zst", content: "dump", taken: now.Add(-time.Hour), checked: now.Add(time.Hour), state: Passed}, "", "verification is dated"},
		{"never verified", planted{file: "db.zst", content: "dump", taken: now.Add(-time.Hour), state: Never}, "", ""},
		{"failed verification", planted{file: "db.zst", content: "dump", taken: now.Add(-time.Hour), state: Failed}, "", "restore test failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k := testCatalog(t)
			tt.p.id = newID(now.Add(-time.Hour))
			if tt.p.sign == nil && !strings.HasPrefix(tt.name, "hand-written") {
				tt.p.sign = k // the signature holds: the other check must refuse it alone
			}
			if tt.link != "" {
				content, _ := os.ReadFile(tt.link)
				tt.p.content = ""
				h := sha256.Sum256(content)
				tt.p.sum = hex.EncodeToString(h[:])
				plant(t, c, tt.p)
				if err := os.Symlink(tt.link, filepath.Join(c.Dir, tt.p.id, tt.p.file)); err != nil {
					t.Fatal(err)
				}
				rewriteSize(t, c, k, tt.p.id, int64(len(content)))
			} else {
				plant(t, c, tt.p)
			}
			ctx := ctxT(t, time.Minute)
			at, id, err := c.NewestVerified(ctx)
			if err != nil || id != "" || !at.IsZero() {
				t.Errorf("NewestVerified = %v %q %v, want none", at, id, err)
			}
			g := &ops.Guard{Backups: c, FreshWithin: 1000 * time.Hour}
			if ok, note := g.BackupState(ctx, &ops.Plan{LosesData: true}); ok {
				t.Errorf("the gate opened: %s", note)
			}
			list, err := c.List(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("List = %v, %v", list, err)
			}
			if !strings.Contains(list[0].Problem, tt.problem) {
				t.Errorf("problem %q, want it to say %q", list[0].Problem, tt.problem)
			}
			if list[0].Verified() || list[0].Mark() == "✓" {
				t.Errorf("listed as verified: %+v", list[0])
			}
		})
	}
	// The same harness with nothing forged opens the gate: the refusals
	// above come from the checks, not from the harness.
	c, k := testCatalog(t)
	id := newID(now.Add(-time.Hour))
	plant(t, c, planted{id: id, file: "db.zst", content: "dump", taken: now.Add(-time.Hour), state: Passed, sign: k})
	if _, got, err := c.NewestVerified(ctxT(t, time.Minute)); got != id || err != nil {
		t.Errorf("an honest entry: NewestVerified = %q, %v; want %s", got, err, id)
	}
}

// rewriteSize re-signs an entry's manifest with another part size.
func rewriteSize(t *testing.T, c *Catalog, k key, id string, size int64) {
	t.Helper()
	dir := filepath.Join(c.Dir, id)
	m, err := readManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.Parts[0].Size = size
	k.sign(m)
	data, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, ManifestName), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewestVerifiedSkipsBadEntries(t *testing.T) {
	c, k := testCatalog(t)
	now := time.Now()
	good := newID(now.Add(-3 * time.Hour))
	plant(t, c, planted{id: good, file: "db.zst", content: "older", taken: now.Add(-3 * time.Hour), state: Passed, sign: k})
	plant(t, c, planted{id: newID(now.Add(-2 * time.Hour)), file: "db.zst", content: "failed", taken: now.Add(-2 * time.Hour), state: Failed, sign: k})
	plant(t, c, planted{id: newID(now.Add(-time.Hour)), file: "db.zst", content: "unsigned", taken: now.Add(-time.Hour), state: Passed})
	plant(t, c, planted{id: newID(now.Add(-time.Minute)), kind: KindVolumes, file: "v.zst", content: "volumes", taken: now.Add(-time.Minute), state: Passed, sign: k})
	at, id, err := c.NewestVerified(ctxT(t, time.Minute))
	if err != nil || id != good || !at.Equal(now.Add(-3*time.Hour)) {
		t.Errorf("NewestVerified = %v %q %v, want %s", at, id, err, good)
	}
	sum, err := c.Summary(ctxT(t, time.Minute))
	if err != nil || sum.NewestVerified == nil || sum.NewestVerified.ID != good || sum.Newest == nil || sum.Newest.State != Invalid {
		t.Errorf("Summary = %+v, %v: want newest verified %s and the unsigned one as newest", sum, err, good)
	}
}
