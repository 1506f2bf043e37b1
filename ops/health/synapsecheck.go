package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"synops/synapse"
)

// The token and admin checks are shared by ConnectionChecks and the Checker.

// tokenCheck asks Synapse whose token c carries; the owner comes back when
// the token is valid. An unreachable Synapse leaves the token unknown:
// synapse.health already says it is down.
func tokenCheck(ctx context.Context, c *synapse.Client) (Result, *synapse.Whoami) {
	r := Result{ID: "synapse.token", Group: "Synapse", Name: "admin token valid"}
	if c.Token().IsZero() {
		r.Status, r.Detail = Crit, "no admin token configured"
		r.Hint = "set MATRIX_ADMIN_TOKEN, or token.file / token.command in the profile"
		return r, nil
	}
	w, err := c.Whoami(ctx)
	if err != nil {
		if synapse.IsUnreachable(err) {
			r.Detail = "not checked: Synapse is unreachable (" + synapse.UnreachableReason(err) + ")"
			return r, nil
		}
		r.Status, r.Detail = Crit, err.Error()
		switch {
		case errors.Is(err, synapse.ErrUnknownToken):
			r.Hint = fmt.Sprintf("the token (%s) was rejected: it is revoked, expired or mistyped; get a fresh admin token and update MATRIX_ADMIN_TOKEN or the token file", c.Token().Hint())
		case errors.Is(err, synapse.ErrMissingToken):
			r.Hint = "Synapse saw no token; set MATRIX_ADMIN_TOKEN or a token file"
		default:
			r.Hint = "could not ask Synapse whose token this is"
		}
		return r, nil
	}
	r.Status, r.Value = OK, w.UserID+" ("+c.Token().Hint()+")"
	return r, w
}

// adminCheck says whether who (nil when the token check failed) is a server
// admin, by reading its own account through the admin API.
func adminCheck(ctx context.Context, c *synapse.Client, who *synapse.Whoami) Result {
	r := Result{ID: "synapse.admin", Group: "Synapse", Name: "token owner is a server admin"}
	if who == nil {
		r.Detail = "not checked: the token is not valid"
		return r
	}
	u, err := c.User(ctx, who.UserID)
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
}

// synapseChecks are the cheap tier's Synapse checks.
func (c *Checker) synapseChecks() []check {
	cl := c.cfg.Synapse
	th := c.cfg.Thresholds
	health := Result{ID: "synapse.health", Group: "Synapse", Name: "/health"}
	versions := Result{ID: "synapse.versions", Group: "Synapse", Name: "/_matrix/client/versions"}
	server := Result{ID: "synapse.server_version", Group: "Synapse", Name: "server version"}
	token := Result{ID: "synapse.token", Group: "Synapse", Name: "admin token valid"}
	admin := Result{ID: "synapse.admin", Group: "Synapse", Name: "token owner is a server admin"}
	if cl == nil {
		var out []check
		for _, r := range []Result{health, versions, server, token, admin} {
			r.Detail = "not configured: no homeserver URL"
			out = append(out, static(r))
		}
		return out
	}
	return []check{
		single(health, Crit, func(ctx context.Context) Result {
			return endpoint(ctx, health, cl, th, func(ctx context.Context) (string, error) {
				return "OK", cl.Health(ctx)
			})
		}),
		single(versions, Crit, func(ctx context.Context) Result {
			return endpoint(ctx, versions, cl, th, func(ctx context.Context) (string, error) {
				v, err := cl.ClientVersions(ctx)
				if err != nil {
					return "", err
				}
				if len(v.Versions) == 0 {
					return "no versions listed", nil
				}
				return "up to " + v.Versions[len(v.Versions)-1], nil
			})
		}),
		single(server, Crit, func(ctx context.Context) Result {
			return endpoint(ctx, server, cl, th, func(ctx context.Context) (string, error) {
				v, err := cl.ServerVersion(ctx)
				return "Synapse " + v, err
			})
		}),
		{
			stubs: []Result{token, admin}, late: Crit,
			run: func(ctx context.Context) []Result {
				// One time limit for both: the admin lookup needs the owner.
				start := time.Now()
				tr, who := tokenCheck(ctx, cl)
				tr.Took = time.Since(start)
				if tr.Status == OK {
					tr.setNum(tr.Took.Seconds(), "s")
					tr.Value += " · " + dur(tr.Took)
				}
				start = time.Now()
				ar := adminCheck(ctx, cl, who)
				ar.Took = time.Since(start)
				return []Result{tr, ar}
			},
		},
	}
}

// endpoint times one Synapse call and grades its answer and response time.
func endpoint(ctx context.Context, r Result, cl *synapse.Client, th Thresholds, call func(context.Context) (string, error)) Result {
	start := time.Now()
	val, err := call(ctx)
	r.Took = time.Since(start)
	if err != nil {
		r.Status, r.Detail = Crit, err.Error()
		if synapse.IsUnreachable(err) {
			r.Detail = fmt.Sprintf("cannot reach Synapse at %s: %s", cl.BaseURL(), synapse.UnreachableReason(err))
			r.Hint = "is Synapse running? check homeserver_url (or the listeners in homeserver.yaml) and that the port is open"
		} else if r.ID == "synapse.server_version" {
			r.Hint = "the admin API may not be exposed on this listener (it needs the 'client' resource)"
		} else {
			r.Hint = "something answers at " + cl.BaseURL() + " but it is not a healthy Synapse"
		}
		return r
	}
	r.Value = val + " · " + dur(r.Took)
	r.setNum(r.Took.Seconds(), "s")
	s, at := above(r.Took.Seconds(), th.EndpointWarn.Seconds(), th.EndpointCrit.Seconds())
	r.grade(s, at, "answered in "+dur(r.Took), "over", seconds)
	if s != OK {
		r.Hint = "Synapse is slow to answer even trivial requests: look at its CPU, its logs and the database"
	}
	return r
}

func (r *Result) setNum(v float64, unit string) {
	r.Num, r.HasNum, r.Unit = v, true, unit
}
