package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/synapse"
)

// Criteria select rooms for the retention purge.
type Criteria struct {
	OlderThan time.Duration `json:"older_than"` // > 0
	Inactive  bool          `json:"inactive"`   // age by the newest event, not by creation
	EmptyOnly bool          `json:"empty_only"` // only rooms nobody is joined to
	Pattern   string        `json:"pattern"`    // regexp on name or canonical alias
	Exclude   []string      `json:"exclude"`    // room IDs or aliases never to touch
	// Unfinished selects no new room: only the deletions earlier runs (the
	// CLI's or the console's) left unfinished in the journal.
	Unfinished bool            `json:"unfinished,omitempty"`
	pattern    *regexp.Regexp  `json:"-"`
	exclude    map[string]bool `json:"-"`
}

func (c *Criteria) compile() error {
	if c.Unfinished {
		if c.OlderThan != 0 || c.Inactive || c.EmptyOnly || c.Pattern != "" || len(c.Exclude) > 0 {
			return errors.New("--unfinished selects no new rooms: leave out --older-than, --inactive, --empty-only, --match and --exclude")
		}
		c.exclude = map[string]bool{}
		return nil
	}
	if c.OlderThan <= 0 {
		return fmt.Errorf("--older-than must be positive, got %s", c.OlderThan)
	}
	if c.Pattern != "" {
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return fmt.Errorf("--match %q is not a valid regular expression: %v", c.Pattern, err)
		}
		c.pattern = re
	}
	c.exclude = map[string]bool{}
	for _, e := range c.Exclude {
		if err := synapse.ValidateRoomIDOrAlias(e); err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
		c.exclude[e] = true
	}
	return nil
}

// Describe is the criteria in words.
func (c Criteria) Describe() string {
	if c.Unfinished {
		return "deletions earlier runs left unfinished"
	}
	s := fmt.Sprintf("rooms created more than %s ago", config.FormatDuration(c.OlderThan))
	if c.Inactive {
		s = fmt.Sprintf("rooms with no event for more than %s", config.FormatDuration(c.OlderThan))
	}
	if c.EmptyOnly {
		s += ", with no joined members"
	}
	if c.Pattern != "" {
		s += fmt.Sprintf(", name or alias matching %q", c.Pattern)
	}
	if len(c.Exclude) > 0 {
		s += fmt.Sprintf(", except %d excluded", len(c.Exclude))
	}
	return s
}

// Candidate is a room the purge selected, or one a previous run left unfinished.
type Candidate struct {
	RoomID  string    `json:"room_id"`
	Name    string    `json:"name"`
	Alias   string    `json:"alias,omitempty"`
	Members int       `json:"members"`
	At      time.Time `json:"at"` // creation or newest event
	Refs    int64     `json:"refs"`
	Resume  Stage     `json:"resume,omitempty"` // unfinished stage from the journal
	// Skip says why the room is left alone although it may match: a fact
	// the criteria need (its name, its newest event) could not be read.
	Skip string `json:"skip,omitempty"`
}

type purgeParams struct {
	Criteria Criteria    `json:"criteria"`
	Rooms    []Candidate `json:"rooms"`
}

