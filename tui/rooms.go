package tui

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"synops/ops"
	"synops/ops/rooms"
	"synops/ops/text"
	"synops/synapse"
)

// RoomsSource is what the Rooms pane reads and changes; *rooms.Service is one.
type RoomsSource interface {
	List(ctx context.Context) ([]synapse.Room, error)
	CreatedTimes(ctx context.Context, ids []string) (map[string]time.Time, error)
	CanReadAges() bool
	Sizes(ctx context.Context) map[string]int64
	Inspect(ctx context.Context, roomID string) (*rooms.Impact, error)
	PlanDelete(ctx context.Context, req rooms.DeleteRequest) (*ops.Plan, *rooms.Impact, error)
	ApplyDelete(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*rooms.DeleteResult, error)
	PlanBlock(ctx context.Context, roomID string, block bool) (*ops.Plan, error)
	ApplyBlock(ctx context.Context, p *ops.Plan, a ops.Approval) error
	PlanPurgeHistory(ctx context.Context, req rooms.PurgeHistoryRequest) (*ops.Plan, error)
	ApplyPurgeHistory(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) error
	Interrupted() []rooms.Entry
	PlanPurge(ctx context.Context, c rooms.Criteria) (*ops.Plan, []rooms.Candidate, error)
	ApplyPurge(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*rooms.Report, error)
	BackupState(ctx context.Context, p *ops.Plan) (bool, string)
}

type roomsLoadedMsg struct {
	gen         int
	rooms       []synapse.Room
	interrupted int // deletions earlier runs left unfinished
	err         error
	at          time.Time
}

type roomExtrasMsg struct {
	gen   int
	ages  map[string]time.Time
	sizes map[string]int64
}

type roomDetailMsg struct {
	roomID string
	impact *rooms.Impact
	err    error
}

type roomPlanMsg struct {
	action   string
	plan     *ops.Plan
	backupOK bool
	note     string
	nothing  string // the plan has nothing to do, and this says so
	err      error
}

// roomJobEvent is one report from an operation running in the background.
type roomJobEvent struct {
	job      int
	events   <-chan roomJobEvent
	stage    string
	progress float64 // 0..1, or -1 when unknown
	done     bool
	err      error
	summary  string
}

// room table columns, in order; the sortable ones have a sort function.
const (
	colName = iota
	colRoom
	colMembers
	colAge
	colEnc
	colPublic
	colState
	colSize
	numCols
)

var colTitles = [numCols]string{"Name", "Room", "Local/All", "Age", "Enc", "Pub", "State", "Size"}

type roomsKeys struct {
	Open, Delete, Block, Unblock, PurgeHistory, Finish, Sort, Reverse, Reload, Filter key.Binding
}

// RoomsPane is the table of every room, with a detail view and the room
// actions (delete, block, unblock, purge history) behind typed approval.
type RoomsPane struct {
	c    *Common
	src  RoomsSource
	keys roomsKeys

	rooms  []synapse.Room
	search []string // lower-cased name, alias and ID per room, for the filter
	names  []string // lower-cased names, the default sort key
	order  []int    // every room's index, sorted; the filter keeps this order
	ages   map[string]time.Time
	sizes  map[string]int64
	view   []int // indexes into rooms: filtered and sorted
	gen    int

	sortCol  int
	sortDesc bool

	scroller
	w, h int

	filter filterBox

	loading     bool
	loadErr     string
	loadedAt    time.Time
	interrupted int

	detail *roomDetail

	prompt     *textinput.Model // "purge history before" input
	promptRoom string
	pending    map[string]pendingPlan // confirm tag → plan
}

type roomDetail struct {
	roomID string
	impact *rooms.Impact
	err    string
	offset int
}

type pendingPlan struct {
	action   string
	plan     *ops.Plan
	backupOK bool
}

