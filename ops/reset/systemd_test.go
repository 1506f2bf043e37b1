package reset

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services/servicestest"
)

// systemd cannot run here: the standalone path on systemd is checked by
// the exact commands a stub systemctl receives. The stub remembers what it
// was told (stop makes the unit inactive, start active again), while the
// bed's Synapse, which no systemd runs, keeps answering: the reset must
// notice that and stop before it drops anything.
func TestSystemdCommands(t *testing.T) {
	b := newOnBed(t)
	unit := filepath.Join(t.TempDir(), "unit-state")
	if err := os.WriteFile(unit, []byte("active\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stub := servicestest.Install(t, "systemctl", `
case "$1" in
  is-active) s=$(cat `+unit+`); echo "$s"; [ "$s" = active ] || exit 3 ;;
  stop) echo inactive > `+unit+` ;;
  start) echo active > `+unit+` ;;
esac`)
	media := t.TempDir()
	if err := os.WriteFile(filepath.Join(media, "keep-me"), []byte("media"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.sp.Services = config.Services{Kind: config.ServicesSystemd, SynapseUnit: "matrix-synapse", PostgresUnit: "postgresql"}
	b.sp.MediaStore = media
	e := b.sp.mustBuild(t)
	e.svc.stopGrace = time.Second
	ctx := ctxT(t, 2*time.Minute)
	before := b.snapshot(t)
	if _, err := e.svc.ConfirmTold(ctx, ""); err != nil {
		t.Fatal(err)
	}

	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	cmds := map[StepID][]string{}
	for _, st := range p.Steps {
		cmds[st.ID] = st.Commands
	}
	if got := cmds[StepStop]; !reflect.DeepEqual(got, []string{"systemctl stop matrix-synapse"}) {
		t.Errorf("stop shows %q, want seed 000's systemctl stop matrix-synapse", got)
	}
	if got := cmds[StepStart]; !reflect.DeepEqual(got, []string{"systemctl start matrix-synapse"}) {
		t.Errorf("start shows %q", got)
	}
	if it := p.Checklist.Item(ItemDeployment); it.Status != OK || !strings.Contains(it.Evidence, "matrix-synapse (systemd): active") {
		t.Errorf("deployment item: %+v", it)
	}
	if got := stub.Calls(t); !reflect.DeepEqual(got, [][]string{{"is-active", "matrix-synapse"}}) {
		t.Errorf("planning asked systemctl %q, want only is-active", got)
	}

	a, err := approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.svc.Start(ctx, p, a)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := w.PlanStep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = w.ApplyStep(ctx, sp, ops.Approval{}, nil)
	var se *StepError
	if !errors.As(err, &se) || se.Step != StepStop || !strings.Contains(se.Error(), "yet Synapse still answers") {
		t.Fatalf("stop: %v, want the step to fail because Synapse still answers", err)
	}
	calls := stub.Calls(t)
	if !reflect.DeepEqual(calls[:3], [][]string{{"is-active", "matrix-synapse"}, {"stop", "matrix-synapse"}, {"is-active", "matrix-synapse"}}) {
		t.Errorf("systemctl got %q", calls)
	}
	for _, c := range calls[1:] {
		if c[0] != "stop" && c[0] != "is-active" {
			t.Errorf("systemctl got %q after the stop", c)
		}
	}
	if ended, _ := w.Ended(); !ended {
		t.Error("the walk goes on after a failed step")
	}
	st := w.State()
	if st.Phase != Stopped || st.Failed != StepStop || !strings.Contains(st.Next, "synops reset run") {
		t.Errorf("state: %s at %s, next %q", st.Phase, st.Failed, st.Next)
	}
	if after := b.snapshot(t); after != before {
		t.Errorf("the bed changed: %+v, before %+v", after, before)
	}
	if entries, _ := os.ReadDir(media); len(entries) != 1 {
		t.Errorf("the media store was touched: %v", entries)
	}

	// As if the database and media steps had been done, the next run
	// starts the unit with seed 000's command and then checks the
	// database: the bed's is not empty, so the step fails and says so.
	st.Steps[0].Status, st.Steps[1].Status, st.Steps[2].Status, st.Steps[3].Status = StepDone, StepDone, StepDone, StepDone
	if err := e.svc.save(st); err != nil {
		t.Fatal(err)
	}
	p, err = e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Resume || p.Current().ID != StepStart {
		t.Fatalf("resume at %s, want start", p.Current().ID)
	}
	a, err = approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	if w, err = e.svc.Start(ctx, p, a); err != nil {
		t.Fatal(err)
	}
	n := len(stub.Calls(t))
	sp, err = w.PlanStep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = w.ApplyStep(ctx, sp, ops.Approval{}, nil)
	if !errors.As(err, &se) || se.Step != StepStart || !strings.Contains(err.Error(), "it is not the empty database the reset made") {
		t.Fatalf("start: %v, want the check of the database to fail", err)
	}
	if got := stub.Calls(t)[n:]; !reflect.DeepEqual(got, [][]string{{"start", "matrix-synapse"}}) {
		t.Errorf("systemctl got %q, want start matrix-synapse", got)
	}
}
