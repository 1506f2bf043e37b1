package services

import (
	"context"
	"fmt"

	"synops/ops/config"
)

// PGCommand is the argv that runs a PostgreSQL client program (pg_dump,
// pg_restore, psql) with its arguments where via says: on this machine, in
// the profile's PostgreSQL container (`docker exec`, seed 004's
// `docker exec postgres-matrix pg_dump`), or in its compose service
// (`docker compose exec -T`). stdin says the program reads standard input.
// envNames are environment variables handed into the container by name
// only: docker reads their values from its own environment (Streams.Env),
// so a password never appears in argv.
func (c *Controller) PGCommand(ctx context.Context, via config.DumpVia, stdin bool, envNames []string, program ...string) ([]string, error) {
	if len(program) == 0 {
		return nil, fmt.Errorf("PostgreSQL command: no program named")
	}
	var argv []string
	switch via {
	case config.DumpHost, "":
		return append([]string(nil), program...), nil
	case config.DumpDocker:
		if c.Services.PostgresContainer == "" {
			return nil, fmt.Errorf("run %s in the database container: set services.postgres_container", program[0])
		}
		argv = []string{"docker", "exec"}
		if stdin {
			argv = append(argv, "-i")
		}
		for _, n := range envNames {
			argv = append(argv, "-e", n)
		}
		argv = append(argv, c.Services.PostgresContainer)
	case config.DumpCompose:
		base, err := c.ComposeBase(ctx)
		if err != nil {
			return nil, err
		}
		// -T: no terminal, so binary dumps pass unmangled; compose exec
		// keeps standard input attached either way.
		argv = append(base, "exec", "-T")
		for _, n := range envNames {
			argv = append(argv, "-e", n)
		}
		argv = append(argv, c.composeService(Postgres))
	default:
		return nil, fmt.Errorf("run %s: backup.dump_via %q is not known (host, docker or compose)", program[0], via)
	}
	return append(argv, program...), nil
}
