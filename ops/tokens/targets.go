package tokens

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"synops/ops/safefile"
	"syscall"
	"time"

	"synops/ops/config"
	"synops/synapse"
)

// Target is one place the admin token is written, as a plan shows it and a
// rotation records it. It never holds a token: Holds is a hint (syt_…a1b2).
type Target struct {
	Kind    string   `json:"kind"` // "file", "env" or "command"
	Path    string   `json:"path,omitempty"`
	EnvVar  string   `json:"env_var,omitempty"`
	Command []string `json:"command,omitempty"`
	// Own marks synops' own token file (token.file).
	Own bool `json:"own,omitempty"`
	// Holds is the hint of the token the target held when planned; "" when
	// the file did not exist or holds none; "?" for a command.
	Holds string `json:"holds,omitempty"`
	// Backup is where the previous file was kept when the target was
	// written; Created says there was no previous file. Written says the
	// target was written (a command ran): a rollback puts it back.
	Backup  string `json:"backup,omitempty"`
	Created bool   `json:"created,omitempty"`
	Written bool   `json:"written,omitempty"`
	// Mode is the file's mode before it was written, which a rollback
	// gives back (the written file has at most 0600).
	Mode fs.FileMode `json:"mode,omitempty"`
}

// Target kinds.
const (
	KindFile    = "file"
	KindEnv     = "env"
	KindCommand = "command"
)

func (t Target) String() string {
	switch t.Kind {
	case KindCommand:
		s := "command " + t.Command[0]
		if len(t.Command) > 1 {
			s += " …"
		}
		return s + " (token on stdin)"
	case KindEnv:
		return "env file " + t.Path + " (" + t.EnvVar + ")"
	}
	if t.Own {
		return "file " + t.Path + " (synops' own token file)"
	}
	return "file " + t.Path
}

// targets lists where the token goes: synops' own token file first, then
// the configured ones (a configured file that is synops' own is not listed twice).
func targets(own config.TokenSource, cfg []config.TokenTarget) []Target {
	var out []Target
	if own.File != "" {
		out = append(out, Target{Kind: KindFile, Path: filepath.Clean(own.File), Own: true})
	}
	for _, c := range cfg {
		switch {
		case len(c.Command) > 0:
			out = append(out, Target{Kind: KindCommand, Command: append([]string(nil), c.Command...)})
		case c.EnvVar != "":
			out = append(out, Target{Kind: KindEnv, Path: c.File, EnvVar: c.EnvVar})
		case own.File != "" && filepath.Clean(c.File) == filepath.Clean(own.File):
		default:
			out = append(out, Target{Kind: KindFile, Path: c.File})
		}
	}
	return out
}

// read returns the token a file target holds now; zero when the file does
// not exist or (an env file) has no line for the variable.
func (t Target) read() (synapse.Secret, error) {
	if t.Kind == KindCommand {
		return synapse.Secret{}, nil
	}
	data, err := os.ReadFile(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return synapse.Secret{}, nil
	}
	if err != nil {
		return synapse.Secret{}, fmt.Errorf("read %s: %w", t.Path, err)
	}
	if t.Kind == KindEnv {
		v, _ := envValue(data, t.EnvVar)
		return synapse.NewSecret(v), nil
	}
	return synapse.NewSecret(strings.TrimSpace(string(data))), nil
}

// writable says why a file target cannot be written, or nil. The directory
// must take a new file (the write is a rename), and a file owned by someone
// else must keep its owner, which only root can arrange.
func (t Target) writable() error {
	if t.Kind == KindCommand {
		return nil
	}
	dir := filepath.Dir(t.Path)
	const wOK, xOK = 2, 1 // access(2)'s W_OK and X_OK
	if err := syscall.Access(dir, wOK|xOK); err != nil {
		return fmt.Errorf("%s: cannot create files in %s: %w", t.Path, dir, err)
	}
	fi, err := os.Stat(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", t.Path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() && os.Geteuid() != 0 {
		return fmt.Errorf("%s belongs to uid %d: synops (uid %d) could write it only by changing its owner; run synops as root or as that user", t.Path, st.Uid, os.Geteuid())
	}
	return nil
}

// backupName is where the previous content of path is kept.
func backupName(path string, now time.Time) string {
	return path + ".synops-bak-" + now.UTC().Format("20060102T150405Z")
}

// freeBackupName is backupName, or with a -2, -3… suffix when a backup of
// that second exists: an older backup is never overwritten.
func freeBackupName(path string, now time.Time) string {
	name := backupName(path, now)
	for n := 2; ; n++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", backupName(path, now), n)
	}
}

// writeFile replaces a file or env file target's token, keeping the
// previous file as a backup (mode 0600) beside it. It returns the target as
// written (Backup or Created set). The file keeps its owner and its mode, at
// most 0600; a new file is 0600.
func (t Target) writeFile(token synapse.Secret, now time.Time) (Target, error) {
	old, err := os.ReadFile(t.Path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return t, fmt.Errorf("read %s: %w", t.Path, err)
	}
	owner := fileOwner{mode: 0o600, uid: -1, gid: -1}
	if exists {
		fi, err := os.Stat(t.Path)
		if err != nil {
			return t, err
		}
		t.Mode = fi.Mode().Perm()
		if owner, err = ownerOf(t.Path); err != nil {
			return t, err
		}
	}
	var data []byte
	switch t.Kind {
	case KindEnv:
		data = setEnvValue(old, t.EnvVar, token.Reveal())
	default:
		data = []byte(token.Reveal() + "\n")
	}
	if exists {
		t.Backup = freeBackupName(t.Path, now)
		if err := atomicWrite(t.Backup, old, fileOwner{mode: 0o600, uid: -1, gid: -1}); err != nil {
			return t, fmt.Errorf("keep the previous %s: %w", t.Path, err)
		}
	} else {
		t.Created = true
	}
	if err := atomicWrite(t.Path, data, owner); err != nil {
		if t.Backup != "" {
			_ = os.Remove(t.Backup) // the file is untouched: its backup means nothing
		}
		return Target{Kind: t.Kind, Path: t.Path, EnvVar: t.EnvVar, Command: t.Command, Own: t.Own, Holds: t.Holds}, err
	}
	t.Written = true
	return t, nil
}

