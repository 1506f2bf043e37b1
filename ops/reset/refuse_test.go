package reset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/backup"
	"synops/ops/config"
)

// onBed is a reset service aimed at the bed's own Synapse, with custom
// service commands that would really stop it: every test here must leave
// it untouched.
type onBed struct {
	sp    spec
	calls string
}

func newOnBed(t *testing.T) *onBed {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "synctl")
	if err := bed.Synapse.WriteControlScript(script + ".real"); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "calls")
	if err := os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\necho \"$1\" >> %s\nexec %s.real \"$@\"\n", calls, script)), 0o755); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	own := filepath.Join(state, "admin.token")
	if err := os.WriteFile(own, []byte(bed.Synapse.AdminToken.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &onBed{calls: calls, sp: spec{
		Server: bed.Synapse.ServerName, Environment: "development", BaseURL: bed.Synapse.BaseURL,
		Token: bed.Synapse.AdminToken.Reveal(), Secret: bed.Synapse.SharedSecret.Reveal(),
		SynapseDB: bed.SynapseDB, AppDB: bed.AppDB, MediaStore: bed.Synapse.MediaStore,
		Services: config.Services{Kind: config.ServicesCustom,
			Start: []string{script, "start"}, Stop: []string{script, "stop"}, Status: []string{script, "status"}},
		Reset:    config.Reset{Path: config.ResetStandalone},
		StateDir: state, AuditPath: filepath.Join(state, "audit.log"), BackupDir: filepath.Join(t.TempDir(), "backups"),
		JobLog: filepath.Join(state, "reset-jobs.log"), OwnToken: own, FreshWithin: time.Hour,
	}}
}

// snapshot is what a reset would change on the bed.
type snapshot struct {
	users, rooms int64
	health       bool
	media        int
	ownToken     string
}

func (b *onBed) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	var s snapshot
	cn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatalf("the bed's database: %v", err)
	}
	defer cn.Close(ctx)
	if err := cn.QueryRow(ctx, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM rooms)").Scan(&s.users, &s.rooms); err != nil {
		t.Fatal(err)
	}
	s.health = bed.Synapse.Client().Health(ctx) == nil
	entries, _ := os.ReadDir(bed.Synapse.MediaStore)
	s.media = len(entries)
	s.ownToken = readFile(t, b.sp.OwnToken)
	return s
}

// unchanged checks that nothing a reset touches was touched: the bed's
// data and Synapse, the service commands (never asked to stop), the state
// file (no reset begun), and that the refusal is in the audit log.
func (b *onBed) unchanged(t *testing.T, before snapshot, refusedKind string) {
	t.Helper()
	if after := b.snapshot(t); after != before || !after.health {
		t.Errorf("after the refusal: %+v, before: %+v", after, before)
	}
	data, _ := os.ReadFile(b.calls)
	if calls := strings.Fields(string(data)); slices.Contains(calls, "stop") || slices.Contains(calls, "start") {
		t.Errorf("service commands run: %v, want only status", calls)
	}
	e := b.sp.mustBuild(t)
	if st, err := e.svc.Status(ctxT(t, time.Minute)); err != nil || st != nil && st.Started() {
		t.Errorf("state after the refusal: %+v %v, want no reset begun", st, err)
	}
	var refused bool
	for _, e := range auditLines(t, b.sp.AuditPath) {
		if e.Action == refusedKind && e.Phase == "refused" {
			refused = true
		}
		if e.Phase == "start" && strings.HasPrefix(e.Action, "reset.") {
			t.Errorf("audit: %s began", e.Action)
		}
	}
	if !refused {
		t.Errorf("the audit log has no refused %s line", refusedKind)
	}
}

func TestRefusesProductionWithoutOverride(t *testing.T) {
	b := newOnBed(t)
	b.sp.Environment = "production"
	e := b.sp.mustBuild(t)
	before := b.snapshot(t)
	ctx := ctxT(t, time.Minute)
	_, err := e.svc.Plan(ctx, Request{})
	if !errors.Is(err, ErrProduction) || !strings.Contains(err.Error(), "--production-override") {
		t.Fatalf("plan of a production profile: %v, want ErrProduction naming the override", err)
	}
	b.unchanged(t, before, KindReset)

	// With the override the reset is planned, with the warning in its
	// evidence, and still needs the server name typed.
	p, err := e.svc.Plan(ctx, Request{ProductionOverride: true})
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Checklist.Item(ItemEnvironment); it.Status != Warn || !strings.Contains(it.Evidence, "labelled production and the override was given") {
		t.Errorf("environment item with the override: %+v", it)
	}
	if p.Op.Target != bed.Synapse.ServerName {
		t.Errorf("target %q, want the server name", p.Op.Target)
	}
}

