package backup

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"synops/ops/safefile"
)

// ManifestName is the manifest's file name inside an entry's directory.
const ManifestName = "manifest.json"

// Entry kinds.
const (
	KindBackup     = "backup"      // Synapse's database and files; what the gate counts
	KindPreRestore = "pre-restore" // the safety backup a restore takes first
	KindVolumes    = "volumes"     // the compose project's named volumes
)

// Verification states.
const (
	Never  = "never"  // not restore-tested yet
	Passed = "passed" // a restore test succeeded
	Failed = "failed" // a restore test failed: the backup cannot be trusted
)

// Manifest describes one catalog entry: what was backed up, when, from
// which server and schema, the checksum of every file, the row counts of
// key tables at dump time, and how its restore test went. synops signs it
// with a key only it reads (Catalog.KeyFile), so a manifest written by hand
// or copied in from elsewhere is not taken for a verified backup.
type Manifest struct {
	Format          int          `json:"format"` // manifestFormat
	ID              string       `json:"id"`     // the entry's directory name
	Kind            string       `json:"kind"`
	Server          string       `json:"server"`
	TakenAt         time.Time    `json:"taken_at"`    // the snapshot's time
	FinishedAt      time.Time    `json:"finished_at"` // when the last file was written
	SchemaVersion   int          `json:"schema_version,omitempty"`
	SchemaCompat    int          `json:"schema_compat_version,omitempty"`
	PostgresVersion string       `json:"postgres_version,omitempty"`
	Parts           []Part       `json:"parts"`
	Verification    Verification `json:"verification"`
	Signature       string       `json:"signature"` // HMAC-SHA256 of the manifest without it
}

const manifestFormat = 1

// Part is one file of an entry.
type Part struct {
	Name   string `json:"name"`   // PartSynapseDB, PartAppDB, PartConfig, PartMedia, "volume:<name>"
	File   string `json:"file"`   // inside the entry's directory
	Format string `json:"format"` // FormatCustomZstd, FormatSQLGzip, FormatTarZstd
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Databases: the database dumped, the exact row counts of key tables in
	// the dump's snapshot, and the tables whose data was left out.
	Database     string           `json:"database,omitempty"`
	Rows         map[string]int64 `json:"rows,omitempty"`
	DataExcluded []string         `json:"data_excluded,omitempty"`
	// Archives: what went in.
	Paths []string `json:"paths,omitempty"` // config: the files kept; media, volumes: the directories
	Files int      `json:"files,omitempty"`
	Bytes int64    `json:"bytes,omitempty"` // before compression
}

// Part names and formats.
const (
	PartSynapseDB = "synapse-db"
	PartAppDB     = "app-db"
	PartConfig    = "config"
	PartMedia     = "media"

	FormatCustomZstd = "pg_dump-custom+zstd" // pg_dump -Fc -Z0, compressed by synops
	FormatSQLGzip    = "pg_dump-plain+gzip"  // seed 004's pg_dump | gzip
	FormatTarZstd    = "tar+zstd"
)

// Verification is how the entry's restore test went.
type Verification struct {
	State   string    `json:"state"` // Never, Passed, Failed
	At      time.Time `json:"at,omitzero"`
	Seconds float64   `json:"seconds,omitempty"`
	Error   string    `json:"error,omitempty"`
	Checked []string  `json:"checked,omitempty"` // what the test compared
}

// Part returns the part called name, or nil.
func (m *Manifest) Part(name string) *Part {
	for i := range m.Parts {
		if m.Parts[i].Name == name {
			return &m.Parts[i]
		}
	}
	return nil
}

// Size is the bytes of all parts.
func (m *Manifest) Size() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$`)

// newID names an entry by its time, sortable, with a random suffix so two
// backups in one second do not collide.
func newID(t time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// ValidID reports whether id names a catalog entry (and nothing else: no
// path separators, no dots).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// key is the secret that signs manifests.
type key []byte

// loadKey reads the signing key, creating it (0600) when create is set and
// it does not exist. A missing key without create is not an error: every
// manifest then reads as unsigned.
func loadKey(path string, create bool) (key, error) {
	if path == "" {
		return nil, errors.New("no key file for backup manifests")
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := hex.DecodeString(string(trimNL(data)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("backup manifest key %s is damaged: move it away; every backup then needs a new verification", path)
		}
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("backup manifest key %s is readable by other users: chmod 600 %s", path, path)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read backup manifest key: %w", err)
	case !create:
		return nil, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create backup manifest key: %w", err)
	}
	if err := safefile.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("create backup manifest key: %w", err)
	}
	return k, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (k key) sum(m Manifest) string {
	m.Signature = ""
	data, _ := json.Marshal(m)
	h := hmac.New(sha256.New, k)
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func (k key) sign(m *Manifest) { m.Signature = k.sum(*m) }

func (k key) valid(m Manifest) bool {
	if len(k) == 0 || m.Signature == "" {
		return false
	}
	return hmac.Equal([]byte(m.Signature), []byte(k.sum(m)))
}

// writeManifest signs m and writes it into dir atomically.
func writeManifest(dir string, k key, m *Manifest) error {
	m.Format = manifestFormat
	k.sign(m)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteFile(filepath.Join(dir, ManifestName), append(data, '\n'), 0o600)
}

// readManifest reads dir's manifest without judging it.
func readManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s does not parse: %w", filepath.Join(dir, ManifestName), err)
	}
	return &m, nil
}
