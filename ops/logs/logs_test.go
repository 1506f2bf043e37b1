package logs_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"synops/ops/config"
	"synops/ops/logs"
	"synops/ops/services/servicestest"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func follow(t *testing.T, src logs.Source, o logs.Options) *logs.Follower {
	t.Helper()
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	f, err := logs.FollowOptions(context.Background(), src, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// waitFor reads lines until one contains want, and returns every line read.
func waitFor(t *testing.T, f *logs.Follower, want ...string) ([]logs.Line, logs.Line) {
	t.Helper()
	ctx := ctxT(t, 15*time.Second)
	var all []logs.Line
	for {
		lines, err := f.Next(ctx, 100)
		all = append(all, lines...)
		for _, l := range lines {
			if containsAll(l.Text, want) {
				return all, l
			}
		}
		if err != nil {
			t.Fatalf("waiting for a line with %q: %v (read %d lines: %q)", want, err, len(all), texts(all))
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func texts(ls []logs.Line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Text
	}
	return out
}

func randID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestFollowSynapseLog follows the real homeserver.log while a request that a
// hostile client could send (escape sequences in its User-Agent, which Synapse
// writes to the access log as they are) reaches the real Synapse.
func TestFollowSynapseLog(t *testing.T) {
	f := follow(t, logs.Source{File: bed.Synapse.LogPath}, logs.Options{Backlog: 5})
	// Synapse keeps writing, so lines logged after the backlog was read may
	// join the first batch: only its presence is checked here (the exact
	// backlog size is TestFileBacklogAndFollow's, on a quiet file).
	first, err := f.Next(ctxT(t, 5*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 {
		t.Error("got no backlog lines from Synapse's log")
	}

	marker := "synops-probe-" + randID()
	u, _ := url.Parse(bed.Synapse.BaseURL)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /_matrix/client/v3/%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: evil\x1b[2J\x1b]0;pwned\x07agent\r\nConnection: close\r\n\r\n", marker, u.Host)
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 404 ") && !strings.Contains(status, " 400 ") {
		t.Fatalf("got status line %q, %v; want a 404 for an unknown path", status, err)
	}

	// The access log line (synapse.access.http) names the path and the agent.
	_, line := waitFor(t, f, marker, "Processed request")
	if line.Level != "INFO" {
		t.Errorf("got level %q for %q, want INFO", line.Level, line.Text)
	}
	if strings.ContainsAny(line.Text, "\x1b\x07") {
		t.Errorf("line %q still carries escape sequences", line.Text)
	}
	if !strings.Contains(line.Text, "evil") || !strings.Contains(line.Text, "agent") {
		t.Errorf("line %q lost the user agent's printable text", line.Text)
	}
	// Synapse wrote the escapes to its file as received: Clean removed them.
	raw, err := os.ReadFile(bed.Synapse.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "evil\x1b[2J") {
		t.Errorf("homeserver.log does not hold the raw escape sequence: the test no longer proves cleaning")
	}
	t.Logf("followed: %s", line.Text)
}

func writeFile(t *testing.T, path, s string, flag int) {
	t.Helper()
	fh, err := os.OpenFile(path, flag|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(s); err != nil {
		t.Fatal(err)
	}
	fh.Close()
}

func appendFile(t *testing.T, path, s string) { writeFile(t, path, s, os.O_APPEND) }

func TestFileBacklogAndFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "homeserver.log")
	var b strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "2025-01-01 00:00:%02d,000 - synapse.x - 1 - INFO - main - line %d\n", i, i)
	}
	appendFile(t, path, b.String())
	f := follow(t, logs.Source{File: path}, logs.Options{Backlog: 3})
	got, err := f.Next(ctxT(t, 5*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !strings.HasSuffix(got[0].Text, "line 18") || !strings.HasSuffix(got[2].Text, "line 20") {
		t.Fatalf("got backlog %q, want lines 18..20", texts(got))
	}
	// A line written in two pieces comes out once, whole.
	appendFile(t, path, "2025-01-01 00:01:00,000 - synapse.y - 2 - WARNING - - half")
	time.Sleep(60 * time.Millisecond)
	appendFile(t, path, " and half\n")
	_, l := waitFor(t, f, "half")
	if l.Text != "2025-01-01 00:01:00,000 - synapse.y - 2 - WARNING - - half and half" || l.Level != "WARNING" {
		t.Errorf("got %+v", l)
	}
}

func TestFileTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "homeserver.log")
	appendFile(t, path, "old 1\nold 2\nold 3\n")
	f := follow(t, logs.Source{File: path}, logs.Options{Backlog: 10})
	waitFor(t, f, "old 3")
	// copytruncate: the same file is emptied and written again from the top.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	appendFile(t, path, "new 1\n")
	all, _ := waitFor(t, f, "new 1")
	if len(all) != 1 {
		t.Errorf("got %q after truncation, want just the new line", texts(all))
	}
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "homeserver.log")
	appendFile(t, path, "before rotation\n")
	f := follow(t, logs.Source{File: path}, logs.Options{Backlog: 10})
	waitFor(t, f, "before rotation")
	// Rotation by rename: the writer finishes the old file (even without a
	// final newline), then a new file appears under the old name.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", "last of the old file\nunterminated")
	time.Sleep(60 * time.Millisecond)
	appendFile(t, path, "first of the new file\nsecond of the new file\n")
	all, _ := waitFor(t, f, "second of the new file")
	want := []string{"last of the old file", "unterminated", "first of the new file", "second of the new file"}
	if strings.Join(texts(all), "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", texts(all), want)
	}
	// And the new file keeps being followed.
	appendFile(t, path, "later\n")
	waitFor(t, f, "later")
}

