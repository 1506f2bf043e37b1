package tui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"synops/ops"
	"synops/ops/health"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedNow = time.Date(2026, 11, 23, 10, 51, 2, 0, time.UTC)

func testCommon(readOnly bool) *Common {
	return NewCommon(Common{
		Ctx: context.Background(), Now: func() time.Time { return fixedNow },
		Profile: "sandbox", Server: "sandbox.local", Environment: "development", ReadOnly: readOnly,
	})
}

// noSource is never called in these tests: results arrive as messages.
type noSource struct{}

func (noSource) Run(context.Context, health.Tier) []health.Result { return nil }

// press turns "a", "enter", "esc", "tab", "up" into key presses.
func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up", "down":
		return keyPress(s)
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func typeText(t *testing.T, send func(tea.Msg) tea.Cmd, s string) {
	t.Helper()
	for _, r := range s {
		send(press(string(r)))
	}
}

// runCmd executes cmd and any batch inside it, returning the messages.
func runCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, runCmd(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

func sampleResults() []health.Result {
	return []health.Result{
		{ID: "synapse.health", Group: "Synapse", Name: "/health", Status: health.OK, Value: "OK · 3 ms", Num: 3, HasNum: true, Took: 3 * time.Millisecond},
		{ID: "synapse.server_version", Group: "Synapse", Name: "server version", Status: health.OK, Value: "Synapse 1.163.2"},
		{ID: "synapse.token", Group: "Synapse", Name: "admin token valid", Status: health.OK, Value: "@admin:sandbox.local (syt_…a1b2)"},
		{ID: "metrics.sync_p95", Group: "Metrics", Name: "/sync p95 latency", Status: health.Crit, Value: "6.2 s", Num: 6.2, HasNum: true,
			Detail: "p95 of initial syncs over the last interval is above 5 s", Hint: "check the database and the caches"},
		{ID: "metrics.rss", Group: "Metrics", Name: "resident memory", Status: health.OK, Value: "212 MiB", Num: 212, HasNum: true},
		{ID: "postgres.synapse", Group: "PostgreSQL", Name: "Synapse database", Status: health.OK, Value: "PostgreSQL 15.18"},
		{ID: "postgres.connections", Group: "PostgreSQL", Name: "connections", Status: health.Warn, Value: "85 of 100 in use", Num: 85, HasNum: true,
			Detail: "85% of max_connections", Hint: "raise max_connections or lower cp_max"},
		{ID: "disk.media", Group: "Disk", Name: "media store", Status: health.OK, Value: "41% free", Num: 41, HasNum: true},
	}
}

func newRoot(t testing.TB, readOnly bool, w, h int) (*Model, *HealthPane) {
	c := testCommon(readOnly)
	hp := NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second)
	m := New(c, hp, newTestPane(c))
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(HealthMsg{Tier: health.Cheap, Results: sampleResults(), At: fixedNow})
	return m, hp
}

func send(m *Model) func(tea.Msg) tea.Cmd {
	return func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
}

func screen(m *Model) string { return ansi.Strip(m.View().Content) }

// testPane is a pane built on the kit with one plain action and one
// mutating change, to test the shell and the kit without a server: read-only
// mode, pane switching, the palette and the runner. Its change's plan and
// apply are recorded, not sent anywhere.
type testPane struct {
	c       *Common
	actions *Actions
	ran     []string       // plain actions run, in order
	applied []ops.Approval // approvals the change was applied with
	plan    func() *ops.Plan
	fail    error // Apply's error
}

func newTestPane(c *Common) *testPane {
	p := &testPane{c: c}
	p.plan = func() *ops.Plan {
		pl := ops.NewPlan("things.delete", "!thing:sandbox.local", "sandbox.local", c.Environment, fixedNow)
		pl.Steps = []ops.Step{{Title: "delete the thing", Risk: ops.Irreversible}}
		pl.Impact = []string{"the thing has 3 parts"}
		pl.LosesData = true
		return pl
	}
	p.actions = NewActions(c,
		Action{Name: "inspect", Key: key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "inspect thing")), Palette: "things: inspect", Footer: true,
			Do: func(string) tea.Cmd { p.ran = append(p.ran, "inspect"); return nil }},
		Action{Name: "delete", Key: key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "delete thing")), Palette: "things: delete", Footer: true, Mutates: true,
			Change: &Change{Title: "Delete thing",
				Plan: func(context.Context, string, string) (*ops.Plan, error) { return p.plan(), nil },
				Apply: func(_ context.Context, _ *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					p.applied = append(p.applied, a)
					progress(ops.Progress{Item: "!thing:sandbox.local", Stage: "deleting", Done: 1, Total: 2})
					return Done("thing deleted", p.fail)
				}}},
	)
	return p
}

