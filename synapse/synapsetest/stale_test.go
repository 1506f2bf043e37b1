package synapsetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestRemoveStaleKeepsLiveOwners: a directory is removed only when neither
// the test process that made it nor its Synapse runs. A test that kills its
// Synapse to restart it must not lose its config to another package's
// start-up meanwhile.
func TestRemoveStaleKeepsLiveOwners(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID, me := strconv.Itoa(dead.Process.Pid), strconv.Itoa(os.Getpid())
	dirs := map[string]map[string]string{ // name: files
		"synops-synapse-owner-alive":   {"homeserver.pid": deadPID}, // its lock is held below
		"synops-synapse-synapse-alive": {"homeserver.pid": me},
		"synops-synapse-all-dead":      {".owner": "", "homeserver.pid": deadPID}, // nobody holds the lock
		"synops-synapse-nothing":       {},
		"synops-synapse-young":         {".owner": ""},
	}
	old := time.Now().Add(-2 * time.Minute)
	for name, files := range dirs {
		d := filepath.Join(tmp, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		for f, content := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if name == "synops-synapse-owner-alive" {
			lock, err := holdLock(d)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lock.Close() })
		}
		if name != "synops-synapse-young" {
			if err := os.Chtimes(d, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeStale()
	for name, keep := range map[string]bool{"synops-synapse-owner-alive": true, "synops-synapse-synapse-alive": true,
		"synops-synapse-all-dead": false, "synops-synapse-nothing": false, "synops-synapse-young": true} {
		_, err := os.Stat(filepath.Join(tmp, name))
		if kept := err == nil; kept != keep {
			t.Errorf("%s: kept %v, want %v", name, kept, keep)
		}
	}
}
