package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"charm.land/lipgloss/v2"

	"synops/ops/health"
	"synops/ops/text"
)

// HealthSource runs one tier of health checks. *health.Checker is one.
type HealthSource interface {
	Run(ctx context.Context, tier health.Tier) []health.Result
}

// HealthMsg carries one run's results. Gen drops results of a superseded
// schedule (the interval changed while they were in flight).
type HealthMsg struct {
	Tier    health.Tier
	Gen     int
	Results []health.Result
	At      time.Time
}

type healthTickMsg struct {
	Tier health.Tier
	Gen  int
}

// intervals the operator can step through with + and -.
var cheapIntervals = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}

// HealthPane is the live dashboard: every check's status, its figure and a
// sparkline of its history, refreshed in the background.
type HealthPane struct {
	c        *Common
	src      HealthSource
	openLogs LogOpener
	diag     Diagnoser
	actions  *Actions

	interval [2]time.Duration
	gen      [2]int
	inflight [2]bool

	results map[string]health.Result
	tierOf  map[string]health.Tier
	seen    map[string]int // first-seen order, for a stable layout
	hist    map[string]*History
	rows    []string // visible IDs, in display order

	scroller
	moved bool // the operator moved the cursor: keep it on that check
	w, h  int

	filter filterBox

	sub      subViews // logs or diagnosis, when open
	diagView *DiagnoseView
}

// HealthDeps is what the Health pane reads from. Logs and Diagnose may be nil
// when not configured; their keys are then disabled.
type HealthDeps struct {
	Source   HealthSource
	Logs     LogOpener
	Diagnose Diagnoser
}

// NewHealthPane builds the pane; cheap is the interval of cheap checks
// (2s by default), expensive checks run every 15s.
func NewHealthPane(c *Common, deps HealthDeps, cheap time.Duration) *HealthPane {
	if cheap <= 0 {
		cheap = 2 * time.Second
	}
	p := &HealthPane{
		c: c, src: deps.Source, openLogs: deps.Logs, diag: deps.Diagnose,
		interval: [2]time.Duration{cheap, max(15*time.Second, cheap)},
		results:  map[string]health.Result{},
		tierOf:   map[string]health.Tier{},
		seen:     map[string]int{},
		hist:     map[string]*History{},
		filter:   newFilterBox(),
	}
	logs := Action{Name: "logs", Key: key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "logs")), Palette: "health: logs", Footer: true, Do: p.logs}
	diag := Action{Name: "diagnose", Key: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "diagnose")), Palette: "health: diagnose", Footer: true, Do: p.diagnose}
	logs.Key.SetEnabled(deps.Logs != nil)
	diag.Key.SetEnabled(deps.Diagnose != nil)
	p.actions = NewActions(c,
		Action{Name: "filter", Key: c.Keys.Filter, Footer: true, Do: func(string) tea.Cmd { return p.filter.Open() }},
		logs, diag,
		Action{Name: "refresh", Key: c.Keys.Refresh, Palette: "health: refresh now", Footer: true, Do: p.refresh},
		Action{Name: "faster", Key: key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "refresh interval")),
			Do: func(string) tea.Cmd { return p.setInterval(-1) }},
		Action{Name: "slower", Key: key.NewBinding(key.WithKeys("-")), Do: func(string) tea.Cmd { return p.setInterval(1) }},
	)
	return p
}

func (p *HealthPane) Title() string { return ownerHealth }

// Init runs both tiers at once; each re-arms its own tick when it lands.
func (p *HealthPane) Init() tea.Cmd {
	return tea.Batch(p.fetch(health.Cheap), p.fetch(health.Expensive))
}

func (p *HealthPane) fetch(t health.Tier) tea.Cmd {
	p.inflight[t] = true
	ctx, src, gen, now := p.c.Ctx, p.src, p.gen[t], p.c.Now
	limit := 15 * time.Second
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		return HealthMsg{Tier: t, Gen: gen, Results: src.Run(ctx, t), At: now()}
	}
}

func (p *HealthPane) tick(t health.Tier) tea.Cmd {
	gen := p.gen[t]
	return tea.Tick(p.interval[t], func(time.Time) tea.Msg { return healthTickMsg{Tier: t, Gen: gen} })
}

