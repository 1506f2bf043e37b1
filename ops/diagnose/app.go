package diagnose

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"synops/ops/health"
	"synops/ops/pg"
	"synops/synapse"
)

// The application's side of the troubleshooting: the Matrix credentials it
// is configured with (seed 000, "connection errors after reset") and its
// users' status (seed 004, "User must be active to join calls").

// AppToken is a token the application reads, as found where it is
// configured (an env file's line, a secret file): what a reset or a
// rotation wrote there.
type AppToken struct {
	Where string         // "env file /srv/openmeet/.env (MATRIX_ADMIN_TOKEN)"
	Token synapse.Secret // zero when the file holds none
	Err   error          // the file could not be read
}

// UserNotActive is seed 004's "User must be active to join calls".
const UserNotActive = "user-not-active"

// checkAppCredentials checks each token the application is configured
// with: after a reset every token is gone, and an application still
// holding the old one fails to connect while synops' own works.
func checkAppCredentials(ctx context.Context, e *env) []Finding {
	const name = "application's Matrix credentials"
	var found []AppToken
	if e.d.AppTokens != nil {
		found = e.d.AppTokens()
	}
	if len(found) == 0 {
		return one(unknown(name, "where the application reads its token is not configured",
			"list it in tokens.write_to (the env file or secret file the application reads), as a reset or a rotation writes it"))
	}
	if e.d.Synapse == nil {
		return one(unknown(name, noSynapse, ""))
	}
	own := e.d.Synapse.Token()
	var out []Finding
	for _, t := range found {
		f := Finding{Check: name + ": " + t.Where}
		switch {
		case t.Err != nil:
			f.Status, f.Evidence = health.Crit, "cannot read it: "+t.Err.Error()
			f.Hint = "the application cannot either if it runs as this user; check the file's owner and mode"
		case t.Token.IsZero():
			f.Status, f.Evidence = health.Crit, "holds no token"
			f.Hint = "write the admin token there (synops reset run writes it after a reset; synops tokens rotate writes a new one)"
		default:
			wctx, cancel := e.limit(ctx)
			who, err := e.d.Synapse.WithToken(t.Token).Whoami(wctx)
			cancel()
			switch {
			case errors.Is(err, synapse.ErrUnknownToken):
				f.Status, f.Evidence = health.Crit, fmt.Sprintf("the token there (%s) is unknown to Synapse", t.Token.Hint())
				f.Hint = "a reset deletes every account and token: register the new admin and write its token here (synops reset run does both), then restart the application"
			case err != nil:
				f.Status, f.Evidence = health.Unknown, fmt.Sprintf("could not check the token there (%s): %v", t.Token.Hint(), err)
			default:
				f.Status, f.Evidence = health.OK, fmt.Sprintf("%s is %s's", t.Token.Hint(), who.UserID)
				uctx, cancel := e.limit(ctx)
				u, err := e.d.Synapse.WithToken(t.Token).User(uctx, who.UserID)
				cancel()
				switch {
				case err != nil:
					f.Status = health.Warn
					f.Evidence += ", but the admin API refuses it: " + err.Error()
					f.Hint = "the application needs an admin's token (seed 004's MATRIX_ADMIN_TOKEN)"
				case !u.Admin:
					f.Status = health.Warn
					f.Evidence += ", who is not a server admin"
					f.Hint = "the application needs an admin's token (seed 004's MATRIX_ADMIN_TOKEN)"
				default:
					f.Evidence += ", a server admin"
				}
				if !own.IsZero() && own.Reveal() != t.Token.Reveal() {
					f.Evidence += fmt.Sprintf("; synops uses another token (%s)", own.Hint())
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// checkUserActive reads the application user's status (seed 004: SELECT
// status FROM "User" WHERE id = 'xxx'), and when the user is a Matrix ID,
// whether that account may act.
func checkUserActive(ctx context.Context, e *env) []Finding {
	const name = "application user status"
	if e.d.User == "" {
		return one(unknown(name, "no user given", "give the user: synops diagnose user-not-active --user ID"))
	}
	var out []Finding
	if strings.HasPrefix(e.d.User, "@") {
		out = append(out, matrixAccount(ctx, e))
	}
	if e.d.AppDB.IsZero() {
		return append(out, unknown(name, "the application database is not configured (app_db_dsn)", ""))
	}
	sql := e.d.UserStatusSQL
	if sql == "" {
		return append(out, unknown(name, "no user status query (diagnose.user_status)", ""))
	}
	active := e.d.ActiveStatus
	if active == "" {
		active = "ACTIVE"
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	pool, err := pg.Open(ctx, "application database", e.d.AppDB, nil)
	if err != nil {
		return append(out, dbFailure(name, err))
	}
	defer pool.Close()
	var status *string
	err = pool.QueryRow(ctx, sql, e.d.User).Scan(&status)
	f := Finding{Check: name}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		f.Status, f.Evidence = health.Warn, fmt.Sprintf("the application has no user %s", e.d.User)
		f.Hint = "check the ID (the application's user ID, as in its \"User\" table)"
	case err != nil:
		f.Status, f.Evidence = health.Unknown, "the status query failed: "+err.Error()
		f.Hint = "check diagnose.user_status against the application's schema"
	case status == nil:
		f.Status, f.Evidence = health.Crit, fmt.Sprintf("user %s has no status", e.d.User)
		f.Hint = "the user needs to complete onboarding or be enabled by an admin (seed 004)"
	case !strings.EqualFold(*status, active):
		f.Status, f.Evidence = health.Crit, fmt.Sprintf("user %s has status %s, not %s", e.d.User, *status, active)
		f.Hint = "the user needs to complete onboarding or be enabled by an admin (seed 004)"
	default:
		f.Status, f.Evidence = health.OK, fmt.Sprintf("user %s is %s", e.d.User, *status)
	}
	return append(out, f)
}

func matrixAccount(ctx context.Context, e *env) Finding {
	f := Finding{Check: "Matrix account"}
	if e.d.Synapse == nil {
		return unknown(f.Check, noSynapse, "")
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	u, err := e.d.Synapse.User(ctx, e.d.User)
	switch {
	case errors.Is(err, synapse.ErrNotFound):
		f.Status, f.Evidence = health.Crit, e.d.User+" does not exist on Synapse"
		f.Hint = "after a reset accounts are gone: the user signs in to the application again to get a new one"
		return f
	case err != nil:
		return unknown(f.Check, err.Error(), "")
	}
	var bad []string
	for _, c := range []struct {
		on   bool
		what string
	}{{u.Deactivated, "deactivated"}, {u.Locked, "locked"}, {u.Suspended, "suspended"}, {u.ShadowBan, "shadow-banned"}} {
		if c.on {
			bad = append(bad, c.what)
		}
	}
	if len(bad) > 0 {
		f.Status, f.Evidence = health.Crit, e.d.User+" is "+strings.Join(bad, ", ")
		f.Hint = "synops users enable / unlock / unsuspend lifts it"
		return f
	}
	f.Status, f.Evidence = health.OK, e.d.User+" exists and may act"
	return f
}
