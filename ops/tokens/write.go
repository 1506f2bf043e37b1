package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"synops/ops/config"
	"synops/synapse"
)

// What a reset's post-steps share with a rotation: where the admin token
// goes, how it is written there (atomically, mode 0600 at most, the
// previous file kept), and the application's own check.

// Targets lists where an admin token is written: synops' own token file
// first, then the profile's tokens.write_to.
func Targets(own config.TokenSource, cfg []config.TokenTarget) []Target { return targets(own, cfg) }

// Read returns the token a file or env file target holds now: zero when the
// file does not exist, has no line for the variable, or t is a command.
func (t Target) Read() (synapse.Secret, error) { return t.read() }

// Writable says why a file target cannot be written, or nil.
func (t Target) Writable() error { return t.writable() }

// Write puts token in t as a rotation does: a file or env file atomically,
// mode 0600 at most, its owner kept and the previous file kept as
// <file>.synops-bak-<at>; a command gets the token on its standard input.
// It returns t as written (Backup, Created, Written).
func (s *Service) Write(ctx context.Context, t Target, at time.Time, token synapse.Secret) (Target, error) {
	if token.IsZero() {
		return t, errors.New("write the admin token: no token")
	}
	return s.write(ctx, t, at, token)
}

// RunCheck runs the application's own check (tokens.check) with token in
// its environment variable (tokens.check_env), never in argv. Without a
// check configured it does nothing.
func (s *Service) RunCheck(ctx context.Context, token synapse.Secret) error {
	if len(s.Config.Check) == 0 {
		return nil
	}
	env := s.Config.CheckEnv
	if env == "" {
		env = config.DefaultTokenEnv
	}
	if err := s.run(ctx, s.Config.Check, checkTimeout, nil, map[string]string{env: token.Reveal()}, token); err != nil {
		return fmt.Errorf("the application's check with the new token: %w", err)
	}
	return nil
}
