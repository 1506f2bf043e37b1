package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkConsoleIdleCPU runs the real console in tmux against the real
// Synapse for 30 s with the default 2 s refresh and reports the CPU it used,
// as a percentage of one core. It measures once, whatever b.N is.
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
	session := fmt.Sprintf("synops-bench-%d", os.Getpid())
	args := []string{"new-session", "-d", "-s", session, "-x", "160", "-y", "48",
		"-e", "SYNOPS_CONFIG=" + cfg, "-e", "HOME=" + dir, "-e", "XDG_STATE_HOME=" + dir, bin}
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
	time.Sleep(30 * time.Second)
	used, wall := cpuTicks(b, pid)-start, time.Since(t0)
	b.StopTimer()
	const hz = 100 // USER_HZ on Linux
	pct := float64(used) / hz / wall.Seconds() * 100
	b.ReportMetric(pct, "cpu%/idle-30s")
	b.Logf("idle console: %.2f%% of one core over %s (2 s refresh, 160x48)", pct, wall.Round(time.Second))
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
