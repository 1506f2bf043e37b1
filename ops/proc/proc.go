// Package proc is the one place synops starts child processes from: docker,
// journalctl and systemctl for ops/services, the token command for
// ops/config. It builds their environment, so that no child sees a secret
// synops holds unless the configuration asks for it by name, and it puts
// each child in a process group of its own that cancelling kills whole.
package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Hidden reports whether a child must not see the environment variable name
// unless its command asks for it: the admin token's default variable,
// libpq's password, and every SYNOPS_* variable (they configure synops, and
// the DSN ones can carry a database password).
func Hidden(name string) bool {
	return name == "MATRIX_ADMIN_TOKEN" || name == "PGPASSWORD" || strings.HasPrefix(name, "SYNOPS_")
}

// Env is environ without the variables Hidden names, except those in pass,
// which a configured command asked for explicitly.
func Env(environ, pass []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if Hidden(name) && !slices.Contains(pass, name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Options shape a child.
type Options struct {
	// Environ is the environment to start from; nil means synops' own.
	// Either way the hidden variables are taken out (see Env).
	Environ []string
	// Pass names hidden variables this child is meant to see.
	Pass []string
	// KeepGroup leaves the child in synops' process group, for a command
	// that may ask on the terminal (pass and its pinentry): a process group
	// of its own would be a background one, stopped by the terminal when it
	// reads. Cancelling then kills the child only.
	KeepGroup bool
	// WaitDelay bounds how long Wait waits for the child's output pipes
	// after it exits or is killed (default 2s): a grandchild holding them
	// must not hang synops.
	WaitDelay time.Duration
}

// Command builds the command for argv, run without a shell: environment as
// Env says, and (unless KeepGroup) in a process group of its own that
// cancelling ctx kills whole (docker compose plugins, a shell wrapper's
// sleep), so none keeps our pipes open.
func Command(ctx context.Context, argv []string, o Options) (*exec.Cmd, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("run: empty command")
	}
	environ := o.Environ
	if environ == nil {
		environ = os.Environ()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = Env(environ, o.Pass)
	if !o.KeepGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error {
			if cmd.Process == nil {
				return nil
			}
			err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			waitGroupGone(cmd.Process.Pid, 2*time.Second)
			return err
		}
	}
	cmd.WaitDelay = o.WaitDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	return cmd, nil
}

// waitGroupGone waits (at most limit) until no process of group pgid runs
// any more: a SIGKILL is sent at once but acted on when each process is next
// scheduled, and a caller that returns (a console exiting) must not leave a
// child running behind it. A zombie counts as gone.
func waitGroupGone(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for groupRuns(pgid) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// groupRuns says whether a process of group pgid is alive (not a zombie),
// from /proc.
func groupRuns(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		data, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state, ppid, pgrp, ...
		if len(f) > 2 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}
