package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/pflag"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/backup"
	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/text"
	"synops/synapse"
)

// backupKeyFile is the key that signs backup manifests, in synops' state
// directory beside the audit log: a file dropped into the backup directory
// cannot make itself count.
func backupKeyFile(stateDir string) string { return filepath.Join(stateDir, "backup.key") }

// backupCatalog is the profile's backup catalog. Without a state
// directory there is no key, and nothing counts as verified.
func backupCatalog(r *config.Resolved, getenv env) *backup.Catalog {
	key := ""
	if dir, err := audit.StateDir(getenv); err == nil {
		key = backupKeyFile(dir)
	}
	return backup.NewCatalog(r.Backup.Dir, key)
}

// exitVerifyFailed is the exit status of a backup that failed its
// verification: loud, and apart from 1 (could not run) and 2 (usage).
const exitVerifyFailed = 3

// backupEnv is a backup service and what must be closed after it.
type backupEnv struct {
	svc     *backup.Service
	guard   *ops.Guard
	jobLog  string
	closeFn func()
}

func (be *backupEnv) close() { be.closeFn() }

// backupService builds the backup operations for the resolved
// configuration. withSynapse loads the admin token (a restore waits for the
// admin API); the other commands need none.
func (a *app) backupService(ctx context.Context, withSynapse bool) (*backupEnv, error) {
	r, err := a.load(ctx)
	if err != nil {
		return nil, err
	}
	var client *synapse.Client
	if withSynapse {
		token, err := r.LoadToken(ctx)
		if err != nil {
			return nil, err
		}
		if client, err = synapse.New(r.HomeserverURL, token); err != nil {
			return nil, err
		}
	}
	return a.backupOn(r, client)
}

// backupOn builds the backup operations with client (nil: none; a restore
// then cannot wait for the admin API). The console builds them on its
// opsBase's client.
func (a *app) backupOn(r *config.Resolved, client *synapse.Client) (*backupEnv, error) {
	if r.Backup.Dir == "" {
		return nil, usageError("no backup directory: set backup.dir in the profile, %s, or pass --backup-dir", config.EnvBackupDir)
	}
	g, state, err := a.guard(r)
	if err != nil {
		return nil, err
	}
	jobPath := filepath.Join(state, "backup-jobs.log")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	job, err := os.OpenFile(jobPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the backup job log: %w", err)
	}
	cat := g.Backups.(*backup.Catalog)
	b := r.Backup
	svc := &backup.Service{
		Catalog: cat, Guard: g, Server: r.ServerName, Environment: string(r.Environment),
		SynapseDB: r.SynapseDB, AdminDB: b.AdminDB, AppDB: r.AppDB,
		Format: b.Format, DumpVia: b.DumpVia,
		Files:      append(nonEmpty(r.HomeserverYAML), b.Files...),
		MediaStore: r.MediaStore, Media: b.Media,
		Services: &services.Controller{Services: r.Services, Log: job},
		Volumes:  b.Volumes, VolumeImage: b.VolumeImage,
		Retention: backup.Retention{MaxAge: b.MaxAge, Keep: b.Keep,
			KeepDaily: b.KeepDaily, KeepWeekly: b.KeepWeekly, KeepMonthly: b.KeepMonthly},
		JobLog:  job,
		Synapse: client,
	}
	if h := r.Homeserver; h != nil {
		svc.Discovered = append(nonEmpty(h.SigningKey), nonEmpty(h.LogConfig)...)
	}
	return &backupEnv{svc: svc, guard: g, jobLog: jobPath, closeFn: func() { job.Close() }}, nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// backupChange is a backup command as a value: its flags, its plan and how
// it is applied, run by one runner like roomChange. Plans that change
// nothing on the server (create, verify) need no typed approval.
type backupChange struct {
	name, usage string
	// flags adds the command's flags; the returned func checks them and the
	// positional arguments after parsing.
	flags func(fs *pflag.FlagSet) func(args []string) error
	// dryRun: without --apply, print the plan and stop (prune).
	dryRun      bool
	withSynapse bool
	plan        func(ctx context.Context, be *backupEnv) (*ops.Plan, error)
	report      func(a *app) // prints what plan found beyond the plan (prune's table)
	apply       func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) error
}

func backupCommand(build func() backupChange) func(context.Context, *app, []string) error {
	return func(ctx context.Context, a *app, args []string) error { return build().run(ctx, a, args) }
}

