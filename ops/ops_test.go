package ops

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synops/ops/audit"
)

func testPlan() *Plan {
	p := NewPlan("rooms.delete", "!abc:example.org", "example.org", "development", time.Unix(1_700_000_000, 0))
	p.Steps = []Step{{Title: "kick 2 local members", Risk: Irreversible}, {Title: "clear 3 references", Risk: Destructive}}
	p.LosesData = true
	p.Params = json.RawMessage(`{"room_id":"!abc:example.org"}`)
	return p
}

func TestApprove(t *testing.T) {
	p := testPlan()
	now := time.Now()
	a, err := Approve(p, "!abc:example.org", now)
	if err != nil {
		t.Fatalf("exact target: %v", err)
	}
	if !a.Matches(p) || a.Typed != "!abc:example.org" || !a.At.Equal(now) || a.WithoutBackup {
		t.Errorf("approval %+v: want it to match, record the typed text and time, and not waive the backup", a)
	}

	tests := []struct {
		typed string
		want  string // in the error
	}{
		{" !abc:example.org", "extra spaces"},
		{"!abc:example.org ", "extra spaces"},
		{"!abc:example.org\n", "extra spaces"},
		{"", "type !abc:example.org exactly"},
		{"yes", "type !abc:example.org exactly"},
		{"!ABC:example.org", "type !abc:example.org exactly"},
		{"!abc:example.or", "type !abc:example.org exactly"},
		{"example.org", "type !abc:example.org exactly"},
	}
	for _, tt := range tests {
		a, err := Approve(p, tt.typed, now)
		if !errors.Is(err, ErrNotApproved) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Approve(%q) = %v; want ErrNotApproved saying %q", tt.typed, err, tt.want)
		}
		if a.Matches(p) {
			t.Errorf("Approve(%q) returned an approval that matches", tt.typed)
		}
	}
	if _, err := Approve(nil, "x", now); err == nil {
		t.Error("Approve(nil) succeeded")
	}
	if (Approval{}).Matches(p) {
		t.Error("the zero approval matches a plan")
	}
	if (Approval{Typed: p.Target}).Matches(p) {
		t.Error("an approval not made by Approve matches a plan")
	}
}

func TestApproveBindsToOnePlan(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *Plan)
	}{
		{"another plan ID", func(p *Plan) { p.ID = "000000000000" }},
		{"another kind", func(p *Plan) { p.Kind = "rooms.block" }},
		{"another target", func(p *Plan) { p.Target = "!other:example.org" }},
		{"another server", func(p *Plan) { p.Server = "other.org" }},
		{"a step retitled", func(p *Plan) { p.Steps[0].Title = "kick 20 local members" }},
		{"a step's risk lowered", func(p *Plan) { p.Steps[0].Risk = Reversible }},
		{"a step added", func(p *Plan) { p.Steps = append(p.Steps, Step{Title: "block", Risk: Reversible}) }},
		{"a step removed", func(p *Plan) { p.Steps = p.Steps[:1] }},
		{"other params", func(p *Plan) { p.Params = json.RawMessage(`{"room_id":"!other:example.org"}`) }},
		// The guard checks for a backup only when the plan says it loses
		// data: flipping that after approval would skip the backup rule.
		{"no longer loses data", func(p *Plan) { p.LosesData = false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			a, err := Approve(p, p.Target, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			tt.change(p)
			if a.Matches(p) {
				t.Errorf("the approval still matches after the plan changed (%s)", tt.name)
			}
		})
	}
	// Two plans of the same thing are still two plans.
	p1, p2 := testPlan(), testPlan()
	a1, _ := Approve(p1, p1.Target, time.Now())
	if p1.ID == p2.ID || a1.Matches(p2) {
		t.Errorf("an approval of plan %s matches plan %s", p1.ID, p2.ID)
	}
	// What the plan only shows does not bind the approval.
	p := testPlan()
	a, _ := Approve(p, p.Target, time.Now())
	p.Impact = append(p.Impact, "refreshed figure")
	if !a.Matches(p) {
		t.Error("changing only the impact text invalidated the approval")
	}
}

