package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"synops/ops"
	"synops/ops/pg"
	"synops/ops/reset"
	"synops/ops/services"
)

// resetEnv is the reset service and what must be closed after it.
type resetEnv struct {
	svc    *reset.Service
	guard  *ops.Guard
	jobLog string
	close  func()
}

// resetService builds seed 000's reset on the profile: the admin client and
// guard of every change, the token writer of a rotation, the backup service
// (to take and verify a backup from the checklist), the service manager and
// the application database.
func (a *app) resetService(ctx context.Context) (*resetEnv, error) {
	r, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	b, err := a.opsBase(ctx, r)
	if err != nil {
		return nil, err
	}
	return a.resetOn(ctx, b, false)
}

// resetOn builds the reset on b. With lazy, the application database's pool
// connects when first used (the console's first frame must not wait).
func (a *app) resetOn(ctx context.Context, b *opsBase, lazy bool) (*resetEnv, error) {
	r := b.r
	if _, err := reset.OpenState(reset.StatePath(b.state)); err != nil {
		return nil, err // a damaged state file says so before anything runs
	}
	if err := os.MkdirAll(b.state, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	jobPath := filepath.Join(b.state, "reset-jobs.log")
	job, err := os.OpenFile(jobPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the reset job log: %w", err)
	}
	closers := []func(){func() { job.Close() }}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	svc := &reset.Service{
		Synapse: b.client, Guard: b.guard, StateDir: b.state,
		Server: r.ServerName, Environment: r.Environment, Config: r.Reset,
		Services:  &services.Controller{Services: r.Services, Log: job},
		SynapseDB: r.SynapseDB, AdminDB: r.Backup.AdminDB, MediaStore: r.MediaStore,
		SharedSecret: r.RegistrationSharedSecret, HomeserverYAML: r.HomeserverYAML,
		Tokens: a.tokenService(b), AppRefs: r.AppRefs, Log: job,
	}
	if r.AppDB.Set() {
		open := pg.Open
		if lazy {
			open = pg.Lazy
		}
		pool, err := open(ctx, "application database", r.AppDB.Raw, nil)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%w (a reset clears its Matrix references: fix app_db_dsn or remove it)", err)
		}
		svc.AppDB = pool
		closers = append(closers, pool.Close)
	}
	if r.Backup.Dir != "" {
		be, err := a.backupOn(r, nil)
		if err != nil {
			closeAll()
			return nil, err
		}
		svc.Backups = be.svc
		closers = append(closers, be.close)
	}
	return &resetEnv{svc: svc, guard: b.guard, jobLog: jobPath, close: closeAll}, nil
}

// resetFlags are the flags plan and run share.
type resetFlags struct {
	override bool
	newAdmin string
	asJSON   bool
}

func (f *resetFlags) add(fs *pflag.FlagSet, withJSON bool) {
	fs.BoolVar(&f.override, "production-override", false, "reset a server whose profile is labelled production (the server name is still typed)")
	fs.StringVar(&f.newAdmin, "new-admin", "", "the new admin's localpart (default reset.new_admin, else the admin synops uses now)")
	if withJSON {
		fs.BoolVar(&f.asJSON, "json", false, "print the plan as JSON")
	}
}

