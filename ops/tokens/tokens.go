// Package tokens rotates the Matrix admin token the way seed 004 does by
// hand (a new admin, its token in the environment, a redeploy, the old admin
// gone) so that a failure at any step leaves a working token in place, and
// tells how old the token in use is.
//
// A rotation is two plans, each approved on its own:
//
//   - Rotate (typed: the server name) keeps a copy of the old token, creates
//     the new admin (shared-secret registration, or a login on a new
//     device), verifies its token, writes it where the application and
//     synops read it, redeploys and runs the application's check. If a step
//     fails, the files get their old content back, the redeploy runs again
//     and the new admin is removed; the old token never stops working.
//   - Finish (typed: the old admin's user ID) logs the old token out and,
//     if asked, deactivates the old admin, never the one now in use.
//
// Rollback undoes a rotation that has not been finished, when the automatic
// undo could not complete (Synapse down) or the operator wants the old
// token back. Every rotation is recorded in the state directory (no secret
// in it) so its age is known.
package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/synapse"
)

// Plan kinds.
const (
	KindRotate   = "tokens.rotate"
	KindFinish   = "tokens.finish"
	KindRollback = "tokens.rollback"
)

// Modes of creating the new admin's token.
const (
	ModeRegister = "register" // shared-secret registration of a new admin
	ModeLogin    = "login"    // an existing admin logs in on a new device
)

// Service rotates the admin token of one server.
type Service struct {
	// Synapse is the client with the token synops uses now.
	Synapse *synapse.Client
	Guard   *ops.Guard
	History *History
	Config  config.Tokens
	// Own is where synops reads its own token; a file is written too.
	Own          config.TokenSource
	SharedSecret synapse.Secret
	Server       string
	Environment  string
	// Environ is the environment children start from (before synops'
	// secrets are taken out); nil means synops' own.
	Environ func() []string
	Now     func() time.Time

	mu sync.Mutex
	// passwords holds a login-mode plan's password, by plan ID, until its
	// Apply: a plan is shown and stored, so it never carries one.
	passwords map[string]synapse.Secret
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// ErrNoRotation is returned by Finish and Rollback when nothing waits for them.
var ErrNoRotation = errors.New("no rotation to finish or roll back")

// StepError is a rotation that failed at Step. RolledBack says everything
// was put back; otherwise Remaining says what is left for Rollback.
type StepError struct {
	Step       string
	Err        error
	RolledBack bool
	Undone     []string // what the automatic rollback did
	Remaining  []string
	OldHint    string
}

func (e *StepError) Error() string {
	msg := fmt.Sprintf("rotate admin token: %s: %v", e.Step, e.Err)
	if e.RolledBack {
		msg += fmt.Sprintf("; rolled back: the old token %s is in use and valid", e.OldHint)
		for _, u := range e.Undone {
			msg += "; " + u
		}
		return msg
	}
	msg += fmt.Sprintf("; the old token %s is still valid, but the rollback is not complete: ", e.OldHint)
	for i, r := range e.Remaining {
		if i > 0 {
			msg += "; "
		}
		msg += r
	}
	return msg + ". Run `synops tokens rollback` when that is fixed (or `synops tokens status` to see where things stand)"
}

func (e *StepError) Unwrap() error { return e.Err }

func encodeParams(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings
	}
	return b
}

// whoami checks that c's token is valid and belongs to a server admin.
func whoamiAdmin(ctx context.Context, c *synapse.Client) (*synapse.Whoami, error) {
	w, err := c.Whoami(ctx)
	if err != nil {
		return nil, err
	}
	u, err := c.User(ctx, w.UserID)
	if err != nil {
		if errors.Is(err, synapse.ErrForbidden) {
			return w, fmt.Errorf("%s is not a server admin (%w)", w.UserID, err)
		}
		return w, err
	}
	if !u.Admin {
		return w, fmt.Errorf("%s is not a server admin", w.UserID)
	}
	return w, nil
}