func TestRisk(t *testing.T) {
	order := []Risk{ReadOnly, Reversible, Destructive, Irreversible}
	names := []string{"read-only", "reversible", "destructive", "irreversible"}
	for i, r := range order {
		if got := r.String(); got != names[i] {
			t.Errorf("Risk(%d).String() = %q, want %q", int(r), got, names[i])
		}
		if b, _ := r.MarshalText(); string(b) != names[i] {
			t.Errorf("Risk(%d).MarshalText() = %q, want %q", int(r), b, names[i])
		}
		if i > 0 && !(order[i-1] < r) {
			t.Errorf("%s is not below %s", order[i-1], r)
		}
	}
	tests := []struct {
		steps []Risk
		want  Risk
	}{
		{nil, ReadOnly},
		{[]Risk{ReadOnly}, ReadOnly},
		{[]Risk{Reversible, ReadOnly}, Reversible},
		{[]Risk{Destructive, Reversible}, Destructive},
		{[]Risk{Reversible, Irreversible, Destructive}, Irreversible},
	}
	for _, tt := range tests {
		p := &Plan{}
		for _, r := range tt.steps {
			p.Steps = append(p.Steps, Step{Title: r.String(), Risk: r})
		}
		if got := p.Risk(); got != tt.want {
			t.Errorf("plan with steps %v: risk %s, want %s", tt.steps, got, tt.want)
		}
	}
	b, err := json.Marshal(Step{Title: "x", Risk: Destructive})
	if err != nil || string(b) != `{"title":"x","risk":"destructive"}` {
		t.Errorf("step JSON %s, %v", b, err)
	}
}

// gate is a BackupGate with a fixed answer.
type gate struct {
	at    time.Time
	where string
	err   error
}

func (g gate) NewestVerified(context.Context) (time.Time, string, error) { return g.at, g.where, g.err }

func newGuard(t *testing.T, now time.Time) (*Guard, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	log, err := audit.Open(path, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return &Guard{Audit: log, Profile: "prod", FreshWithin: 24 * time.Hour, Now: func() time.Time { return now }}, path
}

func readAudit(t *testing.T, path string) []audit.Entry {
	t.Helper()
	es, err := audit.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestGuardBegin(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	approved := func(p *Plan, withoutBackup bool) Approval {
		a, err := Approve(p, p.Target, now)
		if err != nil {
			t.Fatal(err)
		}
		a.WithoutBackup = withoutBackup
		return a
	}
	readOnlyPlan := func() *Plan {
		p := NewPlan("rooms.inspect", "!abc:example.org", "example.org", "production", now)
		p.Steps = []Step{{Title: "read", Risk: ReadOnly}}
		return p
	}
	reversible := func() *Plan {
		p := NewPlan("rooms.block", "!abc:example.org", "example.org", "production", now)
		p.Steps = []Step{{Title: "block", Risk: Reversible}}
		return p
	}

	tests := []struct {
		name     string
		plan     func() *Plan
		readOnly bool
		backups  BackupGate
		approve  func(p *Plan) Approval
		want     error  // nil: allowed
		wantText string // in the refusal
	}{
		{"read-only plan in read-only mode, no approval", readOnlyPlan, true, nil, func(*Plan) Approval { return Approval{} }, nil, ""},
		{"no steps", func() *Plan { p := reversible(); p.Steps = nil; return p }, false, nil, func(*Plan) Approval { return Approval{} }, ErrBadPlan, "rooms.block of !abc:example.org has no steps"},
		{"no steps, approved", func() *Plan { p := reversible(); p.Steps = nil; return p }, false, nil, func(p *Plan) Approval { return approved(p, true) }, ErrBadPlan, "has no steps"},
		{"read-only steps, a kind that changes things", func() *Plan {
			p := reversible()
			p.Steps[0].Risk = ReadOnly
			return p
		}, false, nil, func(*Plan) Approval { return Approval{} }, ErrBadPlan, "rooms.block is not a read-only kind"},
		{"read-only kind without steps", func() *Plan { p := readOnlyPlan(); p.Steps = nil; return p }, true, nil, func(*Plan) Approval { return Approval{} }, ErrBadPlan, "has no steps"},
		{"reversible in read-only mode", reversible, true, nil, func(p *Plan) Approval { return approved(p, false) }, ErrReadOnly, "read-only"},
		{"destructive in read-only mode", testPlan, true, gate{at: now}, func(p *Plan) Approval { return approved(p, true) }, ErrReadOnly, "read-only"},
		{"reversible without approval", reversible, false, nil, func(*Plan) Approval { return Approval{} }, ErrNotApproved, "type !abc:example.org"},
		{"approval of another plan", reversible, false, nil, func(*Plan) Approval { return approved(reversible(), false) }, ErrNotApproved, ""},
		{"reversible approved, no backup needed", reversible, false, nil, func(p *Plan) Approval { return approved(p, false) }, nil, ""},
		{"loses data, no backups configured", testPlan, false, nil, func(p *Plan) Approval { return approved(p, false) }, ErrNoBackup, "no backup directory is configured"},
		{"loses data, no verified backup", testPlan, false, gate{}, func(p *Plan) Approval { return approved(p, false) }, ErrNoBackup, "no verified backup exists"},
		{"loses data, stale backup", testPlan, false, gate{at: now.Add(-25 * time.Hour), where: "synapse-0228.dump"}, func(p *Plan) Approval { return approved(p, false) }, ErrNoBackup, "synapse-0228.dump) is 25h0m0s old, older than 24h0m0s"},
		{"loses data, backup check fails", testPlan, false, gate{err: errors.New("permission denied")}, func(p *Plan) Approval { return approved(p, false) }, ErrNoBackup, "could not check backups: permission denied"},
		{"loses data, fresh backup", testPlan, false, gate{at: now.Add(-time.Hour), where: "synapse-0301.dump"}, func(p *Plan) Approval { return approved(p, false) }, nil, ""},
		{"loses data, waived", testPlan, false, nil, func(p *Plan) Approval { return approved(p, true) }, nil, ""},
		{"waiver without approval", testPlan, false, nil, func(*Plan) Approval { return Approval{WithoutBackup: true} }, ErrNotApproved, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, path := newGuard(t, now)
			g.ReadOnly, g.Backups = tt.readOnly, tt.backups
			p := tt.plan()
			finish, err := g.Begin(ctx, p, tt.approve(p))
			es := readAudit(t, path)
			if tt.want != nil {
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantText) || finish != nil {
					t.Fatalf("got %v, want %v saying %q", err, tt.want, tt.wantText)
				}
				if len(es) != 1 || es[0].Phase != "refused" || es[0].Error != err.Error() || es[0].PlanID != p.ID {
					t.Errorf("audit %+v, want one refused line with the error", es)
				}
				return
			}
			if err != nil || finish == nil {
				t.Fatalf("Begin: %v", err)
			}
			if len(es) != 1 || es[0].Phase != "start" || es[0].Action != p.Kind || es[0].Target != p.Target ||
				es[0].Risk != p.Risk().String() || es[0].Profile != "prod" || es[0].Environment != p.Environment {
				t.Errorf("audit %+v, want one start line describing the plan", es)
			}
		})
	}
}

