package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
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

// RoomsPane is the table of every room, with a detail view and the room
// actions (delete, block, unblock, purge history, finish interrupted
// deletions) behind typed approval.
type RoomsPane struct {
	listPane[synapse.Room]
	src   RoomsSource
	diag  Diagnoser // nil: no diagnosis from here
	ages  map[string]time.Time
	sizes map[string]int64
}

// NewRoomsPane builds the pane over src.
func NewRoomsPane(c *Common, src RoomsSource) *RoomsPane {
	p := &RoomsPane{listPane: listPane[synapse.Room]{c: c, owner: ownerRooms}, src: src, ages: map[string]time.Time{}, sizes: map[string]int64{}}
	p.table = NewTable(c, p.columns(), 0,
		func(r *synapse.Room) string { return r.RoomID },
		func(r *synapse.Room) string {
			return strings.ToLower(r.Name) + "\x00" + strings.ToLower(r.CanonicalAlias+"\x00"+r.RoomID)
		})
	p.actions = NewActions(c, p.roomActions(src)...)
	p.actions.Enable("diagnose", false) // until WithDiagnoser
	return p
}

// WithDiagnoser lets d diagnose the selected room (the Health pane's
// checks, on that room).
func (p *RoomsPane) WithDiagnoser(d Diagnoser) *RoomsPane {
	p.diag = d
	p.actions.Enable("diagnose", d != nil)
	return p
}

func (p *RoomsPane) columns() []Column[synapse.Room] {
	yes := func(b bool) string { return map[bool]string{true: "yes"}[b] }
	return []Column[synapse.Room]{
		{Title: "Name", Cell: func(r *synapse.Room) string {
			if r.RoomType == "m.space" {
				return "▣ " + r.Name
			}
			return r.Name
		}, SortText: func(r *synapse.Room) string { return strings.ToLower(r.Name) }},
		{Title: "Room", Min: 12, Max: 46, Cell: roomLabel, SortText: roomLabel},
		{Title: "Local/All", Width: 9, Cell: func(r *synapse.Room) string { return fmt.Sprintf("%d/%d", r.JoinedLocalMembers, r.JoinedMembers) },
			Less: func(a, b *synapse.Room) bool { return a.JoinedMembers < b.JoinedMembers }},
		{Title: "Age", Width: 5, Cell: func(r *synapse.Room) string {
			if t, ok := p.ages[r.RoomID]; ok {
				return rooms.Age(p.c.Now().Sub(t))
			}
			return "—"
		}, Less: func(a, b *synapse.Room) bool { return p.ages[a.RoomID].After(p.ages[b.RoomID]) }}, // youngest first
		{Title: "Enc", Width: 3, Cell: func(r *synapse.Room) string { return yes(r.Encryption != "") }},
		{Title: "Pub", Width: 3, Cell: func(r *synapse.Room) string { return yes(r.Public) }},
		{Title: "State", Width: 6, Cell: func(r *synapse.Room) string { return fmt.Sprint(r.StateEvents) },
			Less: func(a, b *synapse.Room) bool { return a.StateEvents < b.StateEvents }},
		{Title: "Size", Width: 8, Cell: func(r *synapse.Room) string {
			if n, ok := p.sizes[r.RoomID]; ok {
				return text.Bytes(n)
			}
			return ""
		}, Less: func(a, b *synapse.Room) bool { return p.sizes[a.RoomID] < p.sizes[b.RoomID] }},
	}
}