func (p *testPane) Title() string             { return "Things" }
func (p *testPane) Init() tea.Cmd             { return nil }
func (p *testPane) View() string              { return "things pane" }
func (p *testPane) SetSize(int, int)          {}
func (p *testPane) Capturing() bool           { return false }
func (p *testPane) ShortHelp() []key.Binding  { return p.actions.Footer() }
func (p *testPane) FullHelp() [][]key.Binding { return p.actions.Help() }
func (p *testPane) Commands() []Command       { return p.actions.Commands() }
func (p *testPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case ActionMsg:
		return p.actions.Run(p.actions.Find(msg.Action), "Things", "!thing:sandbox.local")
	case tea.KeyPressMsg:
		return p.actions.Run(p.actions.Match(msg, false), "Things", "!thing:sandbox.local")
	}
	return nil
}

// drain runs cmd and feeds every message it yields back into m, and the
// commands those return, until nothing is left. A command that does not
// answer within a moment (a toast's clearing tick, a job still running) is
// left behind.
func drain(m *Model, cmd tea.Cmd) {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		ch := make(chan tea.Msg, 1)
		go func() { ch <- c() }()
		var msg tea.Msg
		select {
		case msg = <-ch:
		case <-time.After(300 * time.Millisecond):
			continue
		}
		switch msg := msg.(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
}

var _ help.KeyMap = (*testPane)(nil)

func TestConfirmEnterAloneDoesNotConfirm(t *testing.T) {
	c := testCommon(false)
	d := NewConfirm(c, ConfirmRequest{Title: "Delete room", Target: "!abc:sandbox.local", Server: "sandbox.local", Environment: "development", Tag: "x"})
	upd := func(s string) (tea.Cmd, bool) { return d.Update(press(s)) }

	if cmd, closed := upd("enter"); closed || cmd != nil {
		t.Fatal("Enter on an empty input closed the dialog or produced an answer")
	}
	for _, r := range "!abc:sandbox.lo" {
		d.Update(press(string(r)))
	}
	if _, closed := upd("enter"); closed {
		t.Fatal("Enter with a partial target closed the dialog")
	}
	for _, r := range "cal" {
		d.Update(press(string(r)))
	}
	if !d.Matches() {
		t.Fatalf("typed %q, want a match", d.input.Value())
	}
	// Tab to the Cancel button: Enter there cancels even though the text matches.
	d.Update(press("tab"))
	cmd, closed := upd("enter")
	if !closed {
		t.Fatal("Enter on Cancel did not close")
	}
	if r := cmd().(ConfirmResultMsg); r.Confirmed {
		t.Fatal("Enter on Cancel confirmed")
	}

	d = NewConfirm(c, ConfirmRequest{Title: "Delete room", Target: "!abc:sandbox.local", Tag: "x"})
	for _, r := range "!abc:sandbox.local" {
		d.Update(press(string(r)))
	}
	cmd, closed = d.Update(press("enter"))
	if r := cmd().(ConfirmResultMsg); !closed || !r.Confirmed || r.Tag != "x" || r.Typed != "!abc:sandbox.local" {
		t.Fatalf("got closed=%v %+v, want a confirmation tagged x", closed, r)
	}

	d = NewConfirm(c, ConfirmRequest{Title: "Delete room", Target: "!abc:sandbox.local"})
	for _, r := range "!abc:sandbox.local" {
		d.Update(press(string(r)))
	}
	cmd, closed = d.Update(press("esc"))
	if r := cmd().(ConfirmResultMsg); !closed || r.Confirmed {
		t.Fatal("Esc did not cancel")
	}
}

func TestConfirmThroughRoot(t *testing.T) {
	m, _ := newRoot(t, false, 80, 24)
	s := send(m)
	s(press("2"))
	drain(m, s(press("D")))
	if m.confirm == nil {
		t.Fatal("D did not open the confirm dialog")
	}
	got := screen(m)
	for _, want := range []string{"Delete thing", "!thing:sandbox.local", "Cancel"} {
		if !strings.Contains(got, want) {
			t.Errorf("dialog lacks %q:\n%s", want, got)
		}
	}
	// q and tab go to the dialog's input, not to the shell.
	s(press("q"))
	if m.confirm == nil || m.confirm.input.Value() != "q" {
		t.Fatal("q did not go to the dialog's input")
	}
	if msgs := runCmd(s(press("enter"))); len(msgs) != 0 || m.confirm == nil {
		t.Fatalf("Enter with the wrong text answered %v", msgs)
	}
	s(press("esc"))
	if m.confirm != nil {
		t.Fatal("Esc did not close the dialog")
	}
}

func TestReadOnlyHidesMutatingKeys(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m, _ := newRoot(t, ro, 100, 30)
		s := send(m)
		s(press("2"))
		cmd := s(press("D"))
		matched := cmd != nil
		if matched == ro {
			t.Errorf("read-only=%v: D matched=%v", ro, matched)
		}
		s(press("?"))
		helpText := screen(m)
		if strings.Contains(helpText, "delete thing") == ro {
			t.Errorf("read-only=%v: help shows the mutating key = %v:\n%s", ro, !ro, helpText)
		}
		if strings.Contains(helpText, "READ-ONLY") != ro {
			t.Errorf("read-only=%v: status bar badge wrong:\n%s", ro, helpText)
		}
	}
}

