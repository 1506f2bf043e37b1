package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/rooms"
	"synops/ops/text"
	"synops/synapse"
)

// sortColumns maps the --sort names to Synapse's order_by values.
var sortColumns = map[string]string{
	"name": "name", "alias": "canonical_alias", "members": "joined_members", "local": "joined_local_members",
	"state": "state_events", "version": "version", "creator": "creator", "encryption": "encryption", "public": "public",
}

func sortNames() string {
	return "name, alias, members, local, state, version, creator, encryption, public"
}

func runRoomsList(ctx context.Context, a *app, args []string) error {
	const usage = "rooms list [--json] [--search TEXT] [--sort COLUMN] [--reverse] [--empty|--non-empty] [--public]"
	fs := a.flagSet("rooms list")
	asJSON := fs.Bool("json", false, "one JSON array of rooms")
	search := fs.String("search", "", "rooms whose name or alias contains TEXT, or with exactly this room ID")
	sortBy := fs.String("sort", "name", "order: "+sortNames())
	reverse := fs.Bool("reverse", false, "reverse the order")
	empty := fs.Bool("empty", false, "only rooms nobody is joined to")
	nonEmpty := fs.Bool("non-empty", false, "only rooms someone is joined to")
	public := fs.Bool("public", false, "only rooms published in the room directory")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	col, ok := sortColumns[*sortBy]
	if !ok {
		return usageError("--sort %q is not a column: use one of %s", *sortBy, sortNames())
	}
	if *empty && *nonEmpty {
		return usageError("--empty and --non-empty exclude each other")
	}
	o := synapse.ListRoomsOptions{OrderBy: col, Reverse: *reverse, SearchTerm: *search}
	switch {
	case *empty:
		o.EmptyRooms = ptr(true)
	case *nonEmpty:
		o.EmptyRooms = ptr(false)
	}
	if *public {
		o.PublicRooms = ptr(true)
	}
	re, err := a.rooms(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	list, err := re.svc.Synapse.AllRooms(ctx, o)
	if err != nil {
		return fmt.Errorf("list rooms: %w", err)
	}
	if *asJSON {
		return writeJSON(a, list)
	}
	rows := make([][]string, 0, len(list))
	for _, r := range list {
		enc := ""
		if r.Encryption != "" {
			enc = "yes"
		}
		pub := ""
		if r.Public {
			pub = "yes"
		}
		rows = append(rows, []string{r.RoomID, text.Truncate(text.Clean(r.Name), 40), r.CanonicalAlias,
			fmt.Sprintf("%d (%d)", r.JoinedMembers, r.JoinedLocalMembers), fmt.Sprint(r.StateEvents), enc, pub})
	}
	a.table([]string{"ROOM ID", "NAME", "ALIAS", "MEMBERS (LOCAL)", "STATE", "ENCRYPTED", "PUBLIC"}, rows)
	fmt.Fprintf(a.stdout, "%d rooms\n", len(list))
	return nil
}

func runRoomsShow(ctx context.Context, a *app, args []string) error {
	const usage = "rooms show ROOM_ID [--json]"
	fs := a.flagSet("rooms show")
	asJSON := fs.Bool("json", false, "print the room as JSON")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	id, err := oneRoomArg(fs.Args(), usage)
	if err != nil {
		return err
	}
	re, err := a.rooms(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	im, err := re.svc.Inspect(ctx, id)
	if err != nil && im == nil {
		return err
	}
	if *asJSON {
		return writeJSON(a, im)
	}
	for _, l := range im.Lines(time.Now()) {
		fmt.Fprintln(a.stdout, text.Clean(l))
	}
	d := im.Room
	fmt.Fprintf(a.stdout, "topic: %s\n", text.Clean(d.Topic))
	fmt.Fprintf(a.stdout, "version %s, join rule %s, history %s, encryption %s, federatable %v, public %v, blocked %v\n",
		d.Version, d.JoinRules, d.HistoryVisibility, orNone(d.Encryption), d.Federatable, d.Public, im.Blocked)
	if len(im.Retention) > 0 {
		fmt.Fprintf(a.stdout, "room retention (m.room.retention): %s\n", text.Clean(string(im.Retention)))
	} else {
		fmt.Fprintln(a.stdout, "room retention: none set in the room")
	}
	if im.ServerPolicy != "" {
		fmt.Fprintf(a.stdout, "server retention: %s\n", im.ServerPolicy)
	}
	fmt.Fprintf(a.stdout, "state: %s\n", im.StateSummary())
	fmt.Fprintf(a.stdout, "members: %s\n", strings.Join(append(im.LocalMembers, im.RemoteMembers...), ", "))
	if err != nil {
		fmt.Fprintln(a.stdout, "note:", err)
	}
	return nil
}

// roomChange is a change to one room: delete, block, unblock, purge-history.
type roomChange = change[*roomsEnv]

func roomChangeOf(name, usage string) roomChange {
	return roomChange{name: name, usage: usage, target: oneRoomArg,
		env: func(ctx context.Context, a *app) (*roomsEnv, *ops.Guard, func(), error) {
			re, err := a.rooms(ctx)
			if err != nil {
				return nil, nil, nil, err
			}
			return re, re.guard, re.close, nil
		}}
}

func roomsDelete() roomChange {
	var block, force bool
	c := roomChangeOf("rooms delete", "rooms delete ROOM_ID [--block] [--force] [--yes --confirm=ROOM_ID] [--without-backup]")
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.BoolVar(&block, "block", false, "also block the room ID so nobody here can join it again")
		fs.BoolVar(&force, "force", false, "purge even if some local users could not be kicked")
		return nil
	}
	c.plan = func(ctx context.Context, _ *app, re *roomsEnv, id string) (*ops.Plan, error) {
		p, _, err := re.svc.PlanDelete(ctx, rooms.DeleteRequest{RoomID: id, Block: block, Force: force})
		return p, err
	}
	c.apply = func(ctx context.Context, a *app, re *roomsEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		res, err := re.svc.ApplyDelete(ctx, p, ap, a.progressLine)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("deleted %s (Synapse delete %s); %d application references cleared", p.Target, res.DeleteID, res.RefsCleared), nil
	}
	return c
}

func roomsBlock(block bool) roomChange {
	verb := "block"
	if !block {
		verb = "unblock"
	}
	c := roomChangeOf("rooms "+verb, "rooms "+verb+" ROOM_ID [--yes --confirm=ROOM_ID]")
	c.plan = func(ctx context.Context, _ *app, re *roomsEnv, id string) (*ops.Plan, error) {
		return re.svc.PlanBlock(ctx, id, block)
	}
	c.apply = func(ctx context.Context, _ *app, re *roomsEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		return verb + "ed " + p.Target, re.svc.ApplyBlock(ctx, p, ap)
	}
	return c
}

func roomsPurgeHistory() roomChange {
	var before string
	var local bool
	var t time.Time
	c := roomChangeOf("rooms purge-history", "rooms purge-history ROOM_ID --before (2026-01-31|2026-01-31T12:00:00Z|30d) [--local] [--yes --confirm=ROOM_ID] [--without-backup]")
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.StringVar(&before, "before", "", "purge events older than this date, time or age")
		fs.BoolVar(&local, "local", false, "also delete events sent by this server's users (by default only remote users' events go)")
		return func() (err error) {
			t, err = rooms.ParseBefore(before, time.Now())
			if err != nil {
				return fmt.Errorf("--before: %w", err)
			}
			return nil
		}
	}
	c.plan = func(ctx context.Context, _ *app, re *roomsEnv, id string) (*ops.Plan, error) {
		return re.svc.PlanPurgeHistory(ctx, rooms.PurgeHistoryRequest{RoomID: id, Before: t, DeleteLocalEvents: local})
	}
	c.apply = func(ctx context.Context, a *app, re *roomsEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		if err := re.svc.ApplyPurgeHistory(ctx, p, ap, a.progressLine); err != nil {
			return "", err
		}
		return fmt.Sprintf("purged the history of %s before %s", p.Target, t.UTC().Format(time.RFC3339)), nil
	}
	return c
}