// NewRoomsPane builds the pane over src.
func NewRoomsPane(c *Common, src RoomsSource) *RoomsPane {
	mut := func(keys, helpKey, desc string) key.Binding {
		return Mutating(key.NewBinding(key.WithKeys(keys), key.WithHelp(helpKey, desc)), c.ReadOnly)
	}
	return &RoomsPane{
		c: c, src: src, filter: newFilterBox(), pending: map[string]pendingPlan{},
		ages: map[string]time.Time{}, sizes: map[string]int64{},
		keys: roomsKeys{
			Open:         key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
			Delete:       mut("D", "D", "delete room"),
			Block:        mut("b", "b", "block"),
			Unblock:      mut("u", "u", "unblock"),
			PurgeHistory: mut("P", "P", "purge history"),
			Finish:       mut("F", "F", "finish interrupted deletions"),
			Sort:         key.NewBinding(key.WithKeys("s"), key.WithHelp("s/S", "sort / reverse")),
			Reverse:      key.NewBinding(key.WithKeys("S")),
			Reload:       c.Keys.Refresh,
			Filter:       c.Keys.Filter,
		},
	}
}

func (p *RoomsPane) Title() string { return "Rooms" }

func (p *RoomsPane) Init() tea.Cmd { return p.load() }

func (p *RoomsPane) load() tea.Cmd {
	p.gen++
	p.loading = true
	ctx, src, gen, now := p.c.Ctx, p.src, p.gen, p.c.Now
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		rs, err := src.List(ctx)
		return roomsLoadedMsg{gen: gen, rooms: rs, interrupted: len(src.Interrupted()), err: err, at: now()}
	}
}

// extras reads creation times (when cheap) and the known sizes.
func (p *RoomsPane) extras() tea.Cmd {
	ctx, src, gen := p.c.Ctx, p.src, p.gen
	ids := make([]string, len(p.rooms))
	for i, r := range p.rooms {
		ids[i] = r.RoomID
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		msg := roomExtrasMsg{gen: gen, sizes: src.Sizes(ctx)}
		if src.CanReadAges() || len(ids) <= 500 {
			msg.ages, _ = src.CreatedTimes(ctx, ids)
		}
		return msg
	}
}

func (p *RoomsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case roomsLoadedMsg:
		if msg.gen != p.gen {
			return nil
		}
		p.loading = false
		p.interrupted = msg.interrupted
		if msg.err != nil {
			p.loadErr = msg.err.Error()
			return nil
		}
		p.loadErr, p.loadedAt = "", msg.at
		p.setRooms(msg.rooms)
		return p.extras()
	case roomExtrasMsg:
		if msg.gen != p.gen {
			return nil
		}
		if msg.ages != nil {
			p.ages = msg.ages
		}
		p.sizes = msg.sizes
		p.resort()
		return nil
	case roomDetailMsg:
		if p.detail != nil && p.detail.roomID == msg.roomID {
			p.detail.impact = msg.impact
			if msg.err != nil {
				p.detail.err = msg.err.Error()
			}
		}
		return nil
	case roomPlanMsg:
		return p.planned(msg)
	case ConfirmResultMsg:
		return p.confirmed(msg)
	case roomJobEvent:
		return p.jobEvent(msg)
	case ActionMsg:
		return p.action(msg.Action)
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return nil
}

func (p *RoomsPane) setRooms(rs []synapse.Room) {
	var keep string
	if id := p.selected(); id != "" {
		keep = id
	}
	p.rooms = rs
	p.search = make([]string, len(rs))
	p.names = make([]string, len(rs))
	for i, r := range rs {
		p.names[i] = strings.ToLower(r.Name)
		p.search[i] = p.names[i] + "\x00" + strings.ToLower(r.CanonicalAlias+"\x00"+r.RoomID)
	}
	p.resort()
	for i, idx := range p.view {
		if p.rooms[idx].RoomID == keep {
			p.cursor = i
		}
	}
	p.move(0)
}

// refilter rebuilds the visible rows from the sorted order: one pass, no
// sorting, so a keystroke in the filter stays cheap with 100k rooms.
func (p *RoomsPane) refilter() {
	q := p.filter.Query()
	p.view = p.view[:0]
	for _, i := range p.order {
		if q == "" || strings.Contains(p.search[i], q) {
			p.view = append(p.view, i)
		}
	}
	p.move(0)
}