func TestFileMissingAndUnreadable(t *testing.T) {
	_, err := logs.Follow(context.Background(), logs.Source{File: "/nonexistent/synapse/homeserver.log"}, 10)
	if err == nil || !strings.Contains(err.Error(), "log.file") {
		t.Errorf("got %v, want an error that says to set log.file", err)
	}
	t.Run("permission denied", func(t *testing.T) {
		// A log file only root can read (mode 0600, owned by root when the
		// test runs as root). Root reads any file, so as root the check runs
		// in a child: this test binary again, as nobody (uid 65534), which
		// TestMain sends straight to followUnreadable.
		dir, err := os.MkdirTemp("", "synops-logs-perm-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "homeserver.log")
		writeFile(t, p, "x\n", 0)
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		var got string
		if os.Geteuid() != 0 {
			if err := os.Chmod(p, 0); err != nil {
				t.Fatal(err)
			}
			t.Logf("as uid %d: following a mode 0000 file", os.Geteuid())
			got = followUnreadable(p)
		} else {
			t.Logf("as root: following a root-owned mode 0600 file as nobody (uid 65534) in a child process")
			got = followAsNobody(t, dir, p)
		}
		if !strings.Contains(got, "permission denied") || !strings.Contains(got, "run synops as a user in the group that owns the log") {
			t.Errorf("got %q, want permission denied and the advice", got)
		}
	})
	if _, err := logs.Follow(context.Background(), logs.Source{}, 10); err == nil {
		t.Error("empty source: got no error")
	}
	if _, err := logs.Follow(context.Background(), logs.Source{File: "x", Command: []string{"y"}}, 10); err == nil {
		t.Error("both file and command: got no error")
	}
}

func TestLongLinesAndEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "homeserver.log")
	long := strings.Repeat("é", 3000) // 6000 bytes, cut inside a character
	appendFile(t, path, "a\x1b[31mred\x1b[0m\x1b]0;title\x07 line\n"+long+"\nafter\n")
	f := follow(t, logs.Source{File: path}, logs.Options{Backlog: 10})
	got, err := f.Next(ctxT(t, 5*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d lines %q, want 3", len(got), texts(got))
	}
	if got[0].Text != "ared line" {
		t.Errorf("got %q, want the escapes removed", got[0].Text)
	}
	if len(got[1].Text) > logs.MaxLineBytes+20 || !strings.HasSuffix(got[1].Text, "…[cut]") || strings.ContainsRune(got[1].Text, '\uFFFD') {
		t.Errorf("got a %d-byte long line ending %q, want it cut at %d bytes on a character boundary", len(got[1].Text), got[1].Text[len(got[1].Text)-20:], logs.MaxLineBytes)
	}
	if got[2].Text != "after" {
		t.Errorf("got %q after the long line, want %q", got[2].Text, "after")
	}
}

func TestDroppedWhenReaderLags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "homeserver.log")
	appendFile(t, path, "")
	f := follow(t, logs.Source{File: path}, logs.Options{MaxPending: 10})
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	appendFile(t, path, b.String())
	deadline := time.Now().Add(5 * time.Second)
	for f.Dropped() < 90 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got, err := f.Next(ctxT(t, 5*time.Second), 4)
	if err != nil {
		t.Fatal(err)
	}
	if f.Dropped() != 90 || len(got) != 4 || got[0].Text != "line 91" {
		t.Errorf("got dropped %d and %q, want 90 dropped and lines from 91, 4 at most", f.Dropped(), texts(got))
	}
	rest, _ := f.Next(ctxT(t, 5*time.Second), 0)
	if len(rest) != 6 || rest[5].Text != "line 100" {
		t.Errorf("got %q, want lines 95..100", texts(rest))
	}
}

func TestNextWaitsAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "homeserver.log")
	appendFile(t, path, "")
	f, err := logs.Follow(context.Background(), logs.Source{File: path}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.Next(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
	res := make(chan error, 1)
	go func() { _, err := f.Next(context.Background(), 10); res <- err }()
	time.Sleep(50 * time.Millisecond)
	f.Close()
	select {
	case err := <-res:
		if !errors.Is(err, logs.ErrClosed) {
			t.Errorf("got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next stayed blocked after Close")
	}
	f.Close() // twice is fine
}

// TestCommandSource follows a stub `docker compose logs` that prints lines
// with escape sequences and fails: the lines come out clean, then the error.
func TestCommandSource(t *testing.T) {
	servicestest.Install(t, "docker", `printf 'synapse-1  | 2025-01-01 10:00:00,001 - synapse.app - 1 - INFO - main - started\n'
printf 'synapse-1  | 2025-01-01 10:00:01,002 - synapse.http - 2 - ERROR - GET-1 - \033[31mboom\033[0m\033]0;pwned\007\n'
printf 'no such service: synapse\n' >&2
exit 1`)
	s := config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/dc.yml"}
	src, err := logs.SourceFor(&config.Resolved{Services: s})
	if err != nil {
		t.Fatal(err)
	}
	f := follow(t, src, logs.Options{})
	ctx := ctxT(t, 10*time.Second)
	var got []logs.Line
	var end error
	for end == nil {
		var lines []logs.Line
		lines, end = f.Next(ctx, 0)
		got = append(got, lines...)
	}
	want := []logs.Line{
		{Text: "synapse-1  | 2025-01-01 10:00:00,001 - synapse.app - 1 - INFO - main - started", Level: "INFO"},
		{Text: "synapse-1  | 2025-01-01 10:00:01,002 - synapse.http - 2 - ERROR - GET-1 - boom", Level: "ERROR"},
		{Text: "no such service: synapse"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if errors.Is(end, io.EOF) || !strings.Contains(end.Error(), "exit status 1") {
		t.Errorf("got end %v, want the exit status 1", end)
	}
	if _, err := f.Next(ctx, 0); err == nil || err.Error() != end.Error() {
		t.Errorf("Next after the end: got %v, want the same error", err)
	}
}

func TestCommandCleanExit(t *testing.T) {
	servicestest.Install(t, "journalctl", `echo one; echo two`)
	f := follow(t, logs.Source{Command: []string{"journalctl", "-u", "matrix-synapse"}}, logs.Options{})
	ctx := ctxT(t, 10*time.Second)
	var got []string
	for {
		lines, err := f.Next(ctx, 1)
		got = append(got, texts(lines)...)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("got %v, want io.EOF", err)
			}
			break
		}
	}
	if strings.Join(got, ",") != "one,two" {
		t.Errorf("got %q", got)
	}
}

// TestCloseKillsCommand: Close ends a command that would run forever, its
// children with it, and leaves no goroutine behind.
func TestCloseKillsCommand(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	servicestest.Install(t, "docker", `echo $$ > `+pidFile+`
sleep 600 &
echo $! >> `+pidFile+`
while true; do echo "tick"; sleep 0.05; done`)
	before := runtime.NumGoroutine()
	f, err := logs.Follow(context.Background(), logs.Source{Command: []string{"docker", "compose", "logs", "-f"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, "tick")
	start := time.Now()
	f.Close()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close took %s", took)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(s)
		gone := false
		for i := 0; i < 100 && !gone; i++ {
			gone = syscall.Kill(pid, 0) == syscall.ESRCH || isZombie(pid)
			if !gone {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if !gone {
			t.Errorf("process %d still runs after Close", pid)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("got %d goroutines after Close, had %d before", n, before)
	}
}

// isZombie: a killed grandchild is reparented to init, which may reap it late.
func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestSourceFor(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "homeserver.log")
	appendFile(t, existing, "")
	compose := config.Services{Kind: config.ServicesCompose, ComposeProject: "matrix"}
	composeCmd := []string{"docker", "compose", "-p", "matrix", "logs", "-f", "--no-color", "--tail", strconv.Itoa(logs.DefaultBacklog), "synapse"}
	tests := []struct {
		name    string
		r       config.Resolved
		want    logs.Source
		wantErr string
	}{
		{"file here", config.Resolved{LogFile: existing, Services: compose}, logs.Source{File: existing}, ""},
		{"file inside a container, compose", config.Resolved{LogFile: "/data/homeserver.log", Services: compose}, logs.Source{Command: composeCmd}, ""},
		{"file missing, no service manager", config.Resolved{LogFile: "/data/homeserver.log"}, logs.Source{File: "/data/homeserver.log"}, ""},
		{"systemd", config.Resolved{Services: config.Services{Kind: config.ServicesSystemd}},
			logs.Source{Command: []string{"journalctl", "-f", "-u", "matrix-synapse", "-n", strconv.Itoa(logs.DefaultBacklog), "-o", "short-iso", "--no-pager"}}, ""},
		{"nothing", config.Resolved{Services: config.Services{Kind: config.ServicesCustom}}, logs.Source{}, "set log.file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logs.SourceFor(&tt.r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) || got.File != tt.want.File {
				t.Errorf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}
