package services

import (
	"context"
	"io"
	"os"
)

// Streams connect a command to synops for Stream.
type Streams struct {
	// Env is added to the command's environment. Secrets (PGPASSWORD) go
	// here, never into argv, which every user of the box can read.
	Env    []string
	Stdin  io.Reader // nil: no input
	Stdout io.Writer // nil: discarded
	// Log receives standard error as it comes (the job log); the start of
	// it is also kept for the error.
	Log io.Writer
}

// Stream runs argv with its standard streams connected as s says and waits
// for it: pg_dump into a compressor, a decompressor into pg_restore. A
// failure is an *ExitError. Cancelling ctx kills the command and its
// children.
func (x Exec) Stream(ctx context.Context, argv []string, s Streams) error {
	cmd, err := x.command(ctx, argv)
	if err != nil {
		return err
	}
	if len(s.Env) > 0 {
		base := cmd.Env
		if base == nil {
			base = os.Environ()
		}
		cmd.Env = append(append([]string(nil), base...), s.Env...)
	}
	stderr := &headBuffer{max: 4 << 10}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, stderr
	if s.Log != nil {
		cmd.Stderr = io.MultiWriter(stderr, s.Log)
	}
	if err := cmd.Run(); err != nil {
		return exitError(ctx, argv[0], err, stderr.Bytes())
	}
	return nil
}
