// Package backup knows where synops' backups are and which are verified.
// A backup is verified when a restore test succeeded; that run writes a
// manifest "<name>.verified.json" beside the dump. The destructive operations
// ask the catalog for the newest verified backup before they run.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Manifest is the record of a verified backup.
type Manifest struct {
	File       string    `json:"file"`        // the dump, relative to the backup directory
	SHA256     string    `json:"sha256"`      // of the dump
	TakenAt    time.Time `json:"taken_at"`    // when the dump started
	VerifiedAt time.Time `json:"verified_at"` // when its restore test passed
}

// Catalog reads the manifests in one directory.
type Catalog struct{ Dir string }

// NewestVerified returns when the newest verified backup was taken and its
// file; zero time when there is none. A missing directory means none.
func (c Catalog) NewestVerified(ctx context.Context) (time.Time, string, error) {
	paths, err := filepath.Glob(filepath.Join(c.Dir, "*.verified.json"))
	if err != nil {
		return time.Time{}, "", err
	}
	var best Manifest
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return time.Time{}, "", err
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return time.Time{}, "", fmt.Errorf("backup manifest %s: %w", p, err)
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil || m.File == "" || m.VerifiedAt.IsZero() {
			continue // not a manifest we wrote
		}
		if _, err := os.Stat(filepath.Join(c.Dir, m.File)); err != nil {
			continue // the dump is gone: it covers nothing
		}
		if m.TakenAt.After(best.TakenAt) {
			best = m
		}
	}
	return best.TakenAt, best.File, nil
}