func TestGuardFinishAndWaiver(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g, path := newGuard(t, now)
	p := testPlan()
	a, _ := Approve(p, p.Target, now)
	a.WithoutBackup = true
	finish, err := g.Begin(ctx, p, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := finish(nil, map[string]int{"deleted": 1}); err != nil {
		t.Fatal(err)
	}
	finish2, err := g.Begin(ctx, p, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := finish2(errors.New("synapse went away"), nil); err != nil {
		t.Fatal(err)
	}
	es := readAudit(t, path)
	if len(es) != 4 {
		t.Fatalf("got %d audit lines, want 4: %+v", len(es), es)
	}
	if d, _ := json.Marshal(es[0].Detail); string(d) != `{"without_backup":true}` {
		t.Errorf("start line detail %s, want the waiver recorded", d)
	}
	if es[1].Phase != "end" || es[1].Outcome != "ok" || es[1].Error != "" {
		t.Errorf("end line %+v, want ok", es[1])
	}
	if d, _ := json.Marshal(es[1].Detail); string(d) != `{"deleted":1}` {
		t.Errorf("end line detail %s", d)
	}
	if es[3].Phase != "end" || es[3].Outcome != "failed" || es[3].Error != "synapse went away" {
		t.Errorf("end line %+v, want failed with the error", es[3])
	}
	for _, e := range es {
		if !e.Time.Equal(now) || e.Operator == "" {
			t.Errorf("line %+v lacks the time or the operator", e)
		}
	}
}

// An end line that cannot be written is reported, not dropped: the change
// happened, its record did not.
func TestGuardFinishReportsUnwrittenEnd(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		opErr error
		want  string
	}{{"ok", nil, "ended (ok)"}, {"failed", errors.New("synapse went away"), "ended (failed)"}} {
		t.Run(tc.name, func(t *testing.T) {
			g, path := newGuard(t, now)
			p := testPlan()
			a, _ := Approve(p, p.Target, now)
			a.WithoutBackup = true
			finish, err := g.Begin(ctx, p, a)
			if err != nil {
				t.Fatal(err)
			}
			// The log goes away between the start and the end line (a full
			// disk or a removed file look the same to Write).
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			err = finish(tc.opErr, nil)
			if !errors.Is(err, ErrUnrecorded) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p.Kind) {
				t.Errorf("finish = %v, want ErrUnrecorded saying the operation %s", err, tc.want)
			}
		})
	}
}

