// Command synops-sandbox runs a local, throwaway ops box for trying synops: a
// real PostgreSQL and a real Synapse (the pinned one from .cache/synapse-venv)
// on loopback, seeded with sample users, rooms and OpenMeet events, and a
// synops config file pointing at them.
//
//	synops-sandbox run -- synops config check   # run a command against it, then tear down
//	synops-sandbox up                           # keep it running until Ctrl-C
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"synops/ops/testbed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	default:
		fmt.Fprintln(os.Stderr, "synops-sandbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("synops-sandbox", pflag.ContinueOnError)
	dir := fs.String("dir", ".cache/sandbox", "where the sandbox keeps its config, Synapse files and backups")
	quiet := fs.Bool("quiet", false, "print nothing but errors while starting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || (rest[0] != "run" && rest[0] != "up") {
		return errors.New("usage: synops-sandbox [--dir D] run -- COMMAND [ARGS…] | up")
	}
	logf := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, "sandbox: "+format+"\n", a...)
		}
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(abs); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(abs, "synapse"), 0o700); err != nil {
		return err
	}
	logf("starting PostgreSQL and Synapse…")
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	bed, err := testbed.Start(startCtx, testbed.Options{ServerName: "sandbox.local", Dir: filepath.Join(abs, "synapse"), Settle: true,
		// Server notices, so the reset's "tell the team" reaches everyone.
		Extra: map[string]any{"server_notices": map[string]any{
			"system_mxid_localpart": "notices", "system_mxid_display_name": "Server Notices", "room_name": "Server Notices"}}})
	if err != nil {
		return err
	}
	defer func() {
		logf("stopping Synapse and PostgreSQL")
		// A reset in the sandbox restarts Synapse through the control
		// script, outside the bed: stop that one too.
		if ctl := testbed.ControlScript(abs); fileExists(ctl) {
			if out, err := exec.Command(ctl, "stop").CombinedOutput(); err != nil {
				logf("stop Synapse: %v: %s", err, out)
			}
		}
		bed.Close()
	}()
	logf("Synapse %s at %s, PostgreSQL %s; seeding sample data…", bed.Synapse.Version, bed.Synapse.BaseURL, bed.PGVersion)
	sample, err := bed.SeedSample(startCtx, time.Now())
	if err != nil {
		return err
	}
	cfgPath, err := bed.WriteBoxConfig(abs)
	if err != nil {
		return err
	}
	logf("%d users, %d rooms; config %s (profile sandbox)", len(sample.Users), len(sample.Rooms), cfgPath)

	// The sandbox's audit log, journals and debug log stay in the sandbox,
	// apart from the operator's own.
	env := append(os.Environ(), "SYNOPS_CONFIG="+cfgPath, "SYNOPS_PROFILE=sandbox", "XDG_STATE_HOME="+filepath.Join(abs, "state"))
	if rest[0] == "up" {
		fmt.Fprintf(stdout, "Sandbox is up. In another shell:\n  export SYNOPS_CONFIG=%s XDG_STATE_HOME=%s\n  synops config check\nCtrl-C stops it.\n",
			cfgPath, filepath.Join(abs, "state"))
		<-ctx.Done()
		return nil
	}
	argv := rest[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return errors.New("run needs a command: synops-sandbox run -- synops config check")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	// The child shares our terminal; a Ctrl-C reaches it directly and we tear
	// down after it exits.
	signal.Ignore(os.Interrupt)
	return cmd.Run()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
