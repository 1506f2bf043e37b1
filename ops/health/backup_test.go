package health

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops/backup"
	"synops/ops/backup/backuptest"
)

// summaryOf is a catalog that answers with a fixed summary: the grading
// below is about what the check makes of each state.
type summaryOf backup.Summary

func (s summaryOf) Summary(context.Context) (backup.Summary, error) { return backup.Summary(s), nil }

func entry(id, state string, taken time.Time, problem string) *backup.Entry {
	m := &backup.Manifest{ID: id, Kind: backup.KindBackup, TakenAt: taken,
		Verification: backup.Verification{State: state, At: taken.Add(time.Minute)}}
	if state == backup.Failed {
		m.Verification.Error = problem
	}
	return &backup.Entry{ID: id, State: state, Manifest: m, Problem: problem}
}

func runBackupCheck(t *testing.T, cat BackupCatalog, now time.Time) Result {
	t.Helper()
	return runBackupCheckAfter(t, cat, now, time.Time{})
}

// runBackupCheckAfter runs the check on a server last reset at lastReset.
func runBackupCheckAfter(t *testing.T, cat BackupCatalog, now, lastReset time.Time) Result {
	t.Helper()
	th := DefaultThresholds()
	th.BackupAgeCrit = 72 * time.Hour
	c := NewChecker(Config{Backups: cat, Thresholds: th, now: func() time.Time { return now },
		LastReset: func() time.Time { return lastReset }})
	defer c.Close()
	for _, r := range c.Run(context.Background(), Expensive) {
		if r.ID == "backup.verified" {
			return r
		}
	}
	t.Fatal("no backup.verified result")
	return Result{}
}

func TestBackupCheckGrades(t *testing.T) {
	now := time.Now()
	ok := entry("20260101T000000Z-aaaa", backup.Passed, now.Add(-2*time.Hour), "")
	tests := []struct {
		name   string
		sum    backup.Summary
		status Status
		want   string
	}{
		{"fresh", backup.Summary{NewestVerified: ok, Newest: ok}, OK, "2.0 h old (20260101T000000Z-aaaa)"},
		{"a day old turns yellow", backup.Summary{NewestVerified: entry("x", backup.Passed, now.Add(-30*time.Hour), "")}, Warn, "over the warning threshold of 24.0 h"},
		{"past fresh_within turns red", backup.Summary{NewestVerified: entry("x", backup.Passed, now.Add(-80*time.Hour), "")}, Crit, "over the critical threshold of 3.0 days"},
		{"none at all", backup.Summary{Dir: "/var/backups/synops"}, Crit, "no verified backup in /var/backups/synops"},
		{"newest failed", backup.Summary{NewestVerified: ok, Newest: entry("y", backup.Failed, now.Add(-time.Hour), "users has 3 rows, the dump had 4")}, Crit, "y, FAILED its verification: users has 3 rows"},
		{"newest not trusted", backup.Summary{NewestVerified: ok, Newest: entry("z", backup.Invalid, now.Add(-time.Hour), "db.zst does not match its checksum")}, Crit, "not trusted: db.zst does not match"},
		{"newest not verified yet", backup.Summary{NewestVerified: ok, Newest: entry("w", backup.Never, now.Add(-time.Minute), "")}, OK, "2.0 h old"},
		{"taken before the last reset", backup.Summary{NewestVerified: ok, Newest: ok}, Crit, "taken before the server was reset at " + now.Add(-time.Hour).UTC().Format(time.RFC3339)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lastReset := now.Add(-100 * time.Hour) // before every backup above
			if strings.Contains(tt.name, "last reset") {
				lastReset = now.Add(-time.Hour)
			}
			r := runBackupCheckAfter(t, summaryOf(tt.sum), now, lastReset)
			if r.Status != tt.status || !strings.Contains(r.Value+" "+r.Detail, tt.want) {
				t.Errorf("got %s, want %s mentioning %q", show(r), tt.status, tt.want)
			}
			if r.Status != OK && r.Hint == "" {
				t.Errorf("no hint for %s", show(r))
			}
		})
	}
}

// Against a real catalog with a real verified backup of the bed.
func TestBackupCheckOnRealCatalog(t *testing.T) {
	cat, id := backuptest.Verified(t, bed.SynapseDB, bed.Synapse.ServerName)
	r := runBackupCheck(t, cat, time.Now())
	if r.Status != OK || !strings.Contains(r.Value, id) || !r.HasNum || r.Unit != "s" {
		t.Errorf("fresh backup: %s", show(r))
	}
	if r := runBackupCheck(t, cat, time.Now().Add(25*time.Hour)); r.Status != Warn {
		t.Errorf("a day later: %s, want warning", show(r))
	}
	empty := backup.NewCatalog(filepath.Join(t.TempDir(), "none"), filepath.Join(t.TempDir(), "key"))
	if r := runBackupCheck(t, empty, time.Now()); r.Status != Crit {
		t.Errorf("empty catalog: %s, want critical", show(r))
	}
}