// runResetPlan is `synops reset plan`: the checklist with its evidence and
// every step with the exact commands it runs. It changes nothing; the exit
// status is 1 when the checklist blocks the reset.
func runResetPlan(ctx context.Context, a *app, args []string) error {
	const usage = "reset plan [--production-override] [--new-admin NAME] [--json]"
	fs := a.flagSet("reset plan")
	var rf resetFlags
	rf.add(fs, true)
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	re, err := a.resetService(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	p, err := re.svc.Plan(ctx, reset.Request{ProductionOverride: rf.override, NewAdmin: rf.newAdmin})
	if err != nil {
		return err
	}
	req := re.guard.Request(ctx, p.Op)
	if rf.asJSON {
		if err := writeJSON(a, struct {
			*reset.Plan
			Blocking []reset.Item `json:"blocking"`
			Phrase   string       `json:"phrase"`
		}{p, p.Blocking(), req.Phrase()}); err != nil {
			return err
		}
	} else {
		a.printReset(p)
		if b := p.Blocking(); len(b) > 0 {
			fmt.Fprintf(a.stdout, "\nnot ready: %d checklist items block the reset (nothing was changed)\n", len(b))
		} else {
			fmt.Fprintf(a.stdout, "\nready: `synops reset run` asks you to type %q, then %q once more before each destructive step\n", req.Phrase(), p.Op.Target)
		}
	}
	if len(p.Blocking()) > 0 {
		return silentExit(1)
	}
	return nil
}

// printReset shows the checklist and the steps with their commands.
func (a *app) printReset(p *reset.Plan) {
	w := a.stdout
	fmt.Fprintf(w, "Reset of %s (%s), %s path\n\nPre-reset checklist:\n", p.Op.Server, p.Op.Environment, p.Path)
	for _, it := range p.Checklist.Items {
		fmt.Fprintf(w, "  %s %s: %s\n", it.Status.Mark(), it.Title, it.Evidence)
		if it.Hint != "" && it.Status != reset.OK && it.Status != reset.Skipped {
			fmt.Fprintf(w, "      → %s\n", it.Hint)
		}
	}
	fmt.Fprintln(w, "\nSteps:")
	if p.StepsError != "" {
		fmt.Fprintf(w, "  (cannot be listed yet: %s)\n", p.StepsError)
	}
	stage := ""
	for i, st := range p.Steps {
		if st.Stage != stage {
			stage = st.Stage
			if stage == reset.StageAfter {
				fmt.Fprintln(w, "  after the reset:")
			}
		}
		here := ""
		if p.Resume && i == p.First {
			here = "  ← resumes here"
		}
		fmt.Fprintf(w, "  %s %d. %s [%s]%s\n", st.Status.Mark(), i+1, st.Title, st.Risk, here)
		for _, c := range st.Commands {
			fmt.Fprintf(w, "       $ %s\n", c)
		}
		fmt.Fprintf(w, "       checks: %s\n", st.Verify)
		if st.Evidence != "" {
			fmt.Fprintf(w, "       found: %s\n", st.Evidence)
		}
		if st.Error != "" {
			fmt.Fprintf(w, "       error: %s\n", st.Error)
		}
	}
	if len(p.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range p.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
}

// runResetRun is `synops reset run`: the checklist (with offers to tell the
// team and take a backup), the typed server name, then each step with its
// live output, destructive ones asking once more.
func runResetRun(ctx context.Context, a *app, args []string) error {
	const usage = "reset run [--production-override] [--new-admin NAME] [--told [--note TEXT] | --notify [--message TEXT]] [--take-backup] [--yes --confirm=SERVER_NAME [--without-backup]]"
	fs := a.flagSet("reset run")
	var rf resetFlags
	rf.add(fs, false)
	told := fs.Bool("told", false, "you told the team Matrix chat will be unavailable (recorded with the time)")
	note := fs.String("note", "", "with --told: how you told them")
	notify := fs.Bool("notify", false, "send the reset notice first (server notice to every local user, or reset.notify_room)")
	message := fs.String("message", "", "with --notify: the notice's text")
	takeBackup := fs.Bool("take-backup", false, "when no verified backup is fresh enough, take and verify one first")
	var cf changeFlags
	a.addChangeFlags(fs, &cf)
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	switch {
	case *note != "" && !*told:
		return usageError("--note goes with --told")
	case *message != "" && !*notify:
		return usageError("--message goes with --notify")
	case *told && *notify:
		return usageError("--told or --notify, not both")
	}
	if !cf.yes && !a.interactive() {
		return usageError("no terminal to confirm on: to run unattended pass --yes --confirm=<server name>")
	}
	re, err := a.resetService(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	svc := re.svc
	req := reset.Request{ProductionOverride: rf.override, NewAdmin: rf.newAdmin}
	// Refuse a production profile, or a script's wrong server name, before
	// anything else happens, notices and backups included.
	p, err := svc.Plan(ctx, req)
	if err != nil {
		return err
	}
	if cf.yes {
		if _, err := ops.Approve(p.Op, cf.confirm, time.Now()); err != nil {
			return re.guard.Refuse(p.Op, fmt.Errorf("%w; nothing was changed", err))
		}
	}
	if *told {
		t, err := svc.ConfirmTold(ctx, *note)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "recorded: the team was told (%s)\n", t)
	}
	if *notify {
		if err := a.resetNotify(ctx, re, *message, cf); err != nil {
			return err
		}
	}
	if *told || *notify {
		if p, err = svc.Plan(ctx, req); err != nil {
			return err
		}
	}
	if it := p.Checklist.Item(reset.ItemTeam); it.Status == reset.Pending && !cf.yes {
		if again, err := a.askTeam(ctx, re, it); err != nil {
			return err
		} else if again {
			if p, err = svc.Plan(ctx, req); err != nil {
				return err
			}
		}
	}
	if it := p.Checklist.Item(reset.ItemBackup); it.Status == reset.Fail && !p.Resume && svc.Backups != nil {
		take := *takeBackup
		if !take && !cf.yes && !cf.withoutBackup {
			fmt.Fprintf(a.stdout, "%s: %s\nTake and verify a backup now? [y/N] ", it.Title, it.Evidence)
			line, _ := bufio.NewReader(a.stdin).ReadString('\n')
			take = strings.EqualFold(strings.TrimSpace(line), "y") || strings.EqualFold(strings.TrimSpace(line), "yes")
		}
		if take {
			bp, err := svc.PlanBackup(ctx)
			if err != nil {
				return err
			}
			res, err := svc.TakeBackup(ctx, bp, a.progressLine)
			if err != nil {
				return fmt.Errorf("%w (nothing was reset)", err)
			}
			fmt.Fprintf(a.stdout, "backup %s taken and verified\n", res.Entry.ID)
			if p, err = svc.Plan(ctx, req); err != nil {
				return err
			}
		}
	}
	if b := p.Blocking(); len(b) > 0 {
		a.printReset(p)
		return fmt.Errorf("%w: %s; nothing was changed", reset.ErrNotReady, titles(b))
	}
	ap, err := a.approve(ctx, re.guard, p.Op, cf)
	if err != nil {
		return err
	}
	walk, err := svc.Start(ctx, p, ap)
	if err != nil {
		return err
	}
	confirm := func(ctx context.Context, sp *ops.Plan) (ops.Approval, error) {
		return a.approve(ctx, re.guard, sp, cf)
	}
	err = walk.Run(ctx, confirm, a.stepLine)
	st := walk.State()
	if err != nil {
		fmt.Fprintf(a.stdout, "\nthe reset stopped (state: %s; job log: %s)\n", reset.StatePath(svc.StateDir), re.jobLog)
		if st.Next != "" {
			fmt.Fprintf(a.stdout, "next: %s\n", st.Next)
		}
		return err
	}
	fmt.Fprintf(a.stdout, "\nreset done: %s is the new admin, its token %s\n", st.NewAdmin, st.TokenHint)
	for _, t := range st.Targets {
		line := "  written to " + t.String()
		if t.Backup != "" {
			line += " (previous file kept as " + t.Backup + ")"
		}
		fmt.Fprintln(a.stdout, line)
	}
	if svc.Tokens.Own.File == "" {
		fmt.Fprintf(a.stdout, "synops reads its own token from %s: give it the new token (it is in the files above)\n", ownSource(svc.Tokens.Own))
	}
	return nil
}

func titles(items []reset.Item) string {
	var out []string
	for _, it := range items {
		s := it.Title + " (" + it.Evidence + ")"
		if it.Hint != "" {
			s += ": " + it.Hint
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

// stepLine prints a step's progress: its start, each line of output
// indented, and how it ended.
func (a *app) stepLine(p ops.Progress) {
	switch p.Stage {
	case reset.StageStarted:
		fmt.Fprintf(a.stderr, "[%d/%d] %s\n", p.Done+1, p.Total, p.Item)
	case reset.StageOutput:
		fmt.Fprintf(a.stderr, "    %s\n", p.Detail)
	case reset.StageDone:
		fmt.Fprintf(a.stderr, "[%d/%d] ✓ %s: %s\n", p.Done, p.Total, p.Item, p.Detail)
	case reset.StageFailed:
		fmt.Fprintf(a.stderr, "[%d/%d] ✗ %s: %s\n", p.Done+1, p.Total, p.Item, p.Detail)
	default:
		a.progressLine(p)
	}
}

// askTeam asks, on a terminal, whether the team knows: the operator
// confirms it, or has synops send the notice. It reports whether anything
// was recorded.
func (a *app) askTeam(ctx context.Context, re *resetEnv, it reset.Item) (bool, error) {
	fmt.Fprintf(a.stdout, "%s: %s\nType told if you told them, notify to have synops send the notice, anything else stops: ", it.Title, it.Evidence)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	switch strings.TrimSpace(line) {
	case "told":
		t, err := re.svc.ConfirmTold(ctx, "confirmed at the reset prompt")
		if err != nil {
			return false, err
		}
		fmt.Fprintf(a.stdout, "recorded: %s\n", t)
		return true, nil
	case "notify":
		return true, a.resetNotify(ctx, re, "", changeFlags{})
	}
	return false, fmt.Errorf("%w: the team has not been told; nothing was changed", reset.ErrNotReady)
}

// resetNotify plans the notice, asks for the server name and sends it.
func (a *app) resetNotify(ctx context.Context, re *resetEnv, message string, cf changeFlags) error {
	p, err := re.svc.PlanNotify(ctx, message)
	if errors.Is(err, ops.ErrNothingToDo) {
		fmt.Fprintln(a.stdout, err)
		return nil
	}
	if err != nil {
		return err
	}
	ap, err := a.approve(ctx, re.guard, p, cf)
	if err != nil {
		return err
	}
	t, err := re.svc.ApplyNotify(ctx, p, ap, a.progressLine)
	if t != nil {
		fmt.Fprintf(a.stdout, "told: %s\n", t)
	}
	return err
}

// runResetNotify is `synops reset notify`: seed 000's "alert all team
// members", sent by synops and recorded for the checklist.
func runResetNotify(ctx context.Context, a *app, args []string) error {
	const usage = "reset notify [--message TEXT] [--yes --confirm=SERVER_NAME]"
	fs := a.flagSet("reset notify")
	message := fs.String("message", "", "the notice's text (default: the server goes away for a reset)")
	var cf changeFlags
	a.addChangeFlags(fs, &cf)
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	re, err := a.resetService(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	return a.resetNotify(ctx, re, *message, cf)
}

// runResetTold is `synops reset told`: the operator's word that the team
// knows, recorded with the time.
func runResetTold(ctx context.Context, a *app, args []string) error {
	const usage = "reset told [--note TEXT]"
	fs := a.flagSet("reset told")
	note := fs.String("note", "", "how you told them (a mail, the stand-up)")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	re, err := a.resetService(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	t, err := re.svc.ConfirmTold(ctx, *note)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "recorded: the team was told (%s); it counts for %s\n", t, re.svc.Config.ToldWithin)
	return nil
}

// runResetStatus is `synops reset status`: where the newest reset stands.
// Exit 1 when one is unfinished.
func runResetStatus(ctx context.Context, a *app, args []string) error {
	const usage = "reset status [--json]"
	fs := a.flagSet("reset status")
	asJSON := fs.Bool("json", false, "print the state as JSON")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	re, err := a.resetService(ctx)
	if err != nil {
		return err
	}
	defer re.close()
	st, err := re.svc.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(a, struct {
			State *reset.State `json:"state"`
		}{st}); err != nil {
			return err
		}
	} else {
		a.printResetState(re.svc.Server, st)
	}
	if st != nil && st.Unfinished() {
		return silentExit(1)
	}
	return nil
}

func (a *app) printResetState(server string, st *reset.State) {
	w := a.stdout
	if st == nil {
		fmt.Fprintf(w, "no reset of %s on record\n", server)
		return
	}
	when := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }
	fmt.Fprintf(w, "Reset %s of %s: %s", st.ID, st.Server, st.Phase)
	if !st.StartedAt.IsZero() {
		fmt.Fprintf(w, ", begun %s (%s path, %d runs)", when(st.StartedAt), st.Path, st.Runs)
	}
	fmt.Fprintln(w)
	if st.Told != nil {
		fmt.Fprintf(w, "team told: %s\n", st.Told)
	}
	if st.Backup != "" {
		b := st.Backup
		if st.NoBackup {
			b += " (accepted running without one)"
		}
		fmt.Fprintf(w, "backup: %s\n", b)
	}
	for i, s := range st.Steps {
		line := fmt.Sprintf("  %s %d. %s: %s", s.Status.Mark(), i+1, s.ID, s.Status)
		if !s.EndedAt.IsZero() {
			line += " at " + when(s.EndedAt)
		}
		fmt.Fprintln(w, line)
		if s.Evidence != "" {
			fmt.Fprintf(w, "       %s\n", s.Evidence)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "       error: %s\n", s.Error)
		}
	}
	if st.NewAdmin != "" {
		fmt.Fprintf(w, "new admin: %s", st.NewAdmin)
		if st.TokenHint != "" {
			fmt.Fprintf(w, ", token %s", st.TokenHint)
		}
		fmt.Fprintln(w)
	}
	for _, t := range st.Targets {
		line := "  token written to " + t.String()
		if t.Backup != "" {
			line += ", previous file kept as " + t.Backup
		}
		fmt.Fprintln(w, line)
	}
	if st.Kept != "" {
		fmt.Fprintf(w, "the new token waits in %s (0600) until the reset is done\n", st.Kept)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "stopped: %s\n", st.Error)
	}
	if st.Next != "" {
		fmt.Fprintf(w, "next: %s\n", st.Next)
	}
}