// resort orders every room by the sort column, then reapplies the filter.
func (p *RoomsPane) resort() {
	rs := p.rooms
	less := func(a, b int) bool {
		x, y := &rs[a], &rs[b]
		switch p.sortCol {
		case colRoom:
			return roomLabel(*x) < roomLabel(*y)
		case colMembers:
			return x.JoinedMembers < y.JoinedMembers
		case colAge:
			return p.ages[x.RoomID].After(p.ages[y.RoomID]) // youngest first
		case colState:
			return x.StateEvents < y.StateEvents
		case colSize:
			return p.sizes[x.RoomID] < p.sizes[y.RoomID]
		}
		return p.names[a] < p.names[b]
	}
	if len(p.order) != len(rs) {
		p.order = make([]int, len(rs))
	}
	for i := range p.order {
		p.order[i] = i
	}
	sort.SliceStable(p.order, func(i, j int) bool {
		a, b := p.order[i], p.order[j]
		if p.sortDesc {
			return less(b, a)
		}
		return less(a, b)
	})
	p.refilter()
}

func (p *RoomsPane) selected() string {
	if p.cursor < len(p.view) {
		return p.rooms[p.view[p.cursor]].RoomID
	}
	return ""
}

func roomLabel(r synapse.Room) string {
	if r.CanonicalAlias != "" {
		return r.CanonicalAlias
	}
	return r.RoomID
}

func (p *RoomsPane) key(km tea.KeyPressMsg) tea.Cmd {
	if p.prompt != nil {
		return p.promptKey(km)
	}
	if p.filter.active {
		cmd, changed := p.filter.Key(km)
		if changed {
			p.refilter()
		}
		return cmd
	}
	k := p.c.Keys
	target := p.selected()
	if p.detail != nil {
		target = p.detail.roomID
		switch {
		case key.Matches(km, k.Back):
			p.detail = nil
			return nil
		case key.Matches(km, k.Up):
			p.detail.offset = max(p.detail.offset-1, 0)
			return nil
		case key.Matches(km, k.Down):
			p.detail.offset++
			return nil
		}
	}
	switch {
	case key.Matches(km, p.keys.Delete):
		return p.plan("delete", target)
	case key.Matches(km, p.keys.Block):
		return p.plan("block", target)
	case key.Matches(km, p.keys.Unblock):
		return p.plan("unblock", target)
	case key.Matches(km, p.keys.PurgeHistory):
		return p.askBefore(target)
	case key.Matches(km, p.keys.Finish):
		return p.plan("finish", "")
	}
	if p.detail != nil {
		return nil
	}
	if d, ok := navDelta(km, k, len(p.view), p.listHeight()); ok {
		p.move(d)
		return nil
	}
	switch {
	case key.Matches(km, p.keys.Open):
		return p.open(target)
	case key.Matches(km, p.keys.Filter):
		return p.filter.Open()
	case key.Matches(km, k.Back):
		if p.filter.Clear() {
			p.refilter()
		}
	case key.Matches(km, p.keys.Sort):
		p.sortCol = nextSortable(p.sortCol)
		p.resort()
	case key.Matches(km, p.keys.Reverse):
		p.sortDesc = !p.sortDesc
		p.resort()
	case key.Matches(km, p.keys.Reload):
		return p.load()
	}
	return nil
}

func nextSortable(c int) int {
	for {
		c = (c + 1) % numCols
		if c != colEnc && c != colPublic {
			return c
		}
	}
}

func (p *RoomsPane) action(a string) tea.Cmd {
	switch a {
	case "reload":
		return p.load()
	case "delete", "block", "unblock":
		return p.plan(a, p.target())
	case "purge-history":
		return p.askBefore(p.target())
	case "finish":
		return p.plan("finish", "")
	}
	return nil
}

