// Command synops is a terminal admin console for the box that runs a Matrix
// Synapse homeserver, its PostgreSQL and the services around them. With a
// subcommand it runs headless (cron, scripts); see `synops help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"synops/ops/text"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitError carries an exit status; its message (if any) has been printed or is
// printed by exitCode.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a mistake in how synops was called: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// silentExit ends with code after the command printed its own report.
func silentExit(code int) error { return &exitError{code: code} }

// exitCode prints err (cleaned: it may quote the server) and says the status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	stderr = text.NewWriter(stderr)
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "synops:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "synops:", err)
	return 1
}
