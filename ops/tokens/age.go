package tokens

import (
	"context"
	"fmt"
	"os"
	"time"

	"synops/ops/config"
)

// AgeStatus says whether the token in use is young enough.
type AgeStatus int

const (
	AgeUnknown AgeStatus = iota // nothing tells how old it is
	AgeOK                       // younger than the maximum
	AgeOld                      // older than the maximum: rotate it
)

func (s AgeStatus) String() string {
	switch s {
	case AgeOK:
		return "ok"
	case AgeOld:
		return "old"
	}
	return "unknown"
}

// MarshalText writes the status as a word.
func (s AgeStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Age is how old the admin token synops uses is, and where that figure
// comes from: a rotation synops recorded gives it exactly; without one, the
// token file's modification time says it is at least that old, and its
// admin's creation says it is at most that old.
type Age struct {
	Status AgeStatus     `json:"status"`
	Age    time.Duration `json:"-"`
	// Bound is "" for an exact age, "at least" or "at most" for a bound.
	Bound  string        `json:"bound,omitempty"`
	Since  time.Time     `json:"since,omitzero"`
	Source string        `json:"source"`
	Max    time.Duration `json:"-"`
	Hint   string        `json:"token"` // syt_…a1b2
	// Open is a rotation waiting for Finish or Rollback, if any.
	Open *Rotation `json:"open,omitempty"`
}

// Days is the age in whole days.
func (a Age) Days() int { return int(a.Age / (24 * time.Hour)) }

// String is the age in words: "12 days old", "at least 120 days old (token
// file written 2026-08-01)", "age unknown".
func (a Age) String() string {
	if a.Status == AgeUnknown && a.Bound == "" {
		return "age unknown: " + a.Source
	}
	s := fmt.Sprintf("%d days old", a.Days())
	if a.Bound != "" {
		s = a.Bound + " " + s
	}
	return s + " (" + a.Source + ")"
}

// Short is the status bar's word for it: "token 12d", "token ≥120d!", "token age ?".
func (a Age) Short() string {
	switch {
	case a.Status == AgeUnknown && a.Bound == "":
		return "token age ?"
	case a.Bound == "at least":
		return fmt.Sprintf("token ≥%dd", a.Days())
	case a.Bound == "at most":
		return fmt.Sprintf("token ≤%dd", a.Days())
	}
	return fmt.Sprintf("token %dd", a.Days())
}

// Age says how old the token synops uses is. It reads the rotation history
// and the token file without the network; only when no rotation recorded
// the token does it ask Synapse when the token's admin was created. It never
// fails: what it cannot tell, it says in Source.
func (s *Service) Age(ctx context.Context) Age {
	now := s.now()
	a := Age{Max: s.Config.MaxAge, Hint: s.Synapse.Token().Hint()}
	if a.Max <= 0 {
		a.Max = config.DefaultTokenMaxAge
	}
	judge := func() Age {
		switch {
		case a.Bound == "" || (a.Bound == "at least" && a.Age > a.Max):
			if a.Age > a.Max {
				a.Status = AgeOld
			} else {
				a.Status = AgeOK
			}
		case a.Bound == "at most" && a.Age <= a.Max:
			a.Status = AgeOK
		default:
			a.Status = AgeUnknown
		}
		return a
	}
	all, err := s.History.All()
	if err != nil {
		a.Source = err.Error()
		return a
	}
	for i := len(all) - 1; i >= 0; i-- {
		r := all[i]
		if r.Server != s.Server {
			continue
		}
		if a.Open == nil && r.Open() {
			a.Open = &r
		}
		if (r.Phase == Rotated || r.Phase == Finished) && r.NewHint == a.Hint && !r.RotatedAt.IsZero() {
			a.Since, a.Age = r.RotatedAt, now.Sub(r.RotatedAt)
			a.Source = "rotated by synops on " + r.RotatedAt.Format("2006-01-02") + ", as " + r.NewAdmin
			return judge()
		}
	}
	if s.Synapse.Token().IsZero() {
		a.Source = "no admin token"
		return a
	}
	// No rotation of ours made this token. A token file written at T holds
	// a token made at T or before; an admin created at C has tokens from C on.
	var lower, upper time.Duration
	var lowerSrc, upperSrc string
	if s.Own.File != "" {
		if fi, err := os.Stat(s.Own.File); err == nil {
			lower = now.Sub(fi.ModTime())
			lowerSrc = "token file " + s.Own.File + " last written " + fi.ModTime().Format("2006-01-02")
			a.Since = fi.ModTime()
		}
	}
	if w, err := s.Synapse.Whoami(ctx); err == nil {
		if u, err := s.Synapse.User(ctx, w.UserID); err == nil && u.CreationTS > 0 {
			created := time.Unix(u.CreationTS, 0)
			upper = now.Sub(created)
			upperSrc = w.UserID + " created " + created.Format("2006-01-02")
		}
	}
	switch {
	case lowerSrc != "" && lower > a.Max:
		a.Age, a.Bound, a.Source = lower, "at least", lowerSrc
	case upperSrc != "" && upper <= a.Max:
		a.Age, a.Bound, a.Source = upper, "at most", upperSrc
		a.Since = now.Add(-upper)
	case upperSrc != "":
		a.Age, a.Bound, a.Source = upper, "at most", upperSrc+"; no rotation by synops recorded"
		a.Since = now.Add(-upper)
	case lowerSrc != "":
		a.Age, a.Bound, a.Source = lower, "at least", lowerSrc+"; no rotation by synops recorded"
	default:
		a.Source = "no rotation by synops recorded, and Synapse did not say when its admin was created"
		return a
	}
	return judge()
}

// Status is the state of rotations: the age of the token in use, the
// newest rotation and what to do next.
type Status struct {
	Age    Age       `json:"age"`
	Latest *Rotation `json:"latest,omitempty"`
	Next   string    `json:"next"`
}

// Status reads the age and the history.
func (s *Service) Status(ctx context.Context) (Status, error) {
	st := Status{Age: s.Age(ctx)}
	latest, err := s.History.Latest(s.Server)
	if err != nil {
		return st, err
	}
	st.Latest = latest
	switch {
	case latest != nil && latest.Phase == Rotated:
		st.Next = fmt.Sprintf("rotated to %s on %s; the old token %s is still valid: `synops tokens finish` logs it out (`synops tokens rollback` undoes the rotation)",
			latest.NewAdmin, latest.RotatedAt.Format("2006-01-02 15:04"), latest.OldHint)
	case latest != nil && latest.Open():
		st.Next = fmt.Sprintf("the rotation to %s stopped at %q (%s): `synops tokens rollback` undoes it; the old token %s still works", latest.NewAdmin, latest.Step, latest.Phase, latest.OldHint)
	case st.Age.Status == AgeOld:
		st.Next = fmt.Sprintf("the token is older than %s: `synops tokens rotate`", config.FormatDuration(st.Age.Max))
	case st.Age.Status == AgeUnknown:
		st.Next = "its age is unknown: `synops tokens rotate` records one"
	default:
		st.Next = "nothing to do"
	}
	return st, nil
}