func (p *RoomsPane) target() string {
	if p.detail != nil {
		return p.detail.roomID
	}
	return p.selected()
}

func (p *RoomsPane) open(id string) tea.Cmd {
	if id == "" {
		return nil
	}
	p.detail = &roomDetail{roomID: id}
	ctx, src := p.c.Ctx, p.src
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		im, err := src.Inspect(ctx, id)
		return roomDetailMsg{roomID: id, impact: im, err: err}
	}
}

// plan asks the ops layer for a plan; the answer opens the confirm dialog.
func (p *RoomsPane) plan(action, id string) tea.Cmd {
	if id == "" && action != "finish" {
		return nil
	}
	if p.c.ReadOnly {
		return Toast("read-only: "+action+" is disabled", true)
	}
	ctx, src := p.c.Ctx, p.src
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var pl *ops.Plan
		var err error
		switch action {
		case "delete":
			pl, _, err = src.PlanDelete(ctx, rooms.DeleteRequest{RoomID: id})
		case "block", "unblock":
			pl, err = src.PlanBlock(ctx, id, action == "block")
		case "finish":
			var picked []rooms.Candidate
			pl, picked, err = src.PlanPurge(ctx, rooms.Criteria{Unfinished: true})
			if err == nil && len(picked) == 0 {
				return roomPlanMsg{action: action, nothing: "no interrupted deletions: nothing to finish"}
			}
		}
		msg := roomPlanMsg{action: action, plan: pl, err: err}
		if err == nil {
			msg.backupOK, msg.note = src.BackupState(ctx, pl)
		}
		return msg
	}
}

func (p *RoomsPane) askBefore(id string) tea.Cmd {
	if id == "" || p.c.ReadOnly {
		return nil
	}
	in := newInput("purge history of " + id + " before (2026-01-31 or 30d): ")
	p.prompt, p.promptRoom = &in, id
	return in.Focus()
}

func (p *RoomsPane) promptKey(km tea.KeyPressMsg) tea.Cmd {
	switch km.String() {
	case "esc":
		p.prompt = nil
		return nil
	case "enter":
		before, err := rooms.ParseBefore(strings.TrimSpace(p.prompt.Value()), p.c.Now())
		if err != nil {
			return Toast(err.Error(), true)
		}
		id := p.promptRoom
		p.prompt = nil
		ctx, src := p.c.Ctx, p.src
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			pl, err := src.PlanPurgeHistory(ctx, rooms.PurgeHistoryRequest{RoomID: id, Before: before, DeleteLocalEvents: true})
			msg := roomPlanMsg{action: "purge-history", plan: pl, err: err}
			if err == nil {
				msg.backupOK, msg.note = src.BackupState(ctx, pl)
			}
			return msg
		}
	}
	var cmd tea.Cmd
	*p.prompt, cmd = p.prompt.Update(km)
	return cmd
}

// withoutBackup is what the operator adds to the typed target to accept
// losing data that no fresh verified backup covers.
const withoutBackup = " without backup"

func (p *RoomsPane) planned(msg roomPlanMsg) tea.Cmd {
	if msg.err != nil {
		return Toast(msg.action+": "+msg.err.Error(), true)
	}
	if msg.nothing != "" {
		p.interrupted = 0 // another run finished them since the last listing
		return Toast(msg.nothing, false)
	}
	pl := msg.plan
	tag := "rooms:" + pl.ID
	p.pending[tag] = pendingPlan{action: msg.action, plan: pl, backupOK: msg.backupOK}
	req := ConfirmRequest{
		Title: titleFor(msg.action), Server: pl.Server, Environment: pl.Environment,
		Production: pl.Environment == "production", Target: pl.Target, Risk: pl.Risk().String(), Tag: tag,
	}
	for _, s := range pl.Steps {
		req.Impact = append(req.Impact, text.Clean(s.Title))
	}
	for _, l := range pl.Impact {
		req.Impact = append(req.Impact, text.Clean(l))
	}
	if pl.LosesData {
		if msg.backupOK {
			req.Impact = append(req.Impact, "backup: "+msg.note)
		} else {
			req.Warning = "⚠ " + msg.note + ": type the target followed by \"" + withoutBackup + "\" to accept losing this data"
			req.Target = pl.Target + withoutBackup
		}
	}
	return func() tea.Msg { return OpenConfirmMsg{Request: req} }
}