func (bc backupChange) run(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet(bc.name)
	check := func([]string) error { return nil }
	if bc.flags != nil {
		check = bc.flags(fs)
	}
	apply := false
	if bc.dryRun {
		fs.BoolVar(&apply, "apply", false, "do it (without: print what would be done)")
	}
	var cf changeFlags
	a.addChangeFlags(fs, &cf)
	if err := a.parse(fs, args, bc.usage); err != nil {
		return err
	}
	if err := check(fs.Args()); err != nil {
		return usageError("%v (usage: synops %s)", err, bc.usage)
	}
	be, err := a.backupService(ctx, bc.withSynapse)
	if err != nil {
		return err
	}
	defer be.close()
	p, err := bc.plan(ctx, be)
	if err != nil {
		return err
	}
	if bc.report != nil {
		bc.report(a)
	}
	if bc.dryRun && !apply {
		a.printPlan(p, "")
		fmt.Fprintln(a.stdout, "dry run: nothing was removed (add --apply to remove what is marked REMOVE)")
		return nil
	}
	var ap ops.Approval
	if p.Risk() > ops.ReadOnly {
		if !cf.yes && !a.interactive() {
			return usageError("no terminal to confirm on: to run unattended pass --yes --confirm=%q", p.Target)
		}
		if ap, err = a.approve(ctx, be.guard, p, cf); err != nil {
			return err
		}
	} else {
		a.printPlan(p, "")
	}
	if err := bc.apply(ctx, a, be, p, ap); err != nil {
		if errors.Is(err, backup.ErrVerifyFailed) {
			return &exitError{code: exitVerifyFailed, err: fmt.Errorf("%w (job log: %s)", err, be.jobLog)}
		}
		return fmt.Errorf("%w (job log: %s)", err, be.jobLog)
	}
	return nil
}

func backupCreate() backupChange {
	var req backup.CreateRequest
	var format, media string
	return backupChange{
		name:  "backup create",
		usage: "backup create [--verify] [--format custom|sql-gzip] [--media local|all|none]",
		flags: func(fs *pflag.FlagSet) func([]string) error {
			fs.BoolVar(&req.Verify, "verify", false, "restore-test it right away (exit 3 when that fails)")
			fs.StringVar(&format, "format", "", "custom (pg_dump custom, zstd; the default) or sql-gzip (seed 004's pg_dump | gzip)")
			fs.StringVar(&media, "media", "", "local (uploads), all (also remote caches) or none; default backup.media")
			return func(args []string) error {
				req.Format, req.Media = config.BackupFormat(format), config.MediaScope(media)
				return noArgs(args, "backup create")
			}
		},
		plan: func(ctx context.Context, be *backupEnv) (*ops.Plan, error) { return be.svc.PlanCreate(ctx, req) },
		apply: func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) error {
			res, err := be.svc.ApplyCreate(ctx, p, ap, a.byteProgress())
			if res != nil && res.Entry.ID != "" {
				fmt.Fprintf(a.stdout, "backup %s: %s in %s\n", res.Entry.ID, textSize(res.Entry.Size()), res.Entry.Dir)
				if res.Verify != nil {
					a.printVerify(res.Verify)
				}
			}
			return err
		},
	}
}

func backupVerify() backupChange {
	var req backup.VerifyRequest
	return backupChange{
		name:  "backup verify",
		usage: "backup verify (ID | --latest)",
		flags: func(fs *pflag.FlagSet) func([]string) error {
			fs.BoolVar(&req.Latest, "latest", false, "the newest backup of Synapse")
			return func(args []string) error {
				switch {
				case len(args) > 1:
					return fmt.Errorf("give one backup ID")
				case len(args) == 1 && req.Latest:
					return fmt.Errorf("give a backup ID or --latest, not both")
				case len(args) == 0 && !req.Latest:
					return fmt.Errorf("give a backup ID (see backup list) or --latest")
				case len(args) == 1:
					req.ID = args[0]
				}
				return nil
			}
		},
		plan: func(ctx context.Context, be *backupEnv) (*ops.Plan, error) { return be.svc.PlanVerify(ctx, req) },
		apply: func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) error {
			res, err := be.svc.ApplyVerify(ctx, p, ap, a.byteProgress())
			if res != nil {
				a.printVerify(res)
			}
			return err
		},
	}
}

func (a *app) printVerify(res *backup.VerifyResult) {
	if !res.Passed {
		fmt.Fprintf(a.stdout, "VERIFICATION FAILED: backup %s after %s: %s\n", res.ID, res.Took.Round(100*time.Millisecond), res.Error)
		return
	}
	fmt.Fprintf(a.stdout, "verified backup %s in %s\n", res.ID, res.Took.Round(100*time.Millisecond))
	for _, c := range res.Checked {
		fmt.Fprintf(a.stdout, "  ✓ %s\n", c)
	}
}

