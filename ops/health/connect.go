package health

import (
	"context"
	"fmt"
	"time"

	"synops/ops/pg"
	"synops/synapse"
)

// Target is what the connection checks look at.
type Target struct {
	Synapse   *synapse.Client
	SynapseDB synapse.Secret // DSN; zero when unknown
	AppDB     synapse.Secret // DSN; zero when not configured
	Timeout   time.Duration  // per check; default 5s
}

// ConnectionChecks answers, in order: can Synapse be reached and which version
// is it; is the token valid; is its owner a server admin; can PostgreSQL be
// reached; can the application database be reached. Later checks that depend
// on an earlier one that failed report Unknown rather than piling on errors.
func ConnectionChecks(ctx context.Context, t Target) []Result {
	if t.Timeout == 0 {
		t.Timeout = 5 * time.Second
	}
	var out []Result
	reach := timed(ctx, t.Timeout, func(ctx context.Context) Result { return synapseReachable(ctx, t.Synapse) })
	out = append(out, reach)
	var who *synapse.Whoami
	tok := timed(ctx, t.Timeout, func(ctx context.Context) Result {
		if reach.Status != OK {
			return Result{ID: "synapse.token", Group: "Synapse", Name: "admin token valid",
				Detail: "not checked: Synapse is unreachable"}
		}
		r, w := tokenCheck(ctx, t.Synapse)
		who = w
		return r
	})
	out = append(out, tok)
	out = append(out, timed(ctx, t.Timeout, func(ctx context.Context) Result {
		return adminCheck(ctx, t.Synapse, who)
	}))
	out = append(out, timed(ctx, t.Timeout, func(ctx context.Context) Result {
		return dbReachable(ctx, "postgres.synapse", "Synapse database", t.SynapseDB,
			"point -c at homeserver.yaml (its database section) or set synapse_db_dsn in the profile")
	}))
	if !t.AppDB.IsZero() {
		out = append(out, timed(ctx, t.Timeout, func(ctx context.Context) Result {
			return dbReachable(ctx, "postgres.app", "application database", t.AppDB, "")
		}))
	}
	return out
}

func synapseReachable(ctx context.Context, c *synapse.Client) Result {
	r := Result{ID: "synapse.reachable", Group: "Synapse", Name: "reachable"}
	if err := c.Health(ctx); err != nil {
		r.Status, r.Detail = Crit, err.Error()
		if synapse.IsUnreachable(err) {
			r.Detail = fmt.Sprintf("cannot reach Synapse at %s: %s", c.BaseURL(), synapse.UnreachableReason(err))
			r.Hint = "is Synapse running? check homeserver_url (or the listeners in homeserver.yaml) and that the port is open"
		} else {
			r.Hint = "something answers at " + c.BaseURL() + " but it is not a healthy Synapse"
		}
		return r
	}
	v, err := c.ServerVersion(ctx)
	if err != nil {
		r.Status, r.Detail = Warn, "healthy, but server_version failed: "+err.Error()
		r.Hint = "the admin API may not be exposed on this listener (it needs the 'client' resource)"
		return r
	}
	r.Status, r.Value = OK, "Synapse "+v
	return r
}

func dbReachable(ctx context.Context, id, name string, dsn synapse.Secret, missingHint string) Result {
	r := Result{ID: id, Group: "PostgreSQL", Name: name}
	if dsn.IsZero() {
		r.Status, r.Detail, r.Hint = Warn, "not configured", missingHint
		return r
	}
	pool, err := pg.Open(ctx, name, dsn, nil)
	if err != nil {
		r.openFailed(err)
		return r
	}
	defer pool.Close()
	r.version(ctx, pool, dsn)
	return r
}

func timed(ctx context.Context, limit time.Duration, f func(context.Context) Result) Result {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	r := f(ctx)
	r.Took = time.Since(start)
	return r
}