// restoreFile puts a written file target back as it was: the backup's
// content with the file's owner and mode, or no file when synops created it.
// The backup is removed once the file holds it again.
func (t Target) restoreFile() error {
	if t.Created {
		if err := os.Remove(t.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s (synops created it): %w", t.Path, err)
		}
		return syncDir(filepath.Dir(t.Path))
	}
	old, err := os.ReadFile(t.Backup)
	if err != nil {
		return fmt.Errorf("read the backup of %s: %w", t.Path, err)
	}
	owner := fileOwner{mode: 0o600, uid: -1, gid: -1}
	if o, err := ownerOf(t.Path); err == nil {
		owner = o
	}
	if t.Mode != 0 {
		owner.mode = t.Mode
	}
	if err := atomicWrite(t.Path, old, owner); err != nil {
		return fmt.Errorf("restore %s from %s: %w", t.Path, t.Backup, err)
	}
	if err := os.Remove(t.Backup); err != nil {
		return fmt.Errorf("remove %s: %w", t.Backup, err)
	}
	return syncDir(filepath.Dir(t.Backup))
}

// write puts token in the target: a file or env file atomically, a command
// through its stdin.
func (s *Service) write(ctx context.Context, t Target, at time.Time, token synapse.Secret, others ...synapse.Secret) (Target, error) {
	if t.Kind != KindCommand {
		return t.writeFile(token, at)
	}
	err := s.run(ctx, t.Command, writeTimeout, []byte(token.Reveal()+"\n"), nil, append(others, token)...)
	if err != nil {
		return t, fmt.Errorf("%s: %w", t, err)
	}
	t.Written = true
	return t, nil
}

// restore undoes write: a file from its backup, a command by running it
// again with the old token.
func (s *Service) restore(ctx context.Context, t Target, old synapse.Secret, others ...synapse.Secret) error {
	if !t.Written {
		return nil
	}
	if t.Kind != KindCommand {
		return t.restoreFile()
	}
	if old.IsZero() {
		return fmt.Errorf("%s: the old token is not at hand to give it back", t)
	}
	if err := s.run(ctx, t.Command, writeTimeout, []byte(old.Reveal()+"\n"), nil, append(others, old)...); err != nil {
		return fmt.Errorf("%s with the old token: %w", t, err)
	}
	return nil
}

type fileOwner struct {
	mode     fs.FileMode
	uid, gid int // -1: leave as created
}

// ownerOf is a file's owner and its mode capped at 0600.
func ownerOf(path string) (fileOwner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileOwner{}, err
	}
	o := fileOwner{mode: fi.Mode().Perm() & 0o600, uid: -1, gid: -1}
	if o.mode == 0 {
		o.mode = 0o600
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		o.uid, o.gid = int(st.Uid), int(st.Gid)
	}
	return o, nil
}

// atomicWrite writes data beside path with o's mode and owner, fsyncs it,
// renames it over path and fsyncs the directory: path holds the old content
// or the new, never a mixture, even after a crash.
func atomicWrite(path string, data []byte, o fileOwner) error {
	return safefile.WriteFileOwned(path, data, o.mode, o.uid, o.gid)
}

func syncDir(dir string) error { return safefile.SyncDir(dir) }

// envLine matches an assignment in an env file: an optional "export ", the
// name, "=", and the value with its quotes.
var envLine = regexp.MustCompile(`^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.*)$`)

// envValue is the value of name's last assignment in an env file (quotes
// removed), and whether there is one.
func envValue(data []byte, name string) (string, bool) {
	val, found := "", false
	for _, line := range strings.Split(string(data), "\n") {
		m := envLine.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil || m[2] != name {
			continue
		}
		v := strings.TrimSpace(m[4])
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		val, found = v, true
	}
	return val, found
}

// setEnvValue sets name to value in an env file: every assignment of name
// gets the new value (keeping its "export " and its quotes), every other
// line stays as it was; without one, a line is added at the end.
func setEnvValue(data []byte, name, value string) []byte {
	lines := strings.Split(string(data), "\n")
	found := false
	for i, line := range lines {
		cr := ""
		if strings.HasSuffix(line, "\r") {
			line, cr = strings.TrimSuffix(line, "\r"), "\r"
		}
		m := envLine.FindStringSubmatch(line)
		if m == nil || m[2] != name {
			continue
		}
		v := strings.TrimSpace(m[4])
		quote := ""
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			quote = v[:1]
		}
		lines[i] = m[1] + m[2] + m[3] + quote + value + quote + cr
		found = true
	}
	out := strings.Join(lines, "\n")
	if !found {
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		out += name + "=" + value + "\n"
	}
	return []byte(out)
}

// holds reports whether the file target holds token now.
func (t Target) holds(token synapse.Secret) (bool, error) {
	cur, err := t.read()
	if err != nil {
		return false, err
	}
	return !cur.IsZero() && bytes.Equal([]byte(cur.Reveal()), []byte(token.Reveal())), nil
}
