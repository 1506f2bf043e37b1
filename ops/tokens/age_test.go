package tokens

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"synops/synapse"
)

// TestAge: with no rotation recorded, the token file's age is a lower
// bound and the admin's creation an upper one; a recorded rotation gives
// the age exactly. Older than 90 days is old.
func TestAge(t *testing.T) {
	f := newFixture(t, "age_old", false)
	ctx := context.Background()
	now := time.Now()

	// A token file last written 120 days ago holds a token at least that old.
	if err := os.Chtimes(f.own, now.Add(-120*24*time.Hour), now.Add(-120*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a := f.svc.Age(ctx)
	if a.Status != AgeOld || a.Bound != "at least" || a.Days() != 120 || !strings.Contains(a.Source, "token file "+f.own) {
		t.Errorf("age from a 120-day-old token file = %+v (%s)", a, a)
	}
	if got := a.Short(); got != "token ≥120d" {
		t.Errorf("Short = %q", got)
	}

	// A freshly written file says nothing; the admin, created just now,
	// cannot have an older token.
	if err := os.Chtimes(f.own, now, now); err != nil {
		t.Fatal(err)
	}
	a = f.svc.Age(ctx)
	if a.Status != AgeOK || a.Bound != "at most" || a.Days() != 0 || !strings.Contains(a.Source, f.oldAdmin+" created") {
		t.Errorf("age of a new admin's token = %+v (%s)", a, a)
	}

	// 100 days on, with the file written 50 days ago, the token is between
	// 50 and 100 days old: nothing tells whether it is older than 90.
	if err := os.Chtimes(f.own, now.Add(50*24*time.Hour), now.Add(50*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.svc.Now = func() time.Time { return now.Add(100 * 24 * time.Hour) }
	if a = f.svc.Age(ctx); a.Status != AgeUnknown || !strings.Contains(a.String(), "at most 100 days old") {
		t.Errorf("age between 50 and 100 days = %+v (%s)", a, a)
	}
	// The same file 100 days later: at least 100 days old, whatever the admin's age.
	f.svc.Now = func() time.Time { return now.Add(150 * 24 * time.Hour) }
	if a = f.svc.Age(ctx); a.Status != AgeOld || a.Bound != "at least" || a.Days() != 100 {
		t.Errorf("age of a file written 100 days ago = %+v (%s)", a, a)
	}

	// A rotation recorded by synops gives the age exactly.
	f.svc.Now = nil
	if _, _, err := f.rotate(RotateRequest{NewAdmin: "age_new"}, nil); err != nil {
		t.Fatal(err)
	}
	f.svc = f.service(f.newToken(t), f.svc.Config)
	a = f.svc.Age(ctx)
	if a.Status != AgeOK || a.Bound != "" || a.Days() != 0 || !strings.Contains(a.Source, "rotated by synops on "+now.UTC().Format("2006-01-02")) {
		t.Errorf("age after a rotation = %+v (%s)", a, a)
	}
	if a.Open == nil || a.Open.Phase != Rotated {
		t.Errorf("the unfinished rotation is not reported: %+v", a.Open)
	}
	f.svc.Now = func() time.Time { return now.Add(91*24*time.Hour + time.Hour) }
	if a = f.svc.Age(ctx); a.Status != AgeOld || a.Days() != 91 {
		t.Errorf("age 91 days after the rotation = %+v", a)
	}
	st, err := f.svc.Status(ctx)
	if err != nil || !strings.Contains(st.Next, "synops tokens finish") {
		t.Errorf("status = %+v, %v", st, err)
	}
}

// newToken is the token in synops' own token file now.
func (f *fixture) newToken(t *testing.T) synapse.Secret {
	return synapse.NewSecret(strings.TrimSpace(read(t, f.own)))
}