func titleFor(action string) string {
	switch action {
	case "delete":
		return "Delete room"
	case "block":
		return "Block room"
	case "unblock":
		return "Unblock room"
	case "finish":
		return "Finish interrupted deletions"
	}
	return "Purge room history"
}

func (p *RoomsPane) confirmed(msg ConfirmResultMsg) tea.Cmd {
	pp, ok := p.pending[msg.Tag]
	if !ok {
		return nil
	}
	delete(p.pending, msg.Tag)
	if !msg.Confirmed {
		return Toast("cancelled: nothing was changed", false)
	}
	typed, waived := msg.Typed, false
	if !pp.backupOK && pp.plan.LosesData {
		var ok bool
		typed, ok = strings.CutSuffix(typed, withoutBackup)
		if !ok {
			return Toast("not approved: nothing was changed", true)
		}
		waived = true
	}
	ap, err := ops.Approve(pp.plan, typed, p.c.Now())
	if err != nil {
		return Toast(err.Error(), true)
	}
	ap.WithoutBackup = waived
	label := titleFor(pp.action) + " " + pp.plan.Target
	if pp.action == "finish" {
		label = titleFor(pp.action) // the target is the server; progress counts the rooms
	}
	job := p.c.Jobs.Start(label)
	events := make(chan roomJobEvent, 16)
	ctx, src, pl, action := p.c.Ctx, p.src, pp.plan, pp.action
	start := func() tea.Msg {
		go func() {
			defer close(events)
			progress := func(pr ops.Progress) {
				ev := roomJobEvent{job: job, events: events, stage: pr.Stage + " " + pr.Detail, progress: -1}
				if pr.Total > 1 {
					ev.stage = fmt.Sprintf("%d/%d: %s %s", pr.Done, pr.Total, pr.Item, pr.Stage)
					ev.progress = float64(pr.Done) / float64(pr.Total)
				}
				select {
				case events <- ev:
				default: // the screen is behind; the next report will do
				}
			}
			var err error
			summary := "done"
			switch action {
			case "delete":
				var res *rooms.DeleteResult
				res, err = src.ApplyDelete(ctx, pl, ap, progress)
				if err == nil {
					summary = fmt.Sprintf("deleted; %d app references cleared", res.RefsCleared)
				}
			case "block", "unblock":
				err = src.ApplyBlock(ctx, pl, ap)
				summary = action + "ed"
			case "purge-history":
				err = src.ApplyPurgeHistory(ctx, pl, ap, progress)
				summary = "history purged"
			case "finish":
				var rep *rooms.Report
				rep, err = src.ApplyPurge(ctx, pl, ap, progress)
				if rep != nil {
					summary = fmt.Sprintf("finished %d, pending %d, skipped %d, failed %d",
						rep.Count("deleted"), rep.Count("pending"), rep.Count("skipped"), rep.Count("failed"))
				}
			}
			events <- roomJobEvent{job: job, events: events, done: true, err: err, summary: summary}
		}()
		return waitJob(events)()
	}
	return start
}

func waitJob(events <-chan roomJobEvent) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return nil
		}
		return ev
	}
}

func (p *RoomsPane) jobEvent(ev roomJobEvent) tea.Cmd {
	if !ev.done {
		p.c.Jobs.Apply(JobMsg{ID: ev.job, State: JobRunning, Progress: ev.progress, Detail: strings.TrimSpace(ev.stage)})
		return waitJob(ev.events)
	}
	if ev.err != nil {
		p.c.Jobs.Apply(JobMsg{ID: ev.job, State: JobFailed, Detail: ev.err.Error()})
		return tea.Batch(Toast(ev.err.Error(), true), p.load())
	}
	p.c.Jobs.Apply(JobMsg{ID: ev.job, State: JobDone, Progress: 1, Detail: ev.summary})
	if p.detail != nil {
		p.detail = nil
	}
	return tea.Batch(Toast(ev.summary, false), p.load())
}