// roomActions are the pane's actions. Their plans and appliers capture src
// only, never the pane.
func (p *RoomsPane) roomActions(src RoomsSource) []Action {
	mut := func(k, desc string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, desc)) }
	block := func(b bool) *Change {
		verb, title := "unblock", "Unblock room"
		if b {
			verb, title = "block", "Block room"
		}
		return &Change{Title: title,
			Plan: func(ctx context.Context, id, _ string) (*ops.Plan, error) { return src.PlanBlock(ctx, id, b) },
			Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, _ func(ops.Progress)) (JobResult, error) {
				return Done(verb+"ed", src.ApplyBlock(ctx, pl, a))
			}}
	}
	now := p.c.Now
	return []Action{
		{Name: "open", Key: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")), Footer: true, Do: p.open},
		{Name: "reload", Key: p.c.Keys.Refresh, Palette: "rooms: reload", Do: func(string) tea.Cmd { return p.load() }},
		{Name: "diagnose", Key: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "diagnose")), Palette: "rooms: diagnose the selected room (cannot join, sync failing)", InSubView: true,
			Do: func(id string) tea.Cmd {
				if p.diag == nil || id == "" {
					return nil
				}
				return p.sub.Open(NewRoomDiagnoseView(p.c, p.diag, id))
			}},
		{Name: "delete", Key: mut("D", "delete room"), Palette: "rooms: delete the selected room", Footer: true, Mutates: true, InSubView: true,
			Change: &Change{Title: "Delete room",
				Plan: func(ctx context.Context, id, _ string) (*ops.Plan, error) {
					pl, _, err := src.PlanDelete(ctx, rooms.DeleteRequest{RoomID: id})
					return pl, err
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					res, err := src.ApplyDelete(ctx, pl, a, progress)
					if err != nil {
						return Done("", err)
					}
					return Done(fmt.Sprintf("deleted; %d app references cleared", res.RefsCleared), nil)
				}}},
		{Name: "block", Key: mut("b", "block"), Palette: "rooms: block the selected room", Footer: true, Mutates: true, InSubView: true, Change: block(true)},
		{Name: "unblock", Key: mut("u", "unblock"), Palette: "rooms: unblock the selected room", Mutates: true, InSubView: true, Change: block(false)},
		{Name: "purge-history", Key: mut("P", "purge history"), Palette: "rooms: purge history of the selected room", Footer: true, Mutates: true, InSubView: true,
			Change: &Change{Title: "Purge room history",
				Ask: &Ask{
					Prompt: func(id string) string { return "purge history of " + id + " before (2026-01-31 or 30d): " },
					Check:  func(s string) error { _, err := rooms.ParseBefore(s, now()); return err },
				},
				Plan: func(ctx context.Context, id, before string) (*ops.Plan, error) {
					t, err := rooms.ParseBefore(before, now())
					if err != nil {
						return nil, err
					}
					return src.PlanPurgeHistory(ctx, rooms.PurgeHistoryRequest{RoomID: id, Before: t, DeleteLocalEvents: true})
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					return Done("history purged", src.ApplyPurgeHistory(ctx, pl, a, progress))
				}}},
		{Name: "finish", Key: mut("F", "finish interrupted deletions"), Palette: "rooms: finish interrupted deletions", Mutates: true,
			Change: &Change{Title: "Finish interrupted deletions", NoTarget: true,
				Plan: func(ctx context.Context, _, _ string) (*ops.Plan, error) {
					pl, picked, err := src.PlanPurge(ctx, rooms.Criteria{Unfinished: true})
					if err == nil && len(picked) == 0 {
						return nil, fmt.Errorf("%w: no interrupted deletions to finish", ops.ErrNothingToDo)
					}
					return pl, err
				},
				Apply: func(ctx context.Context, pl *ops.Plan, a ops.Approval, progress func(ops.Progress)) (JobResult, error) {
					rep, err := src.ApplyPurge(ctx, pl, a, progress)
					if rep == nil {
						return Done("", err)
					}
					return Done(fmt.Sprintf("finished %d, pending %d, skipped %d, failed %d",
						rep.Count("deleted"), rep.Count("pending"), rep.Count("skipped"), rep.Count("failed")), err)
				},
				// The target is the server; progress counts the rooms.
				JobLabel: func(*ops.Plan) string { return "Finish interrupted deletions" }}},
	}
}

func (p *RoomsPane) Init() tea.Cmd { return p.load() }