// Update handles results, ticks and keys.
func (p *HealthPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case HealthMsg:
		if msg.Gen != p.gen[msg.Tier] {
			return nil // a schedule that was replaced; its own tick is gone too
		}
		p.inflight[msg.Tier] = false
		p.apply(msg)
		return p.tick(msg.Tier)
	case healthTickMsg:
		if msg.Gen != p.gen[msg.Tier] {
			return nil
		}
		if p.inflight[msg.Tier] {
			return p.tick(msg.Tier) // still waiting for the last run: skip this one
		}
		return p.fetch(msg.Tier)
	case ActionMsg:
		return p.actions.Run(p.actions.Find(msg.Action), ownerHealth, "")
	case JobDoneMsg:
		// The diagnosis keeps its verdicts while closed.
		if p.diagView != nil {
			p.diagView.Update(msg)
		}
		return nil
	}
	if p.sub.Showing() {
		return p.sub.Update(msg)
	}
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if p.filter.active {
		cmd, changed := p.filter.Key(km)
		if changed {
			p.relayout()
		}
		return cmd
	}
	k := p.c.Keys
	if d, ok := navDelta(km, k, len(p.rows), p.listHeight()); ok {
		p.move(d)
		return nil
	}
	if key.Matches(km, k.Back) {
		if p.filter.Clear() {
			p.relayout()
		}
		return nil
	}
	return p.actions.Run(p.actions.Match(km, false), ownerHealth, "")
}

// refresh starts a new generation: the pending ticks die, both tiers run now.
func (p *HealthPane) refresh(string) tea.Cmd {
	p.gen[health.Cheap]++
	p.gen[health.Expensive]++
	return tea.Batch(p.fetch(health.Cheap), p.fetch(health.Expensive))
}

func (p *HealthPane) logs(string) tea.Cmd {
	if p.openLogs == nil {
		return Toast("no log source: set log.file or services in the profile", true)
	}
	v, cmd := NewLogsView(p.c, p.openLogs)
	return tea.Batch(p.sub.Open(v), cmd)
}

func (p *HealthPane) diagnose(string) tea.Cmd {
	if p.diag == nil {
		return Toast("diagnosis is not available with this configuration", true)
	}
	if p.diagView == nil {
		p.diagView = NewDiagnoseView(p.c, p.diag)
	}
	return p.sub.Open(p.diagView)
}

func (p *HealthPane) setInterval(step int) tea.Cmd {
	i := 0
	for j, d := range cheapIntervals {
		if d <= p.interval[health.Cheap] {
			i = j
		}
	}
	i = min(max(i+step, 0), len(cheapIntervals)-1)
	if cheapIntervals[i] == p.interval[health.Cheap] {
		return nil
	}
	p.interval[health.Cheap] = cheapIntervals[i]
	p.gen[health.Cheap]++
	msg := "cheap checks every " + cheapIntervals[i].String()
	if p.inflight[health.Cheap] {
		// The run in flight belongs to the old generation and will be
		// dropped; start afresh.
		return tea.Batch(p.fetch(health.Cheap), Toast(msg, false))
	}
	return tea.Batch(p.tick(health.Cheap), Toast(msg, false))
}

// apply merges one tier's results: checks of that tier that did not report
// this time (a worker that went away) are dropped.
func (p *HealthPane) apply(msg HealthMsg) {
	now := map[string]bool{}
	for _, r := range msg.Results {
		now[r.ID] = true
		p.results[r.ID] = r
		p.tierOf[r.ID] = msg.Tier
		if _, ok := p.seen[r.ID]; !ok {
			p.seen[r.ID] = len(p.seen)
		}
		if r.HasNum {
			h := p.hist[r.ID]
			if h == nil {
				h = NewHistory(60)
				p.hist[r.ID] = h
			}
			h.Add(r.Num)
		}
	}
	for id, t := range p.tierOf {
		if t == msg.Tier && !now[id] {
			delete(p.results, id)
			delete(p.tierOf, id)
		}
	}
	p.relayout()
}

func groupRank(g string) int {
	switch {
	case g == "Synapse":
		return 0
	case g == "Metrics":
		return 1
	case strings.HasPrefix(g, "Worker"):
		return 2
	case g == "PostgreSQL":
		return 3
	case g == "Disk":
		return 4
	case g == "LiveKit":
		return 5
	}
	return 6
}

