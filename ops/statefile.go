package ops

import (
	"os"
	"path/filepath"

	"synops/ops/safefile"
)

// WriteFileAtomic writes one of synops' state files (the journals, the
// rotation history, the acknowledgements): mode 0600 in a 0700 directory,
// atomically (safefile.WriteFile), so a crash leaves the old file or the new
// one, never half of one.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return safefile.WriteFile(path, data, 0o600)
}
