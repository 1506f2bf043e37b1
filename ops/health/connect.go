package health

import (
	"context"
	"errors"
	"fmt"
	"net"
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
		r := Result{ID: "synapse.token", Group: "Synapse", Name: "admin token valid"}
		if reach.Status != OK {
			r.Detail = "not checked: Synapse is unreachable"
			return r
		}
		if t.Synapse.Token().IsZero() {
			r.Status, r.Detail = Crit, "no admin token configured"
			r.Hint = "set MATRIX_ADMIN_TOKEN, or token.file / token.command in the profile"
			return r
		}
		w, err := t.Synapse.Whoami(ctx)
		if err != nil {
			r.Status, r.Detail = Crit, err.Error()
			switch {
			case errors.Is(err, synapse.ErrUnknownToken):
				r.Hint = fmt.Sprintf("the token (%s) was rejected: it is revoked, expired or mistyped; get a fresh admin token and update MATRIX_ADMIN_TOKEN or the token file", t.Synapse.Token().Hint())
			case errors.Is(err, synapse.ErrMissingToken):
				r.Hint = "Synapse saw no token; set MATRIX_ADMIN_TOKEN or a token file"
			default:
				r.Hint = "could not ask Synapse whose token this is"
			}
			return r
		}
		who = w
		r.Status, r.Value = OK, w.UserID+" ("+t.Synapse.Token().Hint()+")"
		return r
	})
	out = append(out, tok)
	out = append(out, timed(ctx, t.Timeout, func(ctx context.Context) Result {
		r := Result{ID: "synapse.admin", Group: "Synapse", Name: "token owner is a server admin"}
		if who == nil {
			r.Detail = "not checked: the token is not valid"
			return r
		}
		u, err := t.Synapse.User(ctx, who.UserID)
		switch {
		case errors.Is(err, synapse.ErrForbidden):
			r.Status = Crit
			r.Detail = fmt.Sprintf("token belongs to %s, who is not a server admin", who.UserID)
			r.Hint = "use an admin's token, or make this user an admin (admin API PUT /_synapse/admin/v2/users/<id> {\"admin\": true}, or register_new_matrix_user -a)"
		case err != nil:
			r.Status, r.Detail = Crit, err.Error()
		case !u.Admin:
			r.Status = Crit
			r.Detail = fmt.Sprintf("token belongs to %s, who is not a server admin", who.UserID)
		default:
			r.Status, r.Value = OK, who.UserID
		}
		return r
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
			r.Detail = fmt.Sprintf("cannot reach Synapse at %s: %s", c.BaseURL(), netReason(err))
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
		r.Status, r.Detail = Crit, err.Error()
		if pg.IsAuthError(err) {
			r.Hint = "PostgreSQL refused the credentials: check the user and password"
		} else {
			r.Hint = "is PostgreSQL running and listening where the connection string says?"
		}
		return r
	}
	defer pool.Close()
	v, err := pg.ServerVersion(ctx, pool)
	if err != nil {
		r.Status, r.Detail = Crit, err.Error()
		return r
	}
	r.Status, r.Value = OK, "PostgreSQL "+v+" at "+pg.Describe(dsn)
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

// netReason is the short cause of a transport error ("connection refused")
// without Go's request dump around it.
func netReason(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer before the time limit"
	}
	return err.Error()
}