func TestNavigation(t *testing.T) {
	m, _ := newRoot(t, false, 80, 24)
	s := send(m)
	if s(press("tab")); m.active != 1 {
		t.Errorf("tab: active %d, want 1", m.active)
	}
	if s(press("tab")); m.active != 0 {
		t.Errorf("tab wraps: active %d, want 0", m.active)
	}
	if s(press("shift+tab")); m.active != 1 {
		t.Errorf("shift+tab: active %d, want 1", m.active)
	}
	if s(press("1")); m.active != 0 {
		t.Errorf("1: active %d, want 0", m.active)
	}
	// Click on the second tab.
	x := len(" synops ") + len(" 1 Health ") + 2
	s(tea.MouseClickMsg{X: x, Y: 0, Button: tea.MouseLeft})
	if m.active != 1 {
		t.Errorf("click at x=%d: active %d, want 1", x, m.active)
	}
	// Palette: ':' then a fuzzy name, enter runs it on its pane.
	s(press(":"))
	typeText(t, s, "thdel")
	drain(m, s(press("enter")))
	if m.palette != nil || m.confirm == nil || !strings.Contains(screen(m), "Delete thing") {
		t.Errorf("palette: the delete action did not open its confirm dialog:\n%s", screen(m))
	}
	s(press("esc"))
	s(press(":"))
	typeText(t, s, "thinsp")
	s(press("enter"))
	if tp := m.panes[1].(*testPane); m.palette != nil || len(tp.ran) != 1 || tp.ran[0] != "inspect" {
		t.Errorf("palette: got actions %v, want [inspect]", tp.ran)
	}
	// q quits; in the help overlay q closes help instead.
	s(press("?"))
	if !m.showHelp {
		t.Fatal("? did not open help")
	}
	if cmd := s(press("q")); cmd != nil || m.showHelp {
		t.Error("q in help should close help, not quit")
	}
	if msgs := runCmd(s(press("q"))); len(msgs) != 1 || msgs[0] != tea.Quit() {
		t.Errorf("q: got %v, want quit", msgs)
	}
}