func (p *RoomsPane) move(d int) {
	p.scroller.move(d, len(p.view), p.listHeight())
}

// Layout: a header, the column titles, the rows.
func (p *RoomsPane) listHeight() int { return max(p.h-2, 1) }

func (p *RoomsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.filter.SetWidth(w)
	p.move(0)
}

func (p *RoomsPane) Capturing() bool { return p.filter.active || p.prompt != nil }

func (p *RoomsPane) Commands() []Command {
	cmds := []Command{{Name: "rooms: reload", Action: "reload"}}
	if !p.c.ReadOnly {
		cmds = append(cmds,
			Command{Name: "rooms: delete the selected room", Action: "delete"},
			Command{Name: "rooms: block the selected room", Action: "block"},
			Command{Name: "rooms: unblock the selected room", Action: "unblock"},
			Command{Name: "rooms: purge history of the selected room", Action: "purge-history"},
			Command{Name: "rooms: finish interrupted deletions", Action: "finish"})
	}
	return cmds
}

func (p *RoomsPane) ShortHelp() []key.Binding {
	if p.detail != nil {
		return []key.Binding{p.c.Keys.Back, p.keys.Delete, p.keys.Block, p.keys.Unblock, p.keys.PurgeHistory}
	}
	return []key.Binding{p.keys.Open, p.keys.Filter, p.keys.Sort, p.keys.Delete, p.keys.Block, p.keys.PurgeHistory}
}

func (p *RoomsPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{p.keys.Open, p.keys.Filter, p.keys.Sort, p.keys.Reload},
		{p.keys.Delete, p.keys.Block, p.keys.Unblock, p.keys.PurgeHistory, p.keys.Finish},
	}
}

// View draws the table (or the detail of one room).
func (p *RoomsPane) View() string {
	if p.detail != nil {
		return p.detailView()
	}
	s := p.c.Styles
	var header string
	switch {
	case p.prompt != nil:
		header = p.prompt.View()
	case p.filter.Shown():
		header = p.filter.View() + s.Muted.Render(fmt.Sprintf("  %d of %d rooms", len(p.view), len(p.rooms)))
	case p.loadErr != "":
		header = s.Crit.Render("cannot list rooms: " + text.Clean(p.loadErr))
	default:
		dir := "↑"
		if p.sortDesc {
			dir = "↓"
		}
		header = s.Title.Render("Rooms") + s.Muted.Render(fmt.Sprintf("  %d rooms", len(p.rooms)))
		// Interrupted deletions come first: on a narrow screen the end of
		// the line is cut.
		if p.interrupted > 0 {
			note := fmt.Sprintf(" · interrupted deletions: %d", p.interrupted)
			if !p.c.ReadOnly {
				note += " (F finishes them)"
			}
			header += s.Warn.Render(note)
		}
		header += s.Muted.Render(fmt.Sprintf(" · sorted by %s %s", strings.ToLower(colTitles[p.sortCol]), dir))
		if p.loading {
			header += s.Muted.Render(" · loading…")
		} else if !p.loadedAt.IsZero() {
			header += s.Muted.Render(" · listed " + p.loadedAt.Format("15:04:05"))
		}
	}
	widths := p.columns()
	var titles []string
	for c := 0; c < numCols; c++ {
		t := colTitles[c]
		if c == p.sortCol {
			t += map[bool]string{false: "↑", true: "↓"}[p.sortDesc]
		}
		titles = append(titles, cell(t, widths[c]))
	}
	lines := []string{header, s.Muted.Render(strings.Join(titles, " "))}
	lh := p.listHeight()
	now := p.c.Now()
	for i := p.offset; i < len(p.view) && i < p.offset+lh; i++ {
		r := p.rooms[p.view[i]]
		line := strings.Join(p.rowCells(r, widths, now), " ")
		if i == p.cursor {
			line = s.Selected.Render(cell(line, p.w))
		}
		lines = append(lines, line)
	}
	if len(p.rooms) == 0 && !p.loading && p.loadErr == "" {
		lines = append(lines, s.Muted.Render("  no rooms on this server"))
	}
	return strings.Join(lines, "\n")
}

