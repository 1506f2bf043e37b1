package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/config"
	"synops/ops/reset"
	"synops/synapse"
)

// opsBase is what every service that changes the server stands on: the
// admin client, the guard (read-only mode, the audit log, the backup gate)
// and the state directory. The console builds one for all its panes.
type opsBase struct {
	r      *config.Resolved
	client *synapse.Client
	guard  *ops.Guard
	state  string // synops' state directory: journals, the audit and debug logs
}

func (a *app) opsBase(ctx context.Context, r *config.Resolved, opts ...synapse.Option) (*opsBase, error) {
	if r.ServerName == "" {
		return nil, errors.New("the server name is unknown: point -c at homeserver.yaml or set server_name in the profile")
	}
	token, err := r.LoadToken(ctx)
	if err != nil {
		return nil, err
	}
	client, err := synapse.New(r.HomeserverURL, token, opts...)
	if err != nil {
		return nil, err
	}
	g, dir, err := a.guard(r)
	if err != nil {
		return nil, err
	}
	return &opsBase{r: r, client: client, guard: g, state: dir}, nil
}

// guard is the guard every change of this profile passes: read-only mode,
// the audit log in the state directory, the backup gate on the profile's
// catalog. It needs no admin token (a backup from cron has none).
func (a *app) guard(r *config.Resolved) (*ops.Guard, string, error) {
	auditPath, err := audit.DefaultPath(a.getenv)
	if err != nil {
		return nil, "", err
	}
	log, err := audit.Open(auditPath, nil)
	if err != nil {
		return nil, "", err
	}
	g := &ops.Guard{ReadOnly: r.ReadOnly, Audit: log, Profile: r.Profile, FreshWithin: r.Backup.FreshWithin}
	g.LastReset = lastReset(filepath.Dir(auditPath), r.ServerName)
	if r.Backup.Dir != "" {
		g.Backups = backupCatalog(r, a.getenv)
	}
	return g, filepath.Dir(auditPath), nil
}

// lastReset asks the reset state file in stateDir when server's newest
// reset ended: the guard and the Health pane's Backups line both do.
func lastReset(stateDir, server string) func() time.Time {
	return func() time.Time { return reset.LastEnded(stateDir, server) }
}

// change is a command that plans one change to one target (a room, an
// account), asks for the operator's approval and applies it. It is the CLI's
// side of the console's Change: the same ops plans, the same ops.Request
// approval, the same guard; a planner's ops.ErrNothingToDo is said, not
// failed.
type change[E any] struct {
	name  string // "rooms delete"
	usage string
	// target checks the one argument and returns it; nil: the command takes
	// none (the plan names its own target).
	target func(args []string, usage string) (string, error)
	// flags adds the command's flags; the returned func checks them after
	// parsing (it may look at the approval flags, cf).
	flags func(fs *pflag.FlagSet, cf *changeFlags) func() error
	// env builds the service (and the guard that approves for it).
	env   func(ctx context.Context, a *app) (env E, guard *ops.Guard, close func(), err error)
	plan  func(ctx context.Context, a *app, env E, id string) (*ops.Plan, error)
	apply func(ctx context.Context, a *app, env E, p *ops.Plan, ap ops.Approval) (string, error)
	// dryRun: without --apply the plan (and report) is printed and nothing
	// is changed (prune).
	dryRun bool
	// report prints what planning found beyond the plan (prune's table).
	report func(a *app)
	// failed adds to an apply error what the operator needs (the job log).
	failed func(env E, err error) error
}

// changeCmd makes a command of a change built fresh for each run.
func changeCmd[E any](build func() change[E]) func(context.Context, *app, []string) error {
	return func(ctx context.Context, a *app, args []string) error { return build().run(ctx, a, args) }
}

func (c change[E]) run(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet(c.name)
	var cf changeFlags
	apply := false
	if c.dryRun {
		fs.BoolVar(&apply, "apply", false, "do it (without: print what would be done)")
	}
	check := func() error { return nil }
	if c.flags != nil {
		if f := c.flags(fs, &cf); f != nil {
			check = f
		}
	}
	a.addChangeFlags(fs, &cf)
	if err := a.parse(fs, args, c.usage); err != nil {
		return err
	}
	id := ""
	if c.target == nil {
		if err := noArgs(fs.Args(), c.usage); err != nil {
			return err
		}
	} else if t, err := c.target(fs.Args(), c.usage); err != nil {
		return err
	} else {
		id = t
	}
	if err := check(); err != nil {
		return usageError("%v (usage: synops %s)", err, c.usage)
	}
	env, guard, closeEnv, err := c.env(ctx, a)
	if err != nil {
		return err
	}
	defer closeEnv()
	p, err := c.plan(ctx, a, env, id)
	if errors.Is(err, ops.ErrNothingToDo) {
		fmt.Fprintln(a.stdout, err)
		return nil
	}
	if err != nil {
		return err
	}
	if c.report != nil {
		c.report(a)
	}
	if c.dryRun && !apply {
		a.printPlan(p, "")
		fmt.Fprintln(a.stdout, "dry run: nothing was changed (add --apply to do it)")
		return nil
	}
	// A plan that changes nothing on the server (a backup, a restore test)
	// is shown, not asked about; the guard still audits it.
	var ap ops.Approval
	if p.Risk() > ops.ReadOnly {
		if ap, err = a.approve(ctx, guard, p, cf); err != nil {
			return err
		}
	} else {
		a.printPlan(p, "")
	}
	done, err := c.apply(ctx, a, env, p, ap)
	if err != nil {
		if c.failed != nil {
			err = c.failed(env, err)
		}
		return err
	}
	if done != "" {
		fmt.Fprintln(a.stdout, done)
	}
	return nil
}