func TestHealthScheduling(t *testing.T) {
	c := testCommon(false)
	p := NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second)
	p.Init()
	if !p.inflight[health.Cheap] || !p.inflight[health.Expensive] {
		t.Fatal("Init did not start both tiers")
	}
	// A tick while the run is in flight only re-arms the tick.
	cmd := p.Update(healthTickMsg{Tier: health.Cheap, Gen: 0})
	if cmd == nil || !p.inflight[health.Cheap] {
		t.Fatal("tick while in flight lost the schedule")
	}
	// Results land: in-flight cleared, a tick re-armed.
	if cmd := p.Update(HealthMsg{Tier: health.Cheap, Gen: 0, Results: sampleResults()[:3], At: fixedNow}); cmd == nil {
		t.Fatal("results did not re-arm the tick")
	}
	if p.inflight[health.Cheap] || len(p.rows) != 3 {
		t.Fatalf("inflight=%v rows=%d, want false, 3", p.inflight[health.Cheap], len(p.rows))
	}
	// Changing the interval bumps the generation; old ticks and results are dropped.
	p.Update(press("+"))
	if p.interval[health.Cheap] != time.Second || p.gen[health.Cheap] != 1 {
		t.Fatalf("+: interval %s gen %d, want 1s gen 1", p.interval[health.Cheap], p.gen[health.Cheap])
	}
	if cmd := p.Update(healthTickMsg{Tier: health.Cheap, Gen: 0}); cmd != nil {
		t.Error("a stale tick started a run")
	}
	stale := []health.Result{{ID: "synapse.health", Group: "Synapse", Name: "/health", Status: health.Crit}}
	p.Update(HealthMsg{Tier: health.Cheap, Gen: 0, Results: stale})
	if p.results["synapse.health"].Status != health.OK {
		t.Error("a stale result was applied")
	}
	// A check that stops reporting in its tier disappears.
	p.Update(HealthMsg{Tier: health.Cheap, Gen: 1, Results: sampleResults()[:1], At: fixedNow})
	if len(p.rows) != 1 {
		t.Errorf("got %d rows, want 1 after the tier reported one check", len(p.rows))
	}
}

func TestHealthRedWhenDown(t *testing.T) {
	m, hp := newRoot(t, false, 80, 24)
	down := sampleResults()
	down[0] = health.Result{ID: "synapse.health", Group: "Synapse", Name: "/health", Status: health.Crit,
		Detail: "cannot reach Synapse at http://127.0.0.1:8008: connect: connection refused", Hint: "is Synapse running?"}
	m.Update(HealthMsg{Tier: health.Cheap, Gen: hp.gen[health.Cheap], Results: down, At: fixedNow})
	if m.synapse != health.Crit {
		t.Errorf("status bar Synapse state %v, want critical", m.synapse)
	}
	got := screen(m)
	if !strings.Contains(got, "✘ Synapse: /health") || !strings.Contains(got, "connection refused") {
		t.Errorf("screen does not show Synapse down:\n%s", got)
	}
}

func TestHealthFilter(t *testing.T) {
	m, hp := newRoot(t, false, 80, 24)
	s := send(m)
	s(press("/"))
	if !hp.Capturing() {
		t.Fatal("/ did not open the filter")
	}
	typeText(t, s, "postgres")
	if len(hp.rows) != 2 || hp.rows[0] != "postgres.synapse" {
		t.Errorf("filter rows %v, want the two PostgreSQL checks", hp.rows)
	}
	s(press("enter"))
	if hp.Capturing() || len(hp.rows) != 2 {
		t.Error("enter should keep the filter and give keys back")
	}
	s(press("esc"))
	if len(hp.rows) != len(sampleResults()) {
		t.Errorf("esc: %d rows, want all", len(hp.rows))
	}
}

func TestUntrustedTextIsCleaned(t *testing.T) {
	m, hp := newRoot(t, false, 100, 30)
	evil := health.Result{ID: "x.evil", Group: "Synapse", Name: "evil \x1b]0;pwned\x07name", Status: health.Warn,
		Value: "\x1b[2Jcleared", Detail: "detail \x1b[31mred"}
	m.Update(HealthMsg{Tier: health.Cheap, Gen: hp.gen[health.Cheap], Results: append(sampleResults(), evil), At: fixedNow})
	raw := m.View().Content
	for _, bad := range []string{"\x1b]0;pwned", "\x1b[2J", "\x07"} {
		if strings.Contains(raw, bad) {
			t.Errorf("view carries %q from the server", bad)
		}
	}
}

func TestGoldenViews(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		m, _ := newRoot(t, false, size[0], size[1])
		name := filepath.Join("testdata", fmt.Sprintf("health_%dx%d.golden", size[0], size[1]))
		golden(t, name, screen(m))
		// Every line fits the width.
		for i, l := range strings.Split(screen(m), "\n") {
			if w := ansi.StringWidth(l); w > size[0] {
				t.Errorf("%dx%d line %d is %d wide", size[0], size[1], i, w)
			}
		}
		if n := strings.Count(screen(m), "\n") + 1; n != size[1] {
			t.Errorf("%dx%d: %d lines, want %d", size[0], size[1], n, size[1])
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./tui -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