func (p *RoomsPane) columns() [numCols]int {
	var w [numCols]int
	w[colMembers], w[colAge], w[colEnc], w[colPublic], w[colState], w[colSize] = 9, 5, 3, 3, 6, 8
	fixed := w[colMembers] + w[colAge] + w[colEnc] + w[colPublic] + w[colState] + w[colSize] + numCols - 1
	rest := max(p.w-fixed, 20)
	w[colRoom] = min(max(rest/2, 12), 46)
	w[colName] = rest - w[colRoom]
	return w
}

func (p *RoomsPane) rowCells(r synapse.Room, w [numCols]int, now time.Time) []string {
	age := "—"
	if t, ok := p.ages[r.RoomID]; ok {
		age = rooms.Age(now.Sub(t))
	}
	enc, pub := "", ""
	if r.Encryption != "" {
		enc = "yes"
	}
	if r.Public {
		pub = "yes"
	}
	size := ""
	if n, ok := p.sizes[r.RoomID]; ok {
		size = text.Bytes(n)
	}
	name := r.Name
	if r.RoomType == "m.space" {
		name = "▣ " + name
	}
	return []string{
		cell(text.Clean(name), w[colName]),
		cell(text.Clean(roomLabel(r)), w[colRoom]),
		cell(fmt.Sprintf("%d/%d", r.JoinedLocalMembers, r.JoinedMembers), w[colMembers]),
		cell(age, w[colAge]),
		cell(enc, w[colEnc]),
		cell(pub, w[colPublic]),
		cell(fmt.Sprint(r.StateEvents), w[colState]),
		cell(size, w[colSize]),
	}
}

func (p *RoomsPane) detailView() string {
	s := p.c.Styles
	d := p.detail
	out := []string{s.Title.Render("Room ") + d.roomID}
	switch {
	case d.impact == nil && d.err == "":
		out = append(out, s.Muted.Render("reading the room…"))
	case d.impact == nil:
		out = append(out, s.Crit.Render(text.Clean(d.err)))
	default:
		im := d.impact
		for _, l := range im.Lines(p.c.Now()) {
			out = append(out, text.Clean(l))
		}
		r := im.Room
		out = append(out,
			"topic: "+text.Clean(r.Topic),
			fmt.Sprintf("version %s · join rule %s · history %s · encryption %s · federatable %v · public %v · blocked %v",
				r.Version, r.JoinRules, r.HistoryVisibility, orDash(r.Encryption), r.Federatable, r.Public, im.Blocked))
		if len(im.Retention) > 0 {
			out = append(out, "room retention (m.room.retention): "+text.Clean(string(im.Retention)))
		} else {
			out = append(out, s.Muted.Render("room retention: none set in the room"))
		}
		if im.ServerPolicy != "" {
			out = append(out, s.Muted.Render("server retention: "+im.ServerPolicy))
		}
		if len(im.StateTypes) > 0 {
			out = append(out, "state: "+im.StateSummary())
		}
		if d.err != "" {
			out = append(out, s.Warn.Render("partly read: "+text.Clean(d.err)))
		}
		out = append(out, "", s.Group.Render(fmt.Sprintf("Members (%d)", len(im.LocalMembers)+len(im.RemoteMembers))))
		for _, m := range append(append([]string{}, im.LocalMembers...), im.RemoteMembers...) {
			out = append(out, "  "+text.Clean(m))
		}
	}
	if d.offset > 0 && d.offset < len(out) {
		out = append(out[:1], out[1+min(d.offset, len(out)-1):]...)
	}
	return fit(strings.Join(out, "\n"), p.w, p.h)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
