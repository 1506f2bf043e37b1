package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"golang.org/x/sys/unix"
)

// BenchmarkConsoleIdleCPU runs the real console in tmux against the real
// Synapse for 60 s with the Health pane open and the default 2 s refresh,
// reports the CPU it used as a percentage of one core, and prints the top of
// a CPU profile of that minute (SYNOPS_CPUPROFILE). It measures once,
// whatever b.N is.
func BenchmarkConsoleIdleCPU(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "synops")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	dir := b.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	prof := filepath.Join(dir, "idle.prof")
	session := fmt.Sprintf("synops-bench-%d", os.Getpid())
	args := []string{"new-session", "-d", "-s", session, "-x", "160", "-y", "48",
		"env", "SYNOPS_CONFIG=" + cfg, "HOME=" + dir, "XDG_STATE_HOME=" + dir, "SYNOPS_CPUPROFILE=" + prof, "TERM=xterm-256color", bin}
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		b.Fatalf("tmux: %v\n%s", err, out)
	}
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	pidOut, err := exec.Command("tmux", "display", "-p", "-t", session, "#{pane_pid}").Output()
	if err != nil {
		b.Fatal(err)
	}
	pid := strings.TrimSpace(string(pidOut))
	time.Sleep(3 * time.Second) // past start-up
	b.ResetTimer()
	start, t0 := cpuTicks(b, pid), time.Now()
	time.Sleep(60 * time.Second)
	used, wall := cpuTicks(b, pid)-start, time.Since(t0)
	b.StopTimer()
	const hz = 100 // USER_HZ on Linux
	pct := float64(used) / hz / wall.Seconds() * 100
	b.ReportMetric(pct, "cpu%/idle-60s")
	b.Logf("RESULT idle console: %.2f%% of one core over %s (Health pane, 2 s refresh, 160x48)", pct, wall.Round(time.Second))
	// q writes the profile; its top entries say where the time went.
	_ = exec.Command("tmux", "send-keys", "-t", session, "q").Run()
	for i := 0; i < 50; i++ {
		if _, err := os.Stat("/proc/" + pid); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=12", bin, prof).CombinedOutput()
	if err != nil {
		b.Logf("pprof: %v\n%s", err, top)
		return
	}
	benchText("CPU profile of the idle minute (all of synops' own time):", string(top))
}

// benchText prints a table or profile of a benchmark in full: what a
// benchmark logs is cut after ten lines.
func benchText(title, body string) {
	fmt.Println("    " + title)
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		fmt.Println("        " + line)
	}
}

// cpuTicks is utime+stime of pid from /proc/<pid>/stat.
func cpuTicks(b *testing.B, pid string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

// BenchmarkConsoleFirstFrame starts the real console on a pseudo-terminal and
// times exec to the first frame on the terminal (its tab bar), with Synapse
// answering and with the homeserver and databases pointing at a port where
// nothing answers: the first frame must not wait on the network. It reports
// the median of 10 starts of each.
func BenchmarkConsoleFirstFrame(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "synops")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	dir := b.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	// A listener that accepts and never answers: the worst kind of down.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	silent := "http://" + l.Addr().String()
	dsn := "postgres://synapse@" + l.Addr().String() + "/synapse?sslmode=disable"
	b.ResetTimer()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"synapse-up", nil},
		{"all-silent", []string{"--homeserver-url", silent, "--synapse-db-dsn", dsn, "--app-db-dsn", dsn}},
	} {
		var times []time.Duration
		for i := 0; i < 10; i++ {
			env := []string{"SYNOPS_CONFIG=" + cfg, "HOME=" + dir, "XDG_STATE_HOME=" + dir, "TERM=xterm-256color", "PATH=" + os.Getenv("PATH")}
			times = append(times, firstFrame(b, bin, env, c.args))
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		med := times[len(times)/2]
		b.ReportMetric(float64(med.Microseconds())/1000, "ms/first-frame-"+c.name)
		b.Logf("RESULT first frame, %s: median %s (min %s, max %s)", c.name, med.Round(time.Millisecond), times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	}
	b.StopTimer()
}

// firstFrame runs bin on a new pty and returns the time from start until its
// output holds the tab bar.
func firstFrame(b *testing.B, bin string, env, args []string) time.Duration {
	master, slave := openPTY(b, 160, 48)
	defer master.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	slave.Close()
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var seen []byte
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = master.SetReadDeadline(deadline)
		n, err := master.Read(buf)
		seen = append(seen, buf[:n]...)
		if strings.Contains(ansi.Strip(string(seen)), "1 Health") {
			return time.Since(start)
		}
		if err != nil {
			break
		}
	}
	b.Fatalf("no first frame within 10 s; the terminal got:\n%q", seen)
	return 0
}

// openPTY opens a pseudo-terminal pair of cols×rows.
func openPTY(b *testing.B, cols, rows uint16) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		b.Fatal(err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		b.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		b.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		b.Fatal(err)
	}
	return m, s
}
