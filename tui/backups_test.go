package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/backup"
)

// shelf is the ops side of the Backups pane for view and key tests: a fixed
// catalog, plans like ops/backup's (create and verify read-only, restore
// and prune needing the server name), and what it is asked to apply. The
// real backup service is tested against PostgreSQL in ops/backup and end to
// end in cmd/synops.
type shelf struct {
	entries  []backup.Entry
	verified []string
	restored []backup.RestoreRequest
	created  []backup.CreateRequest
}

func (s *shelf) List(context.Context) ([]backup.Entry, error) { return s.entries, nil }

func (s *shelf) plan(kind, target string, risk ops.Risk) *ops.Plan {
	p := ops.NewPlan(kind, target, "sandbox.local", "development", fixedNow)
	p.Steps = []ops.Step{{Title: kind, Risk: risk}}
	return p
}

func (s *shelf) PlanCreate(_ context.Context, req backup.CreateRequest) (*ops.Plan, error) {
	p := s.plan("backup.create", "sandbox.local", ops.ReadOnly)
	p.Params = []byte(fmt.Sprintf(`{"verify":%v}`, req.Verify))
	return p, nil
}

func (s *shelf) ApplyCreate(_ context.Context, p *ops.Plan, _ ops.Approval, _ func(ops.Progress)) (*backup.CreateResult, error) {
	s.created = append(s.created, backup.CreateRequest{Verify: strings.Contains(string(p.Params), "true")})
	return &backup.CreateResult{Entry: backup.Entry{ID: "synapse-new", State: backup.Never}}, nil
}

func (s *shelf) PlanVerify(_ context.Context, req backup.VerifyRequest) (*ops.Plan, error) {
	return s.plan("backup.verify", req.ID, ops.ReadOnly), nil
}

func (s *shelf) ApplyVerify(_ context.Context, p *ops.Plan, _ ops.Approval, _ func(ops.Progress)) (*backup.VerifyResult, error) {
	s.verified = append(s.verified, p.Target)
	return &backup.VerifyResult{ID: p.Target, Passed: true, Took: 3 * time.Second}, nil
}

func (s *shelf) PlanPrune(context.Context) (*ops.Plan, error) {
	return s.plan("backup.prune", "sandbox.local", ops.Destructive), nil
}

func (s *shelf) ApplyPrune(context.Context, *ops.Plan, ops.Approval, func(ops.Progress)) (*backup.PruneResult, error) {
	return &backup.PruneResult{}, nil
}

func (s *shelf) PlanRestore(_ context.Context, req backup.RestoreRequest) (*ops.Plan, error) {
	p := s.plan("backup.restore", "sandbox.local", ops.Destructive)
	p.Params = []byte(fmt.Sprintf(`{"id":%q,"media":%v}`, req.ID, req.Media))
	p.Impact = []string{"replaces the database with backup " + req.ID}
	return p, nil
}

func (s *shelf) ApplyRestore(_ context.Context, p *ops.Plan, _ ops.Approval, _ func(ops.Progress)) (*backup.RestoreResult, error) {
	id := strings.Split(string(p.Params), `"`)[3]
	s.restored = append(s.restored, backup.RestoreRequest{ID: id, Media: strings.Contains(string(p.Params), `"media":true`)})
	return &backup.RestoreResult{ID: id, SafetyBackup: "synapse-safety"}, nil
}

func (s *shelf) PlanVolumes(context.Context) (*ops.Plan, error) {
	return s.plan("backup.volumes", "sandbox.local", ops.Reversible), nil
}

func (s *shelf) ApplyVolumes(context.Context, *ops.Plan, ops.Approval, func(ops.Progress)) (*backup.Entry, error) {
	return &backup.Entry{ID: "volumes-1"}, nil
}

