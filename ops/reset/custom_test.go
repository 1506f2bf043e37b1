package reset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/config"
)

// The custom path runs the profile's own reset commands as steps, each
// destructive, each shown as it runs. A command that fails stops the walk
// and the next run runs it again; the last one is followed by the check
// that Synapse answers on an empty database, which the bed's full one
// fails. The bed itself is never touched: the commands here change nothing.
func TestCustomCommands(t *testing.T) {
	b := newOnBed(t)
	flag := filepath.Join(t.TempDir(), "ready")
	b.sp.Reset = config.Reset{Path: config.ResetCustom, StartTimeout: 5 * time.Second,
		Commands: [][]string{{"echo", "wiping the database"}, {"sh", "-c", "test -f " + flag + " || { echo 'the volume is busy' >&2; exit 4; }"}}}
	e := b.sp.mustBuild(t)
	ctx := ctxT(t, 2*time.Minute)
	before := b.snapshot(t)
	if _, err := e.svc.ConfirmTold(ctx, ""); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []StepID
	for _, st := range p.Steps {
		ids = append(ids, st.ID)
	}
	if want := []StepID{"custom-1", "custom-2", StepRegisterAdmin, StepWriteToken, StepClearAppRefs, StepFinalCheck}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("steps %v, want %v", ids, want)
	}
	if c := p.Steps[1].Commands[0]; c != "sh -c 'test -f "+flag+" || { echo '\\''the volume is busy'\\'' >&2; exit 4; }'" {
		t.Errorf("the command is shown as %s", c)
	}
	if it := p.Checklist.Item(ItemDeployment); it.Status != OK || !strings.Contains(it.Evidence, "2 commands in reset.commands") {
		t.Errorf("deployment item: %+v", it)
	}
	a, err := approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.svc.Start(ctx, p, a)
	if err != nil {
		t.Fatal(err)
	}
	// A screen reads the walk while it runs.
	done, first := make(chan struct{}), w
	go func(w *Walk) {
		for {
			select {
			case <-done:
				return
			default:
				_, _ = w.Current()
				_ = w.Steps()
				_ = w.State()
				_, _ = w.Ended()
			}
		}
	}(first)
	var out []string
	asked := 0
	err = w.Run(ctx, func(ctx context.Context, p *ops.Plan) (ops.Approval, error) {
		asked++
		return approveAll(ctx, e.guard, p, bed.Synapse.ServerName, true)
	}, func(pr ops.Progress) { out = append(out, pr.Stage+" "+pr.Detail) })
	close(done)
	var se *StepError
	if !errors.As(err, &se) || se.Step != "custom-2" || !strings.Contains(err.Error(), "exit status 4: the volume is busy") {
		t.Fatalf("run: %v, want the second command to fail", err)
	}
	if asked != 2 || !strings.Contains(strings.Join(out, "\n"), StageOutput+" wiping the database") {
		t.Errorf("asked %d times (want 2: each command is destructive); output %q", asked, out)
	}

	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err = e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Resume || p.Current().ID != "custom-2" || p.Steps[0].Status != StepDone {
		t.Fatalf("resume at %s, want custom-2 with custom-1 done", p.Current().ID)
	}
	a, err = approveAll(ctx, e.guard, p.Op, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	if w, err = e.svc.Start(ctx, p, a); err != nil {
		t.Fatal(err)
	}
	sp, err := w.PlanStep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ApplyStep(ctx, sp, ops.Approval{}, nil); !errors.Is(err, ErrNeedsConfirm) {
		t.Errorf("a destructive step without its own approval: %v, want ErrNeedsConfirm", err)
	}
	sa, err := approveAll(ctx, e.guard, sp, bed.Synapse.ServerName, true)
	if err != nil {
		t.Fatal(err)
	}
	err = w.ApplyStep(ctx, sp, sa, nil)
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "it is not the empty database the reset made") {
		t.Fatalf("the last command passed on a full database: %v", err)
	}
	if after := b.snapshot(t); after != before {
		t.Errorf("the bed changed: %+v, before %+v", after, before)
	}
}