func TestRefusesWithoutFreshVerifiedBackup(t *testing.T) {
	b := newOnBed(t)
	e := b.sp.mustBuild(t)
	ctx := ctxT(t, 5*time.Minute)
	if _, err := e.svc.ConfirmTold(ctx, "stand-up"); err != nil {
		t.Fatal(err)
	}
	before := b.snapshot(t)
	try := func(t *testing.T, wantNote string) {
		t.Helper()
		p, err := e.svc.Plan(ctx, Request{})
		if err != nil {
			t.Fatal(err)
		}
		if it := p.Checklist.Item(ItemBackup); it.Status != Fail || !strings.Contains(it.Evidence, wantNote) {
			t.Errorf("backup item: %+v, want failed saying %q", it, wantNote)
		}
		req := e.guard.Request(ctx, p.Op)
		if !req.NeedsWaiver() || req.Phrase() != bed.Synapse.ServerName+ops.WaiverSuffix {
			t.Errorf("phrase %q, want the server name followed by %q", req.Phrase(), ops.WaiverSuffix)
		}
		if _, err := req.Approve(bed.Synapse.ServerName, time.Now()); !errors.Is(err, ops.ErrNoBackup) {
			t.Errorf("the bare server name: %v, want ErrNoBackup", err)
		}
		// An approval without the waiver (as a script's --confirm alone gives).
		a, err := ops.Approve(p.Op, bed.Synapse.ServerName, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if w, err := e.svc.Start(ctx, p, a); !errors.Is(err, ops.ErrNoBackup) {
			if w != nil {
				_ = w.Stop(errors.New("test"))
			}
			t.Fatalf("start without a backup: %v, want ErrNoBackup", err)
		}
	}
	t.Run("none", func(t *testing.T) { try(t, "no verified backup exists") })

	// A backup that was never verified does not count.
	bp, err := e.backups.PlanCreate(ctx, backup.CreateRequest{Media: config.MediaNone})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.backups.ApplyCreate(ctx, bp, ops.Approval{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("unverified", func(t *testing.T) { try(t, "no verified backup exists") })

	// Verified, but older than backup.fresh_within.
	vp, err := e.backups.PlanVerify(ctx, backup.VerifyRequest{ID: res.Entry.ID})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.backups.ApplyVerify(ctx, vp, ops.Approval{}, nil); err != nil || !v.Passed {
		t.Fatalf("verify: %+v %v", v, err)
	}
	e.guard.Now = func() time.Time { return time.Now().Add(3 * time.Hour) }
	t.Run("old", func(t *testing.T) { try(t, "older than 1h0m0s") })
	b.unchanged(t, before, KindReset)

	// Accepting the loss explicitly lets the reset begin; stopped at once,
	// it changed nothing on the server.
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil || !a.WithoutBackup {
		t.Fatalf("approve with the waiver: %+v %v", a, err)
	}
	w, err := e.svc.Start(ctx, p, a)
	if err != nil {
		t.Fatalf("start with the waiver: %v", err)
	}
	_ = w.Stop(errors.New("the test stops before the first step"))
	if st := w.State(); !st.NoBackup || st.Phase != Stopped || st.Started() {
		t.Errorf("state: %+v, want stopped before its first step, the waiver recorded", st)
	}
	if after := b.snapshot(t); after != before {
		t.Errorf("after a walk stopped before its first step: %+v, before %+v", after, before)
	}
}

func TestRefusesInReadOnlyMode(t *testing.T) {
	b := newOnBed(t)
	b.sp.ReadOnly = true
	e := b.sp.mustBuild(t)
	ctx := ctxT(t, time.Minute)
	if _, err := e.svc.ConfirmTold(ctx, ""); err != nil {
		t.Fatal(err)
	}
	before := b.snapshot(t)
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatalf("planning reads only and works in read-only mode: %v", err)
	}
	a, err := approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Start(ctx, p, a); !errors.Is(err, ops.ErrReadOnly) {
		t.Fatalf("start in read-only mode: %v, want ErrReadOnly", err)
	}
	b.unchanged(t, before, KindReset)
}

func TestRefusesWrongServerName(t *testing.T) {
	b := newOnBed(t)
	e := b.sp.mustBuild(t)
	ctx := ctxT(t, time.Minute)
	if _, err := e.svc.ConfirmTold(ctx, ""); err != nil {
		t.Fatal(err)
	}
	before := b.snapshot(t)
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	req := e.guard.Request(ctx, p.Op)
	for _, typed := range []string{"synops.tes", "synops.test ", "other.test" + ops.WaiverSuffix, ""} {
		if _, err := req.Approve(typed, time.Now()); !errors.Is(err, ops.ErrNotApproved) {
			t.Errorf("typed %q: %v, want ErrNotApproved", typed, err)
		}
	}
	// No approval at all, and one made for another plan.
	if _, err := e.svc.Start(ctx, p, ops.Approval{WithoutBackup: true}); !errors.Is(err, ops.ErrNotApproved) {
		t.Errorf("start without an approval: %v, want ErrNotApproved", err)
	}
	other, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := approveAll(ctx, e.guard, other.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Start(ctx, p, a); !errors.Is(err, ops.ErrNotApproved) {
		t.Errorf("start with another plan's approval: %v, want ErrNotApproved", err)
	}
	b.unchanged(t, before, KindReset)
}

// The team item is the operator's: until they confirm or synops sends the
// notice, the reset does not begin.
func TestRefusesUntilTheTeamIsTold(t *testing.T) {
	b := newOnBed(t)
	e := b.sp.mustBuild(t)
	ctx := ctxT(t, time.Minute)
	before := b.snapshot(t)
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Start(ctx, p, a); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "synops reset notify") {
		t.Fatalf("start before the team was told: %v, want ErrNotReady saying how to tell them", err)
	}
	b.unchanged(t, before, KindReset)

	// A confirmation from long ago no longer counts.
	if _, err := e.svc.ConfirmTold(ctx, "last week"); err != nil {
		t.Fatal(err)
	}
	e.svc.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if it := e.svc.Checklist(ctx, CheckOptions{}).Item(ItemTeam); it.Status != Pending || !strings.Contains(it.Evidence, "longer ago than 1d") {
		t.Errorf("a day-old confirmation: %+v, want pending", it)
	}
	e.svc.Now = nil
	it := e.svc.Checklist(ctx, CheckOptions{}).Item(ItemTeam)
	if it.Status != OK || !strings.Contains(it.Evidence, "operator at") || !strings.Contains(it.Evidence, "last week") {
		t.Errorf("after the confirmation: %+v", it)
	}
	var recorded bool
	for _, e := range auditLines(t, b.sp.AuditPath) {
		if e.Action == "reset.told" && e.Outcome == "ok" {
			recorded = true
		}
	}
	if !recorded {
		t.Error("the confirmation is not in the audit log")
	}

}

// When the steps cannot be listed (here: no media store where the profile
// says), the plan still shows the checklist saying why, and cannot start.
func TestPlanWithoutSteps(t *testing.T) {
	b := newOnBed(t)
	b.sp.MediaStore = filepath.Join(t.TempDir(), "gone", "media")
	e := b.sp.mustBuild(t)
	ctx := ctxT(t, time.Minute)
	if _, err := e.svc.ConfirmTold(ctx, ""); err != nil {
		t.Fatal(err)
	}
	before := b.snapshot(t)
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatalf("plan: %v, want the checklist anyway", err)
	}
	if it := p.Checklist.Item(ItemDeployment); it.Status != Fail || !strings.Contains(it.Evidence, "no such file or directory") {
		t.Errorf("deployment item: %+v", it)
	}
	if len(p.Steps) != 0 || !strings.Contains(p.StepsError, "media store") || len(p.Blocking()) != 1 {
		t.Errorf("steps %v, error %q, blocking %+v", p.Steps, p.StepsError, p.Blocking())
	}
	a, err := approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Start(ctx, p, a); !errors.Is(err, ErrNotReady) {
		t.Errorf("start: %v, want ErrNotReady", err)
	}
	b.unchanged(t, before, KindReset)
}