func (p *RoomsPane) load() tea.Cmd {
	gen := p.list.begin()
	ctx, src, now := p.c.Ctx, p.src, p.c.Now
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		rs, err := src.List(ctx)
		return roomsLoadedMsg{gen: gen, rooms: rs, interrupted: len(src.Interrupted()), err: err, at: now()}
	}
}

// extras reads creation times (when cheap) and the known sizes.
func (p *RoomsPane) extras(rs []synapse.Room) tea.Cmd {
	ctx, src, gen := p.c.Ctx, p.src, p.list.gen
	ids := make([]string, len(rs))
	for i, r := range rs {
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
		if !p.list.done(msg.gen, msg.interrupted, msg.err, msg.at) {
			return nil
		}
		p.table.SetRows(msg.rooms)
		return p.extras(msg.rooms)
	case roomExtrasMsg:
		if msg.gen != p.list.gen {
			return nil
		}
		if msg.ages != nil {
			p.ages = msg.ages
		}
		p.sizes = msg.sizes
		p.table.Resort()
		return nil
	case JobDoneMsg:
		// An open diagnosis hears of its checks' jobs too.
		return tea.Batch(p.sub.Update(msg), p.changed(msg))
	case ServerResetMsg:
		p.sub.Close()
		return p.load()
	case ActionMsg:
		return p.action(msg.Action)
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return p.sub.Update(msg)
}

// changed follows one of the pane's changes ending: the list is read again.
func (p *RoomsPane) changed(msg JobDoneMsg) tea.Cmd {
	if msg.Owner != ownerRooms {
		return nil
	}
	if errors.Is(msg.Err, ops.ErrNothingToDo) {
		p.list.interrupted = 0 // another run finished them since the last listing
		return nil
	}
	if msg.Err == nil {
		p.sub.Close()
	}
	return p.load()
}

func roomLabel(r *synapse.Room) string {
	if r.CanonicalAlias != "" {
		return r.CanonicalAlias
	}
	return r.RoomID
}

func (p *RoomsPane) open(id string) tea.Cmd {
	src := p.src
	return openInspect(&p.listPane, id, "Room", func(ctx context.Context, id string) (*rooms.Impact, error) { return src.Inspect(ctx, id) }, roomLines)
}

// roomLines is a room's detail: what its plans would show (members,
// references, size) and its state, every server string cleaned.
func roomLines(s *Styles, im *rooms.Impact, now time.Time) []string {
	var out []string
	for _, l := range im.Lines(now) {
		out = append(out, text.Clean(l))
	}
	r := im.Room
	out = append(out,
		"topic: "+text.Clean(r.Topic),
		text.Clean(fmt.Sprintf("version %s · join rule %s · history %s · encryption %s · federatable %v · public %v · blocked %v",
			r.Version, r.JoinRules, r.HistoryVisibility, orDash(r.Encryption), r.Federatable, r.Public, im.Blocked)))
	if len(im.Retention) > 0 {
		out = append(out, "room retention (m.room.retention): "+text.Clean(string(im.Retention)))
	} else {
		out = append(out, s.Muted.Render("room retention: none set in the room"))
	}
	if im.ServerPolicy != "" {
		out = append(out, s.Muted.Render("server retention: "+text.Clean(im.ServerPolicy)))
	}
	if len(im.StateTypes) > 0 {
		out = append(out, "state: "+text.Clean(im.StateSummary()))
	}
	out = append(out, "", s.Group.Render(fmt.Sprintf("Members (%d)", len(im.LocalMembers)+len(im.RemoteMembers))))
	for _, m := range append(append([]string{}, im.LocalMembers...), im.RemoteMembers...) {
		out = append(out, "  "+text.Clean(m))
	}
	return out
}

// View draws the table (or the detail of one room).
func (p *RoomsPane) View() string {
	note := fmt.Sprintf("interrupted deletions: %d", p.list.interrupted)
	if a := p.actions.Find("finish"); a != nil {
		note += " (" + a.Key.Help().Key + " finishes them)"
	}
	return p.view("Rooms", "rooms", note, "no rooms on this server")
}
