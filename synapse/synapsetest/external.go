package synapsetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"synops/synapse"
)

// Prepare writes the configuration, signing key and log config of a
// Synapse that something else runs (a container in a compose project), in
// opts.Dir, without starting it. Run it as
//
//	python -m synapse.app.homeserver -c <ConfigPath>
//
// then call Attach.
func Prepare(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("prepare synapse: give a directory (the container mounts it)")
	}
	if opts.ServerName == "" {
		opts.ServerName = "synops.test"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	s := &Server{ServerName: opts.ServerName, Dir: opts.Dir, timeout: opts.StartTimeout}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := s.writeConfig(opts); err != nil {
		return nil, err
	}
	return s, nil
}

// Attach waits until a Synapse started by something else answers /health,
// reads its version and registers the admin. Stop, Kill and Restart do
// nothing to such a Synapse: whoever started it stops it.
func (s *Server) Attach(ctx context.Context) error {
	cl, _ := synapse.New(s.BaseURL, synapse.Secret{}, synapse.WithTimeout(2*time.Second), synapse.WithRetries(0))
	deadline := time.Now().Add(s.timeout)
	for cl.Health(ctx) != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("synapse did not answer /health within %s:\n%s", s.timeout, s.Diagnostics())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	v, err := cl.ServerVersion(ctx)
	if err != nil {
		return fmt.Errorf("synapse server_version: %w", err)
	}
	s.Version = v
	return s.registerAdmin(ctx)
}