func sampleEntries() []backup.Entry {
	m := func(id string, taken time.Time, v backup.Verification) *backup.Manifest {
		return &backup.Manifest{ID: id, Kind: "synapse", Server: "sandbox.local", TakenAt: taken, SchemaVersion: 92, PostgresVersion: "15.18",
			Parts:        []backup.Part{{Name: backup.PartSynapseDB, File: "synapse.dump.zst", Size: 64 << 20, Rows: map[string]int64{"users": 9, "rooms": 16}}, {Name: backup.PartMedia, File: "media.tar.zst", Size: 3 << 20}},
			Verification: v}
	}
	return []backup.Entry{
		{ID: "synapse-20261123-0200", State: backup.Passed, Manifest: m("synapse-20261123-0200", fixedNow.Add(-9*time.Hour),
			backup.Verification{State: backup.Passed, At: fixedNow.Add(-8 * time.Hour), Seconds: 41})},
		{ID: "synapse-20261122-0200", State: backup.Failed, Problem: "restore test failed: row counts differ (events 120 in the manifest, 118 restored)",
			Manifest: m("synapse-20261122-0200", fixedNow.Add(-33*time.Hour), backup.Verification{State: backup.Failed, At: fixedNow.Add(-32 * time.Hour), Seconds: 39, Error: "row counts differ"})},
		{ID: "synapse-20261121-0200", State: backup.Never, Manifest: m("synapse-20261121-0200", fixedNow.Add(-57*time.Hour), backup.Verification{State: backup.Never})},
	}
}

func backupsRoot(t testing.TB, readOnly bool, w, h int) (*Model, *BackupsPane, *shelf) {
	c := testCommon(readOnly)
	src := &shelf{entries: sampleEntries()}
	bp := NewBackupsPane(c, src)
	m := New(c, NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second), bp)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(press("2"))
	drain(m, bp.load())
	return m, bp, src
}

func TestBackupsGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {140, 40}} {
		m, bp, _ := backupsRoot(t, false, size[0], size[1])
		got := screen(m)
		golden(t, filepath.Join("testdata", fmt.Sprintf("backups_%dx%d.golden", size[0], size[1])), got)
		checkRaw(t, "backups pane", bp.View())
		for _, want := range []string{"✓", "✗", "·", "synapse-20261123-0200", "passed", "restore test passed"} {
			if !strings.Contains(got, want) {
				t.Errorf("%dx%d lacks %q", size[0], size[1], want)
			}
		}
	}
}

// Verifying and backing up change nothing on the server: they run at once,
// with no typed confirmation, in read-only mode too. Restore asks about the
// media, then wants the server name typed; read-only mode hides it.
func TestBackupsActions(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m, _, src := backupsRoot(t, ro, 140, 40)
		s := send(m)
		s(press("j")) // the failed one
		drain(m, s(press("v")))
		if m.confirm != nil || len(src.verified) != 1 || src.verified[0] != "synapse-20261122-0200" {
			t.Fatalf("read-only=%v: v verified %v (dialog open %v)", ro, src.verified, m.confirm != nil)
		}
		drain(m, s(press("c")))
		typeText(t, s, "yes")
		drain(m, s(press("enter")))
		if len(src.created) != 1 || !src.created[0].Verify {
			t.Errorf("read-only=%v: created %+v, want one verified backup", ro, src.created)
		}
		drain(m, s(press("R")))
		if (m.runner.ask != nil) == ro {
			t.Fatalf("read-only=%v: R asked = %v", ro, m.runner.ask != nil)
		}
		if ro {
			continue
		}
		typeText(t, s, "no")
		drain(m, s(press("enter")))
		if m.confirm == nil || !strings.Contains(screen(m), "Restore backup") {
			t.Fatalf("no restore dialog:\n%s", screen(m))
		}
		typeText(t, s, "synapse-20261122-0200") // the backup's ID is not the phrase
		drain(m, s(press("enter")))
		if len(src.restored) != 0 || m.confirm == nil {
			t.Fatal("a restore was approved with the backup's ID")
		}
		s(press("esc"))
		drain(m, nil)
		drain(m, s(press("R")))
		typeText(t, s, "no")
		drain(m, s(press("enter")))
		typeText(t, s, "sandbox.local")
		drain(m, s(press("enter")))
		if len(src.restored) != 1 || src.restored[0].ID != "synapse-20261122-0200" || src.restored[0].Media {
			t.Errorf("restored %+v", src.restored)
		}
	}
}
