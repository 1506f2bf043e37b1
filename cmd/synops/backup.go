package main

import (
	"path/filepath"

	"synops/ops/audit"
	"synops/ops/backup"
	"synops/ops/config"
)

// backupKeyFile is the key that signs backup manifests, in synops' state
// directory beside the audit log: a file dropped into the backup directory
// cannot make itself count.
func backupKeyFile(stateDir string) string { return filepath.Join(stateDir, "backup.key") }

// backupCatalog is the profile's backup catalog. Without a state
// directory there is no key, and nothing counts as verified.
func backupCatalog(r *config.Resolved, getenv env) *backup.Catalog {
	key := ""
	if dir, err := audit.StateDir(getenv); err == nil {
		key = backupKeyFile(dir)
	}
	return backup.NewCatalog(r.Backup.Dir, key)
}
