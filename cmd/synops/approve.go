package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"synops/ops"
	"synops/ops/pg"
	"synops/ops/rooms"
)

// changeFlags are the approval flags every changing command takes.
type changeFlags struct {
	yes           bool
	confirm       string
	withoutBackup bool
}

func (a *app) addChangeFlags(fs *pflag.FlagSet, c *changeFlags) {
	fs.BoolVar(&c.yes, "yes", false, "run without asking (scripts, cron); needs --confirm")
	fs.StringVar(&c.confirm, "confirm", "", "the approval phrase the plan asks for (the room ID, or the server name for a purge)")
	fs.BoolVar(&c.withoutBackup, "without-backup", false, "accept losing data with no fresh verified backup")
}

func (a *app) interactive() bool {
	in, ok1 := a.stdin.(*os.File)
	out, ok2 := terminal(a.stdout)
	return ok1 && ok2 && term.IsTerminal(in.Fd()) && term.IsTerminal(out.Fd())
}

// printPlan shows what a plan will do.
func (a *app) printPlan(p *ops.Plan, backupNote string) {
	w := a.stdout
	fmt.Fprintf(w, "Plan %s: %s on %s (%s), %s\n", p.ID, p.Kind, p.Server, p.Environment, p.Risk())
	for _, s := range p.Steps {
		fmt.Fprintf(w, "  - %s [%s]\n", s.Title, s.Risk)
	}
	for _, l := range p.Impact {
		fmt.Fprintf(w, "  · %s\n", l)
	}
	if backupNote != "" {
		fmt.Fprintf(w, "  backup: %s\n", backupNote)
	}
}

// approve asks for (or checks) the operator's approval of p: the typed phrase
// on a terminal, --yes --confirm=<target> otherwise. Nothing else approves.
// The phrase and its check are ops.Request's, as in the console; the flag
// --without-backup stands for typing the waiver.
func (a *app) approve(ctx context.Context, g *ops.Guard, p *ops.Plan, c changeFlags) (ops.Approval, error) {
	req := g.Request(ctx, p)
	a.printPlan(p, req.BackupNote)
	if g.ReadOnly && p.Risk() > ops.ReadOnly {
		return ops.Approval{}, g.Refuse(p, fmt.Errorf("%w: nothing was changed (drop --read-only / read_only to make changes)", ops.ErrReadOnly))
	}
	waiver := ""
	if req.NeedsWaiver() && c.withoutBackup {
		waiver = ops.WaiverSuffix
	}
	var typed string
	switch {
	case c.yes:
		if c.confirm == "" {
			return ops.Approval{}, usageError("--yes needs --confirm=%q, the target this plan names", p.Target)
		}
		typed = c.confirm + waiver
	case a.interactive():
		phrase := strings.TrimSuffix(req.Phrase(), waiver)
		fmt.Fprintf(a.stdout, "Type %s to approve (anything else cancels): ", phrase)
		line, _ := bufio.NewReader(a.stdin).ReadString('\n')
		typed = strings.TrimRight(line, "\r\n") + waiver
	default:
		return ops.Approval{}, usageError("no terminal to confirm on: to run unattended pass --yes --confirm=%q", p.Target)
	}
	if req.NeedsWaiver() && !c.withoutBackup && !strings.HasSuffix(typed, ops.WaiverSuffix) {
		if _, err := ops.Approve(p, typed, time.Now()); err != nil {
			return ops.Approval{}, g.Refuse(p, fmt.Errorf("%w; nothing was changed", err))
		}
		return ops.Approval{}, g.Refuse(p, fmt.Errorf("%w: %s; this plan loses data. Take and verify a backup, or pass --without-backup to accept the loss; nothing was changed", ops.ErrNoBackup, req.BackupNote))
	}
	ap, err := req.Approve(typed, time.Now())
	if err != nil {
		return ops.Approval{}, g.Refuse(p, fmt.Errorf("%w; nothing was changed", err))
	}
	return ap, nil
}

// roomsEnv is a room service and what must be closed after it.
type roomsEnv struct {
	svc   *rooms.Service
	guard *ops.Guard
	close func()
}

// roomService builds the room operations on b. With lazy, the database
// pools connect when first used (the console's first frame must not wait
// for them).
func (a *app) roomService(ctx context.Context, b *opsBase, lazy bool) (*roomsEnv, error) {
	r, g := b.r, b.guard
	open := pg.Open
	if lazy {
		open = pg.Lazy
	}
	journal, err := rooms.OpenJournal(filepath.Join(b.state, "rooms-journal.json"))
	if err != nil {
		return nil, err
	}
	svc := &rooms.Service{Synapse: b.client, Guard: g, Journal: journal, Server: r.ServerName, Environment: string(r.Environment),
		MaxConcurrency: r.Purge.MaxConcurrency, Poll: r.Purge.Poll, SyncDeleteMax: r.Purge.SyncDeleteMax}
	if r.Purge.SyncDeleteMax == 0 {
		svc.SyncDeleteMax = -1 // the config's 0 is "never"; the service's 0 is its default
	}
	var pools []*pgxpool.Pool
	if r.SynapseDB.Set() {
		if p, err := open(ctx, "Synapse database", r.SynapseDB.Raw, nil); err == nil {
			svc.SynapseDB = p
			pools = append(pools, p)
		}
	}
	if r.AppDB.Set() {
		p, err := open(ctx, "application database", r.AppDB.Raw, nil)
		if err != nil {
			return nil, fmt.Errorf("%w (its references to rooms are cleared after a deletion; fix app_db_dsn or remove it)", err)
		}
		pools = append(pools, p)
		sql := rooms.DefaultRefSQL()
		if o := r.AppRefs; o.Count != "" || o.Describe != "" || len(o.Clear) > 0 {
			sql = rooms.RefSQL{Count: o.Count, Describe: o.Describe, Clear: o.Clear}
			if sql.Count == "" {
				sql.Count = rooms.DefaultRefSQL().Count
			}
		}
		svc.App = &rooms.AppRefs{Pool: p, SQL: sql}
	}
	if r.Homeserver != nil {
		svc.ServerRetention = r.Homeserver.Retention
	}
	return &roomsEnv{svc: svc, guard: g, close: func() {
		for _, p := range pools {
			p.Close()
		}
	}}, nil
}
