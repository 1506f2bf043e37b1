// Package services runs the commands synops issues to the service manager
// around Synapse and PostgreSQL (docker compose, systemd/journald). It builds
// the exact argv from config.Services in pure functions, so tests assert the
// commands themselves, and runs them without a shell.
package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"synops/ops/config"
	"synops/ops/proc"
	"synops/ops/text"
)

// Runner runs one command to completion and returns its standard output.
// A failure's error names argv[0], the exit status and the start of standard
// error; it never carries standard output, which may hold secrets.
type Runner interface {
	Run(ctx context.Context, argv []string) (stdout []byte, err error)
}

// Exec is the real Runner: exec without a shell, through ops/proc. Env is
// the environment to start from (nil: synops' own); either way the
// variables that hold synops' secrets are taken out (proc.Env) unless Pass
// names them.
type Exec struct {
	Env  []string
	Pass []string
}

// stderrKeep is how much of a failing command's standard error the error keeps.
const stderrKeep = 300

// ExitError is a command that ran and failed, or could not be started.
type ExitError struct {
	Name   string // argv[0]
	Code   int    // exit status; -1 when killed by a signal or never started
	Stderr string // the start of standard error, cleaned for the terminal
	Err    error  // the underlying *exec.ExitError, exec.ErrNotFound, context error…
}

func (e *ExitError) Error() string {
	msg := e.Name + ": "
	switch {
	case e.Code >= 0:
		msg += "exit status " + strconv.Itoa(e.Code)
	default:
		msg += e.Err.Error()
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// Run runs argv and waits for it. Standard error is kept (bounded) for the
// error message. Cancelling ctx kills the command and its children.
func (x Exec) Run(ctx context.Context, argv []string) ([]byte, error) {
	cmd, err := x.command(ctx, argv)
	if err != nil {
		return nil, err
	}
	var stdout bytes.Buffer
	stderr := &headBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), exitError(ctx, argv[0], err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// Start runs argv with standard output and standard error merged into the
// returned reader, for following logs. Close the reader to stop reading (the
// command then gets SIGPIPE on its next write); cancel ctx to kill it. wait
// reaps the command and reports how it ended; call it exactly once, after
// reading.
func (x Exec) Start(ctx context.Context, argv []string) (io.ReadCloser, func() error, error) {
	cmd, err := x.command(ctx, argv)
	if err != nil {
		return nil, nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, nil, exitError(ctx, argv[0], err, nil)
	}
	pw.Close() // the child holds its own copy
	wait := func() error {
		if err := cmd.Wait(); err != nil {
			return exitError(ctx, argv[0], err, nil)
		}
		return nil
	}
	return pr, wait, nil
}

func (x Exec) command(ctx context.Context, argv []string) (*exec.Cmd, error) {
	return proc.Command(ctx, argv, proc.Options{Environ: x.Env, Pass: x.Pass})
}

func exitError(ctx context.Context, name string, err error, stderr []byte) error {
	e := &ExitError{Name: name, Code: -1, Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		e.Code = ee.ExitCode() // -1 when killed by a signal
	}
	if ctx.Err() != nil {
		e.Code, e.Err = -1, fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	s := text.Clean(string(bytes.ToValidUTF8(bytes.TrimSpace(stderr), []byte("?"))))
	if len(s) > stderrKeep {
		s = string(bytes.ToValidUTF8([]byte(s[:stderrKeep]), nil)) + "…"
	}
	e.Stderr = s
	return e
}

// headBuffer keeps the first max bytes written and discards the rest, so a
// chatty command cannot grow memory without bound.
type headBuffer struct {
	buf bytes.Buffer
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (h *headBuffer) Bytes() []byte { return h.buf.Bytes() }

// composeBase is "docker compose [-f F] [-p P]".
func composeBase(s config.Services) []string {
	argv := []string{"docker", "compose"}
	if s.ComposeFile != "" {
		argv = append(argv, "-f", s.ComposeFile)
	}
	if s.ComposeProject != "" {
		argv = append(argv, "-p", s.ComposeProject)
	}
	return argv
}

func synapseService(s config.Services) string {
	if s.SynapseService == "" {
		return "synapse"
	}
	return s.SynapseService
}

func synapseUnit(s config.Services) string {
	if s.SynapseUnit == "" {
		return "matrix-synapse"
	}
	return s.SynapseUnit
}

// LogsCommand is the command that follows Synapse's log, starting with the
// last tail lines (a negative tail means the whole log). Custom and none
// service kinds have no such command (false).
func LogsCommand(s config.Services, tail int) ([]string, bool) {
	n := "all"
	if tail >= 0 {
		n = strconv.Itoa(tail)
	}
	switch s.Kind {
	case config.ServicesCompose:
		return append(composeBase(s), "logs", "-f", "--no-color", "--tail", n, synapseService(s)), true
	case config.ServicesSystemd:
		if tail < 0 {
			return []string{"journalctl", "-f", "-u", synapseUnit(s), "-o", "short-iso", "--no-pager"}, true
		}
		return []string{"journalctl", "-f", "-u", synapseUnit(s), "-n", n, "-o", "short-iso", "--no-pager"}, true
	}
	return nil, false
}

// StatsCommand is the command that reports Synapse's memory and CPU once.
// Custom and none service kinds have none (false).
func StatsCommand(s config.Services) ([]string, bool) {
	switch s.Kind {
	case config.ServicesCompose:
		return append(composeBase(s), "stats", "--no-stream", "--format", "json", synapseService(s)), true
	case config.ServicesSystemd:
		return []string{"systemctl", "show", synapseUnit(s),
			"-p", "MemoryCurrent", "-p", "CPUUsageNSec", "-p", "ActiveState", "-p", "MainPID"}, true
	}
	return nil, false
}