// PlanPurge selects every room that matches (paging through all of them) and
// adds what an interrupted run left unfinished. It changes nothing.
func (s *Service) PlanPurge(ctx context.Context, c Criteria) (*ops.Plan, []Candidate, error) {
	if err := c.compile(); err != nil {
		return nil, nil, err
	}
	cutoff := s.now().Add(-c.OlderThan)
	var picked []Candidate
	if !c.Unfinished {
		var err error
		if picked, err = s.matching(ctx, c, cutoff); err != nil {
			return nil, nil, err
		}
	}
	seen := map[string]bool{}
	for i := range picked {
		seen[picked[i].RoomID] = true
		if s.Journal != nil {
			if e, ok := s.Journal.Get(picked[i].RoomID); ok && e.Stage.unfinished() {
				// An approved deletion is finished whatever could not be read.
				picked[i].Resume, picked[i].Skip = e.Stage, ""
			}
		}
	}
	if s.Journal != nil {
		// Deletions a previous run started finish whether or not the room
		// still matches (Synapse may already have removed it): they were
		// approved then, and stopping halfway helps nobody.
		for _, e := range s.Journal.Unfinished() {
			if !seen[e.RoomID] {
				picked = append(picked, Candidate{RoomID: e.RoomID, Name: e.Name, Resume: e.Stage})
			}
		}
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].At.Before(picked[j].At) })
	if s.App != nil {
		// One query per room (the statements take a room ID), several at
		// a time: a nightly run over thousands of rooms waited on them in
		// turn.
		if err := parallel(ctx, len(picked), 8, func(i int) error {
			if picked[i].Skip != "" {
				return nil
			}
			refs, err := s.App.Count(ctx, picked[i].RoomID)
			picked[i].Refs = total(refs)
			return err
		}); err != nil {
			return nil, nil, err
		}
	}
	// The approval phrase is the server name, not the count, so that a cron
	// job can approve a run whose size it cannot know in advance.
	p := ops.NewPlan("rooms.purge", s.Server, s.Server, s.Environment, s.now())
	var refs int64
	resumed, toDelete := 0, 0
	var skipped []string
	for _, r := range picked {
		refs += r.Refs
		if r.Resume != "" {
			resumed++
		}
		if r.Skip != "" {
			skipped = append(skipped, r.RoomID+" ("+r.Skip+")")
		} else {
			toDelete++
		}
	}
	p.Steps = []ops.Step{{Title: fmt.Sprintf("delete and purge %d rooms (%s)", toDelete, c.Describe()), Risk: ops.Irreversible}}
	if c.Unfinished {
		p.Steps[0].Title = fmt.Sprintf("finish %d room deletions earlier runs left unfinished", len(picked))
	}
	if refs > 0 {
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("clear %d application references to them", refs), Risk: ops.Destructive})
	}
	p.LosesData = toDelete > 0
	if c.Unfinished {
		// Synapse has already removed, or is removing, a room whose delete
		// it accepted: only one it may never have been asked about loses
		// data now.
		asked := 0
		for _, r := range picked {
			if r.Resume == StageRequested {
				asked++
			}
		}
		p.Impact = []string{fmt.Sprintf("%d room deletions were left unfinished", len(picked))}
		if asked > 0 {
			p.Impact = append(p.Impact, fmt.Sprintf("%d of them may never have reached Synapse: those are asked again", asked))
		}
		p.LosesData = asked > 0
	} else {
		p.Impact = []string{fmt.Sprintf("%d of the server's rooms match; cut-off %s", toDelete, cutoff.UTC().Format("2006-01-02 15:04 MST"))}
		if resumed > 0 {
			p.Impact = append(p.Impact, fmt.Sprintf("%d of them finish deletions an earlier run started", resumed))
		}
		if len(skipped) > 0 {
			p.Impact = append(p.Impact, fmt.Sprintf("%d rooms are skipped, as what the criteria need could not be read: %s", len(skipped), list(skipped, 3)))
		}
	}
	p.Params, _ = json.Marshal(purgeParams{Criteria: c, Rooms: picked})
	return p, picked, nil
}

