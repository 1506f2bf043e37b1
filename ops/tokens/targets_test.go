package tokens

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"synops/synapse"
)

func TestSetEnvValue(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"replaces, keeps the rest", "A=1\nMATRIX_ADMIN_TOKEN=old\nB=2\n", "A=1\nMATRIX_ADMIN_TOKEN=new\nB=2\n"},
		{"keeps export and double quotes", "export MATRIX_ADMIN_TOKEN=\"old\"\n", "export MATRIX_ADMIN_TOKEN=\"new\"\n"},
		{"keeps single quotes and spacing", "MATRIX_ADMIN_TOKEN = 'old'\n", "MATRIX_ADMIN_TOKEN = 'new'\n"},
		{"keeps CRLF", "A=1\r\nMATRIX_ADMIN_TOKEN=old\r\n", "A=1\r\nMATRIX_ADMIN_TOKEN=new\r\n"},
		{"every assignment", "MATRIX_ADMIN_TOKEN=a\nX=1\nMATRIX_ADMIN_TOKEN=b\n", "MATRIX_ADMIN_TOKEN=new\nX=1\nMATRIX_ADMIN_TOKEN=new\n"},
		{"adds when missing", "A=1\n", "A=1\nMATRIX_ADMIN_TOKEN=new\n"},
		{"adds after a last line without newline", "A=1", "A=1\nMATRIX_ADMIN_TOKEN=new\n"},
		{"empty file", "", "MATRIX_ADMIN_TOKEN=new\n"},
		{"leaves a commented line and a longer name", "# MATRIX_ADMIN_TOKEN=x\nMATRIX_ADMIN_TOKEN_OLD=y\n", "# MATRIX_ADMIN_TOKEN=x\nMATRIX_ADMIN_TOKEN_OLD=y\nMATRIX_ADMIN_TOKEN=new\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(setEnvValue([]byte(tt.in), "MATRIX_ADMIN_TOKEN", "new")); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if v, ok := envValue([]byte(tt.want), "MATRIX_ADMIN_TOKEN"); !ok || v != "new" {
				t.Errorf("envValue of the result = %q %v, want new", v, ok)
			}
		})
	}
}

// TestWriteKeepsOwnerAndCapsMode writes over a file of another user, mode
// 0644: it keeps its owner, becomes 0600, and a rollback gives back the
// content and the mode it had.
func TestWriteKeepsOwnerAndCapsMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	write(t, p, "old-token-0000000000\n", 0o644)
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 65534, 65534 // nobody: root can hand the file over, and must keep it so
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	tg := Target{Kind: KindFile, Path: p}
	w, err := tg.writeFile(synapse.NewSecret("new-token-1111111111"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st := mustStat(t, p).Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("owner %d:%d after the write, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
	if mode := mustStat(t, p).Mode().Perm(); mode != 0o600 {
		t.Errorf("mode %04o, want 0600", mode)
	}
	if got := read(t, p); got != "new-token-1111111111\n" {
		t.Errorf("content %q", got)
	}
	if err := w.restoreFile(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, p); got != "old-token-0000000000\n" {
		t.Errorf("restored content %q", got)
	}
	if mode := mustStat(t, p).Mode().Perm(); mode != 0o644 {
		t.Errorf("restored mode %04o, want 0644 back", mode)
	}
	if st := mustStat(t, p).Sys().(*syscall.Stat_t); int(st.Uid) != uid {
		t.Errorf("restored owner %d, want %d", st.Uid, uid)
	}
	if _, err := os.Stat(w.Backup); !os.IsNotExist(err) {
		t.Errorf("the backup %s is still there after the restore", w.Backup)
	}
}

// TestWriteNewFile: a target that does not exist is created 0600, and a
// rollback removes it.
func TestWriteNewFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	w, err := Target{Kind: KindEnv, Path: p, EnvVar: "TOK"}.writeFile(synapse.NewSecret("abc"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !w.Created || w.Backup != "" {
		t.Errorf("written target %+v, want Created and no backup", w)
	}
	if got := read(t, p); got != "TOK=abc\n" {
		t.Errorf("content %q", got)
	}
	if mode := mustStat(t, p).Mode().Perm(); mode != 0o600 {
		t.Errorf("mode %04o", mode)
	}
	if err := w.restoreFile(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("%s still exists after the rollback", p)
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "MATRIX_ADMIN_TOKEN=old", "PGPASSWORD=pw", "SYNOPS_APP_DB_DSN=x", "APP_TOKEN=stale"}, map[string]string{"APP_TOKEN": "new"})
	want := map[string]bool{"PATH=/bin": true, "APP_TOKEN=new": true}
	if len(got) != len(want) {
		t.Fatalf("childEnv = %v, want %v", got, want)
	}
	for _, kv := range got {
		if !want[kv] {
			t.Errorf("childEnv has %q", kv)
		}
	}
}