func backupPrune() backupChange {
	var r backup.Retention
	var maxAge string
	var pp *backup.PrunePreview
	return backupChange{
		name:   "backup prune",
		usage:  "backup prune [--max-age 30d] [--keep N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--apply [--yes --confirm=SERVER_NAME]]",
		dryRun: true,
		flags: func(fs *pflag.FlagSet) func([]string) error {
			fs.StringVar(&maxAge, "max-age", "", "remove backups older than this (default backup.max_age, 30d)")
			fs.IntVar(&r.Keep, "keep", -1, "always keep this many newest (default backup.keep)")
			fs.IntVar(&r.KeepDaily, "keep-daily", -1, "keep the newest of this many recent days (default backup.keep_daily)")
			fs.IntVar(&r.KeepWeekly, "keep-weekly", -1, "keep the newest of this many recent weeks (default backup.keep_weekly)")
			fs.IntVar(&r.KeepMonthly, "keep-monthly", -1, "keep the newest of this many recent months (default backup.keep_monthly)")
			return func(args []string) error {
				if maxAge != "" {
					d, err := config.ParseDuration(maxAge)
					if err != nil {
						return fmt.Errorf("--max-age: %w", err)
					}
					r.MaxAge = d
				} else {
					r.MaxAge = -1
				}
				return noArgs(args, "backup prune")
			}
		},
		plan: func(ctx context.Context, be *backupEnv) (*ops.Plan, error) {
			def := be.svc.Retention
			pick := func(v, d int) int {
				if v < 0 {
					return d
				}
				return v
			}
			eff := backup.Retention{MaxAge: def.MaxAge, Keep: pick(r.Keep, def.Keep), KeepDaily: pick(r.KeepDaily, def.KeepDaily),
				KeepWeekly: pick(r.KeepWeekly, def.KeepWeekly), KeepMonthly: pick(r.KeepMonthly, def.KeepMonthly)}
			if r.MaxAge >= 0 {
				eff.MaxAge = r.MaxAge
			}
			p, preview, err := be.svc.PlanPrune(ctx, eff)
			if err != nil {
				return nil, err
			}
			pp = preview
			return p, nil
		},
		apply: func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) error {
			res, err := be.svc.ApplyPrune(ctx, p, ap, a.progressLine)
			if res != nil {
				fmt.Fprintf(a.stdout, "removed %d backups, %s freed\n", len(res.Removed), textSize(res.Freed))
			}
			return err
		},
		report: func(a *app) { a.printPrune(pp) },
	}
}

func (a *app) printPrune(pp *backup.PrunePreview) {
	if pp == nil {
		return
	}
	w := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTAKEN\tSIZE\tSTATE\t\tWHY")
	for _, it := range pp.Items {
		taken := ""
		if !it.TakenAt.IsZero() {
			taken = it.TakenAt.Local().Format("2006-01-02 15:04")
		}
		verb := "keep"
		if it.Remove {
			verb = "REMOVE"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, taken, textSize(it.Size), it.State, verb, it.Why)
	}
	w.Flush()
	if pp.Halted != "" {
		fmt.Fprintln(a.stdout, "nothing is removed:", pp.Halted)
	}
}

func backupRestore() backupChange {
	var req backup.RestoreRequest
	return backupChange{
		name:        "backup restore",
		usage:       "backup restore ID [--media] [--yes --confirm=SERVER_NAME] [--without-backup]",
		withSynapse: true,
		flags: func(fs *pflag.FlagSet) func([]string) error {
			fs.BoolVar(&req.Media, "media", false, "also put the media store back as the backup holds it")
			return func(args []string) error {
				if len(args) != 1 {
					return fmt.Errorf("give the ID of the backup to restore (see backup list)")
				}
				req.ID = args[0]
				return nil
			}
		},
		plan: func(ctx context.Context, be *backupEnv) (*ops.Plan, error) { return be.svc.PlanRestore(ctx, req) },
		apply: func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) error {
			res, err := be.svc.ApplyRestore(ctx, p, ap, a.byteProgress())
			if res != nil && res.SafetyBackup != "" {
				fmt.Fprintf(a.stdout, "safety backup of the database as it was: %s\n", res.SafetyBackup)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored %s from backup %s in %s; Synapse answers again\n", res.Database, res.ID, res.Took.Round(time.Second))
			for _, d := range res.MediaAside {
				fmt.Fprintf(a.stdout, "the media as it was is kept at %s: remove it when you are satisfied\n", d)
			}
			return nil
		},
	}
}

func backupVolumes() backupChange {
	return backupChange{
		name:  "backup volumes",
		usage: "backup volumes [--yes --confirm=SERVER_NAME]",
		flags: func(fs *pflag.FlagSet) func([]string) error {
			return func(args []string) error { return noArgs(args, "backup volumes") }
		},
		plan: func(ctx context.Context, be *backupEnv) (*ops.Plan, error) { return be.svc.PlanVolumes(ctx) },
		apply: func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) error {
			e, err := be.svc.ApplyVolumes(ctx, p, ap, a.byteProgress())
			if e != nil && e.ID != "" {
				fmt.Fprintf(a.stdout, "volume backup %s: %s in %s\n", e.ID, textSize(e.Size()), e.Dir)
			}
			return err
		},
	}
}

