package main

import "path/filepath"

// backupKeyFile is the key that signs backup manifests, in synops' state
// directory beside the audit log: a file dropped into the backup directory
// cannot make itself count.
func backupKeyFile(stateDir string) string { return filepath.Join(stateDir, "backup.key") }