func runRoomsPurge(ctx context.Context, a *app, args []string) error {
	const usage = "rooms purge (--older-than 30d [--inactive] [--empty-only] [--match REGEXP] [--exclude ROOM]... | --unfinished) [--apply [--yes --confirm=SERVER_NAME] [--without-backup] [--max-concurrency N]] [--json]"
	fs := a.flagSet("rooms purge")
	older := fs.String("older-than", "", "select rooms created longer ago than this (30d, 12h)")
	inactive := fs.Bool("inactive", false, "age by the newest event instead of creation")
	emptyOnly := fs.Bool("empty-only", false, "only rooms with no joined members")
	match := fs.String("match", "", "only rooms whose name or alias matches this regular expression")
	exclude := fs.StringArray("exclude", nil, "a room ID or alias never to delete (repeatable)")
	unfinished := fs.Bool("unfinished", false, "select no new rooms: only finish the deletions earlier runs left unfinished")
	apply := fs.Bool("apply", false, "delete them (without it: print what would be deleted)")
	asJSON := fs.Bool("json", false, "print the plan / the report as JSON")
	maxConc := fs.Int("max-concurrency", 0, "delete at most N rooms at once (default: rooms.purge.max_concurrency, 8); synops finds its pace below it")
	var cf changeFlags
	a.addChangeFlags(fs, &cf)
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	crit := rooms.Criteria{Inactive: *inactive, EmptyOnly: *emptyOnly, Pattern: *match, Exclude: *exclude, Unfinished: *unfinished}
	switch {
	case *unfinished && (*older != "" || *inactive || *emptyOnly || *match != "" || len(*exclude) > 0):
		return usageError("--unfinished selects no new rooms: leave out --older-than, --inactive, --empty-only, --match and --exclude")
	case *unfinished:
	case *older == "":
		return usageError("--older-than is required, e.g. --older-than 30d, or --unfinished to finish interrupted deletions (usage: synops %s)", usage)
	default:
		age, err := config.ParseDuration(*older)
		if err != nil {
			return usageError("--older-than: %v", err)
		}
		if age <= 0 {
			return usageError("--older-than must be more than 0, e.g. 30d")
		}
		crit.OlderThan = age
	}
	if fs.Changed("max-concurrency") && (*maxConc < 1 || *maxConc > 64) {
		return usageError("--max-concurrency must be between 1 and 64, got %d", *maxConc)
	}
	if *apply && !cf.yes && !a.interactive() {
		return usageError("--apply without a terminal also needs --yes --confirm=<server name>, so cron cannot delete by accident")
	}
	re, err := a.rooms(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	if fs.Changed("max-concurrency") {
		re.svc.MaxConcurrency = *maxConc
	}
	p, picked, err := re.svc.PlanPurge(ctx, crit)
	if err != nil {
		return err
	}
	if !*apply {
		if *asJSON {
			return writeJSON(a, map[string]any{"plan": p, "rooms": picked, "dry_run": true})
		}
		a.printPlan(p, "")
		a.printCandidates(picked)
		if *unfinished {
			fmt.Fprintln(a.stdout, "dry run: nothing was changed (add --apply to finish these deletions)")
		} else {
			fmt.Fprintln(a.stdout, "dry run: nothing was deleted (add --apply to delete these rooms)")
		}
		return nil
	}
	if len(picked) == 0 {
		if *unfinished {
			fmt.Fprintln(a.stdout, "no unfinished deletions: nothing to do")
			return nil
		}
		fmt.Fprintln(a.stdout, "no room matches: nothing to do")
		return nil
	}
	a.printCandidates(picked)
	ap, err := a.approve(ctx, re.guard, p, cf)
	if err != nil {
		return err
	}
	rep, err := re.svc.ApplyPurge(ctx, p, ap, a.progressLine)
	if rep != nil {
		if *asJSON {
			_ = writeJSON(a, rep)
		} else {
			for _, o := range rep.Outcomes {
				fmt.Fprintf(a.stdout, "%-8s %s %s %s\n", o.Status, o.RoomID, text.Clean(o.Name), o.Reason)
			}
			fmt.Fprintf(a.stdout, "%d deleted, %d pending, %d skipped, %d failed\n",
				rep.Count("deleted"), rep.Count("pending"), rep.Count("skipped"), rep.Count("failed"))
			fmt.Fprintln(a.stdout, pacingLine(rep.Pacing))
		}
	}
	return err
}

// pacingLine says how many deletions ran at once.
func pacingLine(p rooms.Pacing) string {
	steps := make([]string, len(p.Limits))
	for i, l := range p.Limits {
		steps[i] = fmt.Sprint(l)
	}
	line := fmt.Sprintf("deletions at once: up to %d (limit %s, at most %d)", p.Peak, strings.Join(steps, "→"), p.Max)
	if p.RateLimited > 0 {
		line += fmt.Sprintf("; Synapse answered 429 %d times, and the limit was halved", p.RateLimited)
	}
	return line
}

func (a *app) printCandidates(picked []rooms.Candidate) {
	rows := make([][]string, 0, len(picked))
	for _, c := range picked {
		note := ""
		if c.Resume != "" {
			note = "unfinished: " + string(c.Resume)
		}
		if c.Skip != "" {
			note = "skipped: " + text.Truncate(text.Clean(c.Skip), 80)
		}
		age := ""
		if !c.At.IsZero() {
			age = rooms.Age(time.Since(c.At))
		}
		rows = append(rows, []string{c.RoomID, text.Truncate(text.Clean(c.Name), 40), fmt.Sprint(c.Members), age, fmt.Sprint(c.Refs), note})
	}
	a.table([]string{"ROOM ID", "NAME", "MEMBERS", "AGE", "APP REFS", "NOTE"}, rows)
}

func (a *app) progressLine(p ops.Progress) {
	if p.Total > 1 {
		fmt.Fprintf(a.stderr, "[%d/%d] %s %s %s\n", p.Done, p.Total, p.Item, p.Stage, p.Detail)
		return
	}
	fmt.Fprintf(a.stderr, "%s: %s %s\n", p.Item, p.Stage, p.Detail)
}

func (a *app) rooms(ctx context.Context) (*roomsEnv, error) {
	r, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.opsBase(ctx, r)
	if err != nil {
		return nil, err
	}
	return a.roomService(ctx, b, false)
}

func oneRoomArg(args []string, usage string) (string, error) {
	if len(args) != 1 {
		return "", usageError("give exactly one room ID (usage: synops %s)", usage)
	}
	if err := synapse.ValidateRoomID(args[0]); err != nil {
		return "", usageError("%v", err)
	}
	return args[0], nil
}

func noArgs(args []string, usage string) error {
	if len(args) > 0 {
		return usageError("unexpected argument %q (usage: synops %s)", args[0], usage)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
