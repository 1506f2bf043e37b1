package diagnose_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"synops/ops/diagnose"
	"synops/ops/health"
	"synops/synapse"
)

// "Connection errors after reset" looks at the token the application is
// configured with, read where it is written, and not only at synops' own:
// after a reset the application can hold a dead token while synops' works.
func TestConnectionErrorsChecksTheApplicationsToken(t *testing.T) {
	d := bedDeps()
	stale := synapse.NewSecret("syt_YXBw_from_before_the_reset_1234")
	d.AppTokens = func() []diagnose.AppToken {
		return []diagnose.AppToken{
			{Where: "env file /srv/openmeet/.env (MATRIX_ADMIN_TOKEN)", Token: stale},
			{Where: "file /run/secrets/matrix_admin_token", Token: bed.Synapse.AdminToken},
			{Where: "file /run/secrets/unreadable", Err: errors.New("permission denied")},
		}
	}
	v := run(t, d, diagnose.ConnectionErrors)
	want(t, find(t, v, "admin token valid"), health.OK, regexp.QuoteMeta(bed.Synapse.AdminUserID))
	f := find(t, v, "application's Matrix credentials: env file /srv/openmeet/.env (MATRIX_ADMIN_TOKEN)")
	want(t, f, health.Crit, `the token there \(syt_…1234\) is unknown to Synapse`)
	if !strings.Contains(f.Hint, "synops reset run") {
		t.Errorf("hint %q, want the way back after a reset", f.Hint)
	}
	want(t, find(t, v, "application's Matrix credentials: file /run/secrets/matrix_admin_token"), health.OK,
		regexp.QuoteMeta(bed.Synapse.AdminToken.Hint()+" is "+bed.Synapse.AdminUserID+"'s, a server admin"))
	want(t, find(t, v, "application's Matrix credentials: file /run/secrets/unreadable"), health.Crit, `cannot read it: permission denied`)
	if v.Status != health.Crit || !strings.Contains(v.Summary, "application's Matrix credentials") {
		t.Errorf("got %s %q, want critical naming the application's token", v.Status, v.Summary)
	}
	if strings.Contains(fmt_(v), stale.Reveal()) || strings.Contains(fmt_(v), bed.Synapse.AdminToken.Reveal()) {
		t.Error("the verdict shows a token")
	}

	// Not configured: said, not guessed.
	v = run(t, bedDeps(), diagnose.ConnectionErrors)
	want(t, find(t, v, "application's Matrix credentials"), health.Unknown, `where the application reads its token is not configured`)
}

func fmt_(v diagnose.Verdict) string {
	var b strings.Builder
	b.WriteString(v.Summary)
	for _, f := range v.Findings {
		b.WriteString(f.Evidence + f.Hint)
	}
	return b.String()
}

// Seed 004's "User must be active to join calls": the application user's
// status as its database has it, and the Matrix account's when a Matrix ID
// is given.
func TestUserNotActive(t *testing.T) {
	ctx := ctxT(t)
	cn, err := pgx.Connect(ctx, bed.AppDB)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	if _, err := cn.Exec(ctx, `CREATE TABLE "User" (id text PRIMARY KEY, status text);
		INSERT INTO "User" VALUES ('u-active', 'ACTIVE'), ('u-suspended', 'SUSPENDED'), ('u-new', NULL)`); err != nil {
		t.Fatal(err)
	}
	d := bedDeps()
	d.AppDB = synapse.NewSecret(bed.AppDB)
	d.UserStatusSQL = `SELECT status FROM "User" WHERE id = $1`
	tests := []struct {
		user     string
		status   health.Status
		evidence string
	}{
		{"u-active", health.OK, `^user u-active is ACTIVE$`},
		{"u-suspended", health.Crit, `^user u-suspended has status SUSPENDED, not ACTIVE$`},
		{"u-new", health.Crit, `^user u-new has no status$`},
		{"u-nobody", health.Warn, `^the application has no user u-nobody$`},
	}
	for _, tt := range tests {
		d.User = tt.user
		v := run(t, d, diagnose.UserNotActive)
		want(t, find(t, v, "application user status"), tt.status, tt.evidence)
		if tt.status == health.Crit && !strings.Contains(find(t, v, "application user status").Hint, "complete onboarding") {
			t.Errorf("%s: the hint does not give seed 004's fix", tt.user)
		}
	}

	// A Matrix ID: its account is checked too.
	locked, err := bed.Synapse.Register(ctx, "diag-locked", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.Synapse.Client().SetLocked(ctx, locked.UserID, true); err != nil {
		t.Fatal(err)
	}
	d.User = locked.UserID
	v := run(t, d, diagnose.UserNotActive)
	want(t, find(t, v, "Matrix account"), health.Crit, regexp.QuoteMeta(locked.UserID)+` is locked`)
	want(t, find(t, v, "application user status"), health.Warn, `no user`)
}