// relayout recomputes the visible rows after results or the filter changed,
// keeping the cursor on the same check.
func (p *HealthPane) relayout() {
	var keep string
	if p.cursor < len(p.rows) && p.moved {
		keep = p.rows[p.cursor] // stay on the check the operator chose
	}
	q := p.filter.Query()
	p.rows = p.rows[:0]
	for id, r := range p.results {
		if q != "" && !strings.Contains(strings.ToLower(r.Group+" "+r.Name+" "+r.Value+" "+r.Status.String()), q) {
			continue
		}
		p.rows = append(p.rows, id)
	}
	sort.Slice(p.rows, func(i, j int) bool {
		a, b := p.results[p.rows[i]], p.results[p.rows[j]]
		if ra, rb := groupRank(a.Group), groupRank(b.Group); ra != rb {
			return ra < rb
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return p.seen[a.ID] < p.seen[b.ID]
	})
	p.cursor = 0
	for i, id := range p.rows {
		if id == keep {
			p.cursor = i
		}
	}
	p.move(0)
}

func (p *HealthPane) move(d int) {
	if d != 0 {
		p.moved = true
	}
	p.scroller.move(d, len(p.rows), p.listHeight())
}

// Layout: a header line, the list, a separator and two lines of detail.
func (p *HealthPane) listHeight() int { return max(p.h-4, 1) }

func (p *HealthPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.sub.SetSize(w, h)
	p.filter.SetWidth(w)
	p.move(0)
}

func (p *HealthPane) Capturing() bool {
	return p.filter.active || (p.sub.Showing() && p.sub.cur.Capturing())
}

func (p *HealthPane) Commands() []Command { return p.actions.Commands() }

func (p *HealthPane) ShortHelp() []key.Binding {
	if p.sub.Showing() {
		return p.sub.cur.ShortHelp()
	}
	return append([]key.Binding{p.c.Keys.Up, p.c.Keys.Down}, p.actions.Footer()...)
}

func (p *HealthPane) FullHelp() [][]key.Binding {
	if p.sub.Showing() {
		return p.sub.cur.FullHelp()
	}
	return p.actions.Help()
}

// View draws the dashboard (or the open sub-view).
func (p *HealthPane) View() string {
	if p.sub.Showing() {
		return p.sub.cur.View(p.w, p.h)
	}
	s := p.c.Styles
	var counts [4]int
	for _, r := range p.results {
		counts[r.Status]++
	}
	header := s.Title.Render("Health") + s.Muted.Render(fmt.Sprintf("  every %s · %d checks: ", p.interval[health.Cheap], len(p.results))) +
		s.OK.Render(fmt.Sprintf("%d ok", counts[health.OK]))
	if counts[health.Warn] > 0 {
		header += s.Muted.Render(", ") + s.Warn.Render(fmt.Sprintf("%d warning", counts[health.Warn]))
	}
	if counts[health.Crit] > 0 {
		header += s.Muted.Render(", ") + s.Crit.Render(fmt.Sprintf("%d critical", counts[health.Crit]))
	}
	if p.filter.Shown() {
		header = p.filter.View()
	}
	lines := []string{header}
	if len(p.results) == 0 {
		lines = append(lines, s.Muted.Render("  running the first checks…"))
	}
	nameW := min(34, max(p.w/3, 18))
	sparkW := 0
	switch {
	case p.w >= 120:
		sparkW = 30
	case p.w >= 90:
		sparkW = 16
	case p.w >= 70:
		sparkW = 8
	}
	valW := max(p.w-nameW-sparkW-6, 8)
	lh := p.listHeight()
	for i := p.offset; i < len(p.rows) && i < p.offset+lh; i++ {
		r := p.results[p.rows[i]]
		name := r.Group + ": " + r.Name
		val := r.Value
		if val == "" && r.Status != health.OK {
			val = r.Detail
		}
		spark := ""
		if h := p.hist[r.ID]; h != nil && sparkW > 0 {
			spark = s.Spark.Render(Sparkline(h.Values(), sparkW))
		}
		nameCell, valCell := cell(text.Clean(name), nameW), cell(text.Clean(val), valW)
		var line string
		if i == p.cursor {
			line = s.Selected.Width(p.w).MaxWidth(p.w).Render(" " + p.mark(r.Status) + " " + nameCell + " " + valCell + " " + spark)
		} else {
			line = " " + p.mark(r.Status) + " " + s.App.Render(nameCell) + " " + p.statusStyle(r.Status).Render(valCell) + " " + spark
		}
		lines = append(lines, line)
	}
	for len(lines) < lh+1 {
		lines = append(lines, "")
	}
	lines = append(lines, s.Muted.Render(strings.Repeat("─", max(p.w, 1))))
	lines = append(lines, p.detail()...)
	return strings.Join(lines, "\n")
}

// detail is two lines about the selected check: what was found and what to do.
func (p *HealthPane) detail() []string {
	s := p.c.Styles
	if p.cursor >= len(p.rows) {
		return []string{"", ""}
	}
	r := p.results[p.rows[p.cursor]]
	first := s.Detail.Render(text.Clean(r.Group + ": " + r.Name + " — " + r.Status.String()))
	if r.Took > 0 {
		first += s.Muted.Render(fmt.Sprintf(" (%d ms)", r.Took.Milliseconds()))
	}
	second := s.Muted.Render(text.Clean(r.Value))
	if r.Detail != "" && r.Status != health.OK {
		second = s.Detail.Render(text.Clean(r.Detail))
	}
	if r.Hint != "" && r.Status >= health.Warn {
		second += s.Hint.Render("  → " + text.Clean(r.Hint))
	}
	return []string{first, second}
}

func (p *HealthPane) mark(st health.Status) string { return statusMark(p.c.Styles, st) }

func (p *HealthPane) statusStyle(st health.Status) lipgloss.Style {
	s := p.c.Styles
	switch st {
	case health.Warn:
		return s.Warn
	case health.Crit:
		return s.Crit
	case health.Unknown:
		return s.Unknown
	}
	return s.App
}