// matching lists every room the criteria select, paging through all of them.
func (s *Service) matching(ctx context.Context, c Criteria, cutoff time.Time) ([]Candidate, error) {
	var rooms []synapse.Room
	if _, err := s.Synapse.EachRoom(ctx, synapse.ListRoomsOptions{PageSize: 500}, func(page []synapse.Room) error {
		for _, r := range page {
			if c.exclude[r.RoomID] || (r.CanonicalAlias != "" && c.exclude[r.CanonicalAlias]) {
				continue
			}
			if c.EmptyOnly && r.JoinedMembers > 0 {
				continue
			}
			rooms = append(rooms, r)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list rooms: %w", explain(err))
	}
	skip := map[string]string{} // room ID: why it cannot be judged
	if c.pattern != nil {
		unread, err := s.fillNames(ctx, rooms)
		if err != nil {
			return nil, err
		}
		kept := rooms[:0]
		for _, r := range rooms {
			if why, ok := unread[r.RoomID]; ok {
				skip[r.RoomID] = "could not read its name for --match: " + why
				kept = append(kept, r)
				continue
			}
			if c.pattern.MatchString(r.Name) || c.pattern.MatchString(r.CanonicalAlias) {
				kept = append(kept, r)
			}
		}
		rooms = kept
	}
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.RoomID
	}
	created, err := s.CreatedTimes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read creation times: %w", explain(err))
	}
	// A room created after the cut-off cannot have been idle since before
	// it, so only older rooms need their newest event looked up.
	var picked []Candidate
	for _, r := range rooms {
		at, ok := created[r.RoomID]
		if !ok || !at.Before(cutoff) {
			continue
		}
		picked = append(picked, Candidate{RoomID: r.RoomID, Name: r.Name, Alias: r.CanonicalAlias, Members: r.JoinedMembers, At: at, Skip: skip[r.RoomID]})
	}
	if !c.Inactive {
		return picked, nil
	}
	var ask []string
	for _, cand := range picked {
		if cand.Skip == "" {
			ask = append(ask, cand.RoomID)
		}
	}
	newest, unread, err := s.NewestEvents(ctx, ask)
	if err != nil {
		return nil, err
	}
	kept := picked[:0]
	for _, cand := range picked {
		if cand.Skip == "" {
			if why, ok := unread[cand.RoomID]; ok {
				cand.Skip = "could not read its newest event for --inactive: " + why
			} else if last := newest[cand.RoomID]; last.After(cand.At) {
				cand.At = last
			}
			if cand.Skip == "" && !cand.At.Before(cutoff) {
				continue
			}
		}
		kept = append(kept, cand)
	}
	return kept, nil
}

// fillNames reads the name and alias of listed rooms that show neither: the
// room list takes them from current state, which a room no local user is in
// any more no longer has, though its timeline does. A room whose timeline
// cannot be read (its reads time out while a purge lock a killed Synapse
// left behind is held, say) is returned in unread with the reason, and the
// others go on; only an error that every room would meet (Synapse down, the
// token refused) stops it.
func (s *Service) fillNames(ctx context.Context, rooms []synapse.Room) (unread map[string]string, err error) {
	var nameless []int
	for i, r := range rooms {
		if r.Name == "" && r.CanonicalAlias == "" {
			nameless = append(nameless, i)
		}
	}
	var mu sync.Mutex
	unread = map[string]string{}
	err = parallel(ctx, len(nameless), 8, func(k int) error {
		r := &rooms[nameless[k]]
		for _, typ := range []string{"m.room.name", "m.room.canonical_alias"} {
			ev, err := s.Synapse.RoomNewestEvent(ctx, r.RoomID, typ)
			if err != nil && fatalRead(ctx, err) {
				return fmt.Errorf("name of %s: %w", r.RoomID, explain(err))
			}
			if err != nil {
				mu.Lock()
				unread[r.RoomID] = err.Error()
				mu.Unlock()
				return nil
			}
			if ev == nil {
				continue
			}
			var content struct {
				Name  string `json:"name"`
				Alias string `json:"alias"`
			}
			_ = json.Unmarshal(ev.Content, &content)
			if typ == "m.room.name" {
				r.Name = content.Name
			} else {
				r.CanonicalAlias = content.Alias
			}
		}
		return nil
	})
	return unread, err
}