func backupRestoreVolume() backupChange {
	var req backup.VolumeRestoreRequest
	return backupChange{
		name:  "backup restore-volume",
		usage: "backup restore-volume ID --volume NAME --into NEW_VOLUME [--yes --confirm=SERVER_NAME]",
		flags: func(fs *pflag.FlagSet) func([]string) error {
			fs.StringVar(&req.Volume, "volume", "", "the volume as it was archived")
			fs.StringVar(&req.Into, "into", "", "a new volume to unpack it into (never an existing one)")
			return func(args []string) error {
				if len(args) != 1 || req.Volume == "" || req.Into == "" {
					return fmt.Errorf("give the backup ID, --volume and --into")
				}
				req.ID = args[0]
				return nil
			}
		},
		plan: func(ctx context.Context, be *backupEnv) (*ops.Plan, error) { return be.svc.PlanVolumeRestore(ctx, req) },
		apply: func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) error {
			if err := be.svc.ApplyVolumeRestore(ctx, p, ap, a.byteProgress()); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "unpacked %s of backup %s into volume %s\n", req.Volume, req.ID, req.Into)
			return nil
		},
	}
}

// backupListing is one line of `backup list --json`.
type backupListing struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	TakenAt    time.Time `json:"taken_at,omitzero"`
	AgeSeconds float64   `json:"age_seconds"`
	Size       int64     `json:"size"`
	State      string    `json:"state"` // passed, failed, never, invalid
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	Contents   []string  `json:"contents"`
	Problem    string    `json:"problem,omitempty"`
}

func runBackupList(ctx context.Context, a *app, args []string) error {
	const usage = "backup list [--json]"
	fs := a.flagSet("backup list")
	asJSON := fs.Bool("json", false, "one JSON array of backups")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	be, err := a.backupService(ctx, false)
	if err != nil {
		return err
	}
	defer be.close()
	list, err := be.svc.Catalog.List(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if *asJSON {
		out := make([]backupListing, 0, len(list))
		for _, e := range list {
			out = append(out, backupListing{ID: e.ID, Kind: e.Kind(), TakenAt: e.TakenAt(), AgeSeconds: e.Age(now).Seconds(),
				Size: e.Size(), State: e.State, VerifiedAt: e.VerifiedAt(), Contents: e.Contents(), Problem: e.Problem})
		}
		return writeJSON(a, out)
	}
	w := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tKIND\tTAKEN\tAGE\tSIZE\tVERIFIED\tCONTENTS")
	for _, e := range list {
		taken, age := "", ""
		if !e.TakenAt().IsZero() {
			taken, age = e.TakenAt().Local().Format("2006-01-02 15:04"), backup.FormatAge(e.Age(now))
		}
		verified := e.Mark() + " " + e.State
		if e.State == backup.Passed {
			verified = "✓ " + e.VerifiedAt().Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Kind(), taken, age, textSize(e.Size()), verified, strings.Join(e.Contents(), ", "))
		if e.Problem != "" {
			fmt.Fprintf(w, "\t\t\t\t\t  %s\t\n", e.Problem)
		}
	}
	w.Flush()
	fmt.Fprintf(a.stdout, "%d backups in %s\n", len(list), be.svc.Catalog.Dir)
	return nil
}

func textSize(n int64) string {
	if n <= 0 {
		return "-"
	}
	return text.Bytes(n)
}

// byteProgress prints progress of a long transfer: on a terminal one line
// kept up to date, otherwise (cron, a log) a line every few seconds and at
// each new stage.
func (a *app) byteProgress() func(ops.Progress) {
	f, ok := a.stderr.(*os.File)
	tty := ok && term.IsTerminal(f.Fd())
	var last time.Time
	var lastStage string
	return func(p ops.Progress) {
		line := p.Item + " " + p.Stage
		if p.Detail != "" {
			line += ": " + p.Detail
		}
		if tty {
			fmt.Fprintf(a.stderr, "\r\033[K%s", line)
			if p.Bytes == 0 || p.Stage != "dumping" && p.Stage != "restoring" && p.Stage != "archiving" && p.Stage != "unpacking" {
				fmt.Fprintln(a.stderr)
			}
			return
		}
		if p.Stage == lastStage && time.Since(last) < 5*time.Second {
			return
		}
		last, lastStage = time.Now(), p.Stage
		fmt.Fprintln(a.stderr, line)
	}
}
