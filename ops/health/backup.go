package health

import (
	"context"
	"fmt"
	"time"

	"synops/ops/backup"
)

// BackupCatalog reports on the backups; *backup.Catalog is one.
type BackupCatalog interface {
	Summary(ctx context.Context) (backup.Summary, error)
}

// backupCheck reports the age of the newest verified backup: yellow after
// BackupAgeWarn (a day), red after BackupAgeCrit (the profile's
// backup.fresh_within, the age beyond which the destructive operations
// refuse to run without a waiver), red when there is none, and red when
// the newest backup failed its verification or is not trusted.
func (c *Checker) backupCheck() check {
	stub := Result{ID: "backup.verified", Group: "Backups", Name: "newest verified backup"}
	th := c.cfg.Thresholds
	now := c.cfg.now
	return single(stub, Crit, func(ctx context.Context) Result {
		r := stub
		s, err := c.cfg.Backups.Summary(ctx)
		if err != nil {
			r.Status, r.Detail = Warn, "cannot read the backup catalog: "+err.Error()
			return r
		}
		if n := s.Newest; n != nil && (s.NewestVerified == nil || n.ID != s.NewestVerified.ID) {
			switch n.State {
			case backup.Failed:
				r.Status, r.Detail = Crit, fmt.Sprintf("the newest backup, %s, FAILED its verification: %s", n.ID, n.Manifest.Verification.Error)
				r.Hint = "look at the job log, fix the cause, then synops backup create --verify"
			case backup.Invalid:
				r.Status, r.Detail = Crit, fmt.Sprintf("the newest backup, %s, is not trusted: %s", n.ID, n.Problem)
				r.Hint = "see synops backup list; verify it again (synops backup verify " + n.ID + ") or take a new one"
			}
		}
		v := s.NewestVerified
		if v == nil {
			if r.Status == OK || r.Status == Unknown {
				r.Status, r.Detail = Crit, "no verified backup in "+s.Dir
			}
			if r.Hint == "" {
				r.Hint = "synops backup create --verify (and schedule it: see the README)"
			}
			return r
		}
		a := now().Sub(v.TakenAt())
		r.setNum(a.Seconds(), "s")
		r.Value = fmt.Sprintf("%s old (%s), verified %s ago", backup.FormatAge(a), v.ID, backup.FormatAge(now().Sub(v.VerifiedAt())))
		if r.Status != OK && r.Status != Unknown {
			return r // the failure above says more than the age
		}
		if c.cfg.LastReset != nil {
			if reset := c.cfg.LastReset(); v.TakenAt().Before(reset) {
				r.Status = Crit
				r.Detail = fmt.Sprintf("taken before the server was reset at %s: it holds none of what is on it now", reset.UTC().Format(time.RFC3339))
				r.Hint = "data-losing operations now need --without-backup: synops backup create --verify"
				return r
			}
		}
		st, at := above(a.Seconds(), th.BackupAgeWarn.Seconds(), th.BackupAgeCrit.Seconds())
		r.grade(st, at, backup.FormatAge(a)+" old", "over", func(s float64) string {
			return backup.FormatAge(time.Duration(s * float64(time.Second)))
		})
		if st == Crit {
			r.Hint = "data-losing operations now need --without-backup: synops backup create --verify"
		} else if st == Warn {
			r.Hint = "is the nightly backup running? (synops backup list)"
		}
		return r
	})
}