// fatalRead reports whether a failed read of one room means the run cannot
// go on: the run was stopped, Synapse cannot be reached at all, or the
// token is refused. Anything else (a read that timed out after its retries,
// a 5xx, a room gone meanwhile) concerns that room only.
func fatalRead(ctx context.Context, err error) bool {
	return ctx.Err() != nil || synapseDown(err) || errors.Is(err, synapse.ErrForbidden) || errors.Is(err, synapse.ErrUnknownToken)
}

// synapseDown reports whether err says Synapse is not there (a refused
// connection, no route, an unknown host). A request that timed out is not
// proof of that: Synapse may be busy with that one room.
func synapseDown(err error) bool {
	return synapse.IsUnreachable(err) && !errors.Is(err, context.DeadlineExceeded)
}

// Outcome is one room's result in a purge run.
type Outcome struct {
	RoomID      string `json:"room_id"`
	Name        string `json:"name,omitempty"`
	Status      string `json:"status"` // "deleted", "pending", "skipped", "failed"
	DeleteID    string `json:"delete_id,omitempty"`
	Synchronous bool   `json:"synchronous,omitempty"` // by the synchronous v1 delete: no delete ID
	RefsCleared int64  `json:"refs_cleared,omitempty"`
	Reason      string `json:"reason,omitempty"`
	unreachable bool
}

// Report is the outcome of every room of a purge run.
type Report struct {
	Outcomes []Outcome `json:"outcomes"`
	Pacing   Pacing    `json:"concurrency"` // how many deletions ran at once
}

// Count returns how many outcomes have status.
func (r *Report) Count(status string) int {
	n := 0
	for _, o := range r.Outcomes {
		if o.Status == status {
			n++
		}
	}
	return n
}

