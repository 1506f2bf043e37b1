package reset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"synops/ops/safefile"
)

func fileOwner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return os.Geteuid(), os.Getegid()
}

// ownerName is "matrix-synapse:matrix-synapse (112:118)", or the numbers
// alone when the names are unknown here.
func ownerName(uid, gid int) string {
	ids := strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
	u, err1 := user.LookupId(strconv.Itoa(uid))
	g, err2 := user.LookupGroupId(strconv.Itoa(gid))
	if err1 != nil || err2 != nil {
		return ids
	}
	return u.Username + ":" + g.Name + " (" + ids + ")"
}

// safeMediaPath refuses paths whose emptying would take more than a media
// store with it: relative paths, the root, and the directories the system
// and its users live in.
func safeMediaPath(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("media store %q is not an absolute path", p)
	}
	clean := filepath.Clean(p)
	home, _ := os.UserHomeDir()
	for _, bad := range []string{"/", "/var", "/var/lib", "/srv", "/opt", "/home", "/root", "/etc", "/usr", "/tmp", "/data", home} {
		if bad != "" && clean == filepath.Clean(bad) {
			return fmt.Errorf("media store %s: refusing to empty %s", p, clean)
		}
	}
	if strings.Count(clean, "/") < 2 {
		return fmt.Errorf("media store %s is too close to / to empty safely: give its own directory", p)
	}
	return nil
}

// emptyMedia empties the media store and leaves it as the reset found it:
// a directory with its owner and mode, holding nothing. It removes what is
// inside rather than the directory itself, so a media store that is a
// mount point or a symbolic link to another disk stays one. It returns how
// many entries it removed.
func emptyMedia(m *Media, say func(string)) (int, error) {
	if err := safeMediaPath(m.Path); err != nil {
		return 0, err
	}
	entries, err := os.ReadDir(m.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		say("mkdir -p " + m.Path)
		if err := os.MkdirAll(m.Path, m.Mode.Perm()|0o700); err != nil {
			return 0, fmt.Errorf("create the media store: %w", err)
		}
	case err != nil:
		return 0, fmt.Errorf("read the media store: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(m.Path, e.Name())
		say("rm -rf " + p)
		if err := os.RemoveAll(p); err != nil {
			return 0, fmt.Errorf("empty the media store: %w", err)
		}
	}
	if err := os.Chmod(m.Path, m.Mode.Perm()); err != nil {
		return len(entries), fmt.Errorf("media store mode: %w", err)
	}
	if err := os.Lchown(m.Path, m.UID, m.GID); err != nil {
		return len(entries), fmt.Errorf("give the media store back to %s: %w", ownerName(m.UID, m.GID), err)
	}
	return len(entries), safefile.SyncDir(m.Path)
}

// checkMedia says whether the media store is empty and as it was.
func checkMedia(m *Media) (string, error) {
	fi, err := os.Stat(m.Path)
	if err != nil {
		return "", fmt.Errorf("media store: %w", err)
	}
	entries, err := os.ReadDir(m.Path)
	if err != nil {
		return "", fmt.Errorf("media store: %w", err)
	}
	uid, gid := fileOwner(fi)
	switch {
	case len(entries) > 0:
		return "", fmt.Errorf("media store %s still holds %d entries", m.Path, len(entries))
	case uid != m.UID || gid != m.GID:
		return "", fmt.Errorf("media store %s belongs to %s, not %s", m.Path, ownerName(uid, gid), ownerName(m.UID, m.GID))
	case fi.Mode().Perm() != m.Mode.Perm():
		return "", fmt.Errorf("media store %s has mode %04o, not %04o", m.Path, fi.Mode().Perm(), m.Mode.Perm())
	}
	return fmt.Sprintf("media store %s is empty, %s, %04o", m.Path, ownerName(uid, gid), fi.Mode().Perm()), nil
}
