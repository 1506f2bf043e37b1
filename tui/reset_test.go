package tui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/backup"
	"synops/ops/reset"
)

// refusedSource is a reset that must not be asked anything: planning a
// production reset is itself a refusal, written to the audit log.
type refusedSource struct{ t *testing.T }

func (r refusedSource) fail(what string) {
	r.t.Errorf("the pane called %s on a production profile", what)
}
func (r refusedSource) Plan(context.Context, reset.Request) (*reset.Plan, error) {
	r.fail("Plan")
	return nil, nil
}
func (r refusedSource) Start(context.Context, *reset.Plan, ops.Approval) (*reset.Walk, error) {
	r.fail("Start")
	return nil, nil
}
func (r refusedSource) PlanNotify(context.Context, string) (*ops.Plan, error) {
	r.fail("PlanNotify")
	return nil, nil
}
func (r refusedSource) ApplyNotify(context.Context, *ops.Plan, ops.Approval, func(ops.Progress)) (*reset.Told, error) {
	r.fail("ApplyNotify")
	return nil, nil
}
func (r refusedSource) ConfirmTold(context.Context, string) (*reset.Told, error) {
	r.fail("ConfirmTold")
	return nil, nil
}
func (r refusedSource) PlanBackup(context.Context) (*ops.Plan, error) {
	r.fail("PlanBackup")
	return nil, nil
}
func (r refusedSource) TakeBackup(context.Context, *ops.Plan, func(ops.Progress)) (*backup.CreateResult, error) {
	r.fail("TakeBackup")
	return nil, nil
}

// On a production profile the Reset pane plans nothing (every plan would be
// a refusal in the audit log), offers no key, and says how the CLI does it.
func TestResetPaneProduction(t *testing.T) {
	c := testCommon(false)
	c.Production, c.Environment = true, "production"
	p := NewResetPane(c, refusedSource{t})
	m := New(c, p)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	drain(m, p.Init())
	s := send(m)
	for _, k := range []string{"r", "S", "x", "t", "n", "b"} {
		drain(m, s(press(k)))
	}
	got := screen(m)
	if !strings.Contains(got, "labelled production") || !strings.Contains(got, "--production-override") {
		t.Errorf("the pane does not say why:\n%s", got)
	}
	if strings.Contains(got, "S start the reset") {
		t.Errorf("the footer offers the reset:\n%s", got)
	}
}