// ApplyPurge deletes the planned rooms, several at a time: as many as keep
// Synapse busiest, within MaxConcurrency (see pace.go). Just before deleting
// a room it checks again that the room still matches (a message since the
// plan, a member who joined): one that no longer does is skipped. A room
// whose deletion could not finish is reported "pending" with the reason; a
// later run finishes it from the journal.
func (s *Service) ApplyPurge(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*Report, error) {
	var params purgeParams
	if p.Kind != "rooms.purge" || json.Unmarshal(p.Params, &params) != nil {
		return nil, errors.New("apply purge: not a room purge plan")
	}
	c := params.Criteria
	if err := c.compile(); err != nil {
		return nil, err
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	cutoff := s.now().Add(-c.OlderThan)
	rep := &Report{Outcomes: make([]Outcome, len(params.Rooms))}
	var mu sync.Mutex
	done := 0
	var down atomic.Pointer[string] // why Synapse stopped answering (refused connections, not one slow room), once it has
	pace := newPacer(s.MaxConcurrency)
	ctx = synapse.WithTrace(ctx, &synapse.Trace{RateLimited: pace.rateLimited})
	var wg sync.WaitGroup
	for i, r := range params.Rooms {
		if pace.acquire(ctx) != nil {
			break // the rooms not started are reported pending below
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			var o Outcome
			if why := down.Load(); why != nil {
				// Each attempt would only wait out its retries: leave the
				// rest for the next run.
				o = Outcome{RoomID: r.RoomID, Name: r.Name, Status: "pending", Reason: "not started: " + *why}
			} else {
				o = s.purgeOne(ctx, r, c, cutoff)
				if o.Status == "pending" && o.unreachable {
					why := "Synapse stopped answering"
					down.CompareAndSwap(nil, &why)
				}
			}
			// Only a room Synapse was asked to delete, start to end, tells
			// the pacer how fast Synapse goes.
			var took time.Duration
			if o.Status == "deleted" && r.Resume == "" {
				took = time.Since(start)
			}
			pace.release(took)
			mu.Lock()
			rep.Outcomes[i] = o
			done++
			if progress != nil {
				progress(ops.Progress{Item: r.RoomID, Stage: o.Status, Done: done, Total: len(params.Rooms), Detail: o.Reason})
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep.Pacing = pace.report()
	for i, o := range rep.Outcomes {
		if o.Status == "" { // never started: the context ended
			rep.Outcomes[i] = Outcome{RoomID: params.Rooms[i].RoomID, Name: params.Rooms[i].Name, Status: "pending", Reason: "not started: " + errText(ctx.Err())}
		}
	}
	var runErr error
	if n := rep.Count("pending") + rep.Count("failed"); n > 0 {
		runErr = fmt.Errorf("%d of %d rooms not finished: run the same purge again to finish them", n, len(rep.Outcomes))
	}
	ferr := finish(runErr, map[string]int{"deleted": rep.Count("deleted"), "pending": rep.Count("pending"),
		"skipped": rep.Count("skipped"), "failed": rep.Count("failed")})
	return rep, errors.Join(runErr, ferr)
}

func (s *Service) purgeOne(ctx context.Context, r Candidate, c Criteria, cutoff time.Time) Outcome {
	o := Outcome{RoomID: r.RoomID, Name: r.Name}
	if r.Skip != "" && r.Resume == "" {
		o.Status, o.Reason = "skipped", r.Skip
		return o
	}
	if r.Resume != "" && s.Journal != nil {
		if e, ok := s.Journal.Get(r.RoomID); ok && !e.Stage.unfinished() {
			o.Status, o.Reason = "skipped", "another run finished it ("+string(e.Stage)+")"
			return o
		}
	}
	small := false
	if r.Resume == "" {
		why, fits, err := s.stillMatches(ctx, r, c, cutoff)
		small = fits
		switch {
		case err != nil && fatalRead(ctx, err):
			o.Status, o.Reason, o.unreachable = "pending", err.Error(), synapseDown(err)
			return o
		case err != nil:
			// Nothing was asked of Synapse for this room: leave it to the
			// next run and go on with the others.
			o.Status, o.Reason = "skipped", "could not check it still matches: "+err.Error()
			return o
		case why != "":
			o.Status, o.Reason = "skipped", why
			return o
		}
	}
	res, err := s.deleteOne(ctx, r.RoomID, r.Name, synapse.DeleteRoomOptions{}, small, nil)
	if res != nil {
		o.DeleteID, o.RefsCleared, o.Synchronous = res.DeleteID, res.RefsCleared, res.Synchronous
	}
	switch {
	case err == nil:
		o.Status = "deleted"
	case ctx.Err() != nil || synapse.IsUnreachable(err) || isServerError(err):
		o.Status, o.Reason, o.unreachable = "pending", err.Error(), synapseDown(err)
	default:
		o.Status, o.Reason = "failed", err.Error()
	}
	return o
}

// stillMatches re-checks the facts that can change between plan and apply.
// small says Synapse's database shows a room short enough for the
// synchronous delete (see Service.SyncDeleteMax).
func (s *Service) stillMatches(ctx context.Context, r Candidate, c Criteria, cutoff time.Time) (why string, small bool, err error) {
	f, err := s.readRoomNow(ctx, r.RoomID, c.Inactive)
	switch {
	case err != nil:
		return "", false, err
	case !f.exists:
		return "the room no longer exists", false, nil
	case c.EmptyOnly && f.joined > 0:
		return fmt.Sprintf("%d members joined since the plan", f.joined), false, nil
	case c.Inactive && !f.newest.Before(cutoff):
		return "it had an event since the cut-off", false, nil
	}
	return "", f.depth > 0 && f.depth <= int64(s.syncDeleteMax()), nil
}

func isServerError(err error) bool {
	var se *synapse.Error
	return errors.As(err, &se) && se.Status >= 500
}

func errText(err error) string {
	if err == nil {
		return "stopped"
	}
	return strings.TrimSpace(err.Error())
}

// list joins the first n items and says how many more there are.
func list(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:n], "; ") + fmt.Sprintf(" and %d more", len(items)-n)
}
