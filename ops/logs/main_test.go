package logs_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"synops/ops/logs"
	"synops/ops/testbed"
)

var bed *testbed.Bed

// unreadableEnv, when set, makes this test binary a child that only follows
// the file it names and prints the error: see followAsNobody.
const unreadableEnv = "SYNOPS_LOGS_TEST_UNREADABLE"

func TestMain(m *testing.M) {
	if p := os.Getenv(unreadableEnv); p != "" {
		fmt.Print(followUnreadable(p))
		os.Exit(0)
	}
	testbed.Main(m, testbed.Options{}, func(b *testbed.Bed) { bed = b })
}

// followUnreadable follows path and returns the error it got, or a note that
// there was none.
func followUnreadable(path string) string {
	f, err := logs.Follow(context.Background(), logs.Source{File: path}, 10)
	if err != nil {
		return err.Error()
	}
	f.Close()
	return "no error following " + path
}

// followAsNobody runs followUnreadable(path) in a copy of this test binary
// (in dir, which nobody can read) as uid and gid 65534, and returns what it
// printed.
func followAsNobody(t *testing.T, dir, path string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "logs.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{unreadableEnv + "=" + path, "PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child as nobody: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}