func TestGuardWithoutAuditLogRefuses(t *testing.T) {
	g := &Guard{}
	p := testPlan()
	a, _ := Approve(p, p.Target, time.Now())
	a.WithoutBackup = true
	if finish, err := g.Begin(context.Background(), p, a); err == nil || finish != nil || !strings.Contains(err.Error(), "no audit log") {
		t.Errorf("Begin without an audit log = %v, want a refusal", err)
	}
}

func TestGuardBackupState(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g := &Guard{FreshWithin: time.Hour, Now: func() time.Time { return now }}
	p := testPlan()
	p.LosesData = false
	if ok, note := g.BackupState(ctx, p); !ok || note != "" {
		t.Errorf("a plan that loses nothing: %v %q", ok, note)
	}
	p.LosesData = true
	g.Backups = gate{at: now.Add(-59 * time.Minute), where: "a.dump"}
	if ok, note := g.BackupState(ctx, p); !ok || !strings.Contains(note, "a.dump") {
		t.Errorf("fresh backup: %v %q", ok, note)
	}
	g.Backups = gate{at: now.Add(-61 * time.Minute), where: "a.dump"}
	if ok, _ := g.BackupState(ctx, p); ok {
		t.Error("a backup older than FreshWithin counted")
	}
}

func TestRequestWaiver(t *testing.T) {
	now := time.Now()
	covered := Request{Plan: testPlan(), BackupOK: true, BackupNote: "verified backup b1"}
	bare := Request{Plan: testPlan(), BackupOK: false, BackupNote: "no verified backup exists"}
	tests := []struct {
		name    string
		r       Request
		typed   string
		waived  bool
		wantErr error
	}{
		{"backup covers it: the target", covered, "!abc:example.org", false, nil},
		{"backup covers it: the waiver is not the phrase", covered, "!abc:example.org without backup", false, ErrNotApproved},
		{"no backup: the target alone", bare, "!abc:example.org", false, ErrNoBackup},
		{"no backup: target and waiver", bare, "!abc:example.org without backup", true, nil},
		{"no backup: wrong target and waiver", bare, "!abd:example.org without backup", false, ErrNotApproved},
		{"no backup: waiver alone", bare, "without backup", false, ErrNotApproved},
	}
	for _, tt := range tests {
		a, err := tt.r.Approve(tt.typed, now)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr != nil) != (err != nil) {
			t.Errorf("%s: Approve(%q) error %v, want %v", tt.name, tt.typed, err, tt.wantErr)
			continue
		}
		if err == nil && (!a.Matches(tt.r.Plan) || a.WithoutBackup != tt.waived) {
			t.Errorf("%s: approval matches=%v waived=%v, want true and %v", tt.name, a.Matches(tt.r.Plan), a.WithoutBackup, tt.waived)
		}
	}
	if got := bare.Phrase(); got != "!abc:example.org without backup" {
		t.Errorf("phrase without backup %q", got)
	}
	if got := covered.Phrase(); got != "!abc:example.org" {
		t.Errorf("phrase with backup %q", got)
	}
	if _, err := bare.Approve("!abc:example.org", now); err == nil || !strings.Contains(err.Error(), `"!abc:example.org without backup"`) {
		t.Errorf("the refusal does not say what to type: %v", err)
	}
	nothingLost := Request{Plan: testPlan()}
	nothingLost.Plan.LosesData = false
	if nothingLost.NeedsWaiver() || nothingLost.Phrase() != "!abc:example.org" {
		t.Error("a plan that loses nothing asks for the waiver")
	}
}
