package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// backupChange is a backup command: change[E] on the backup service. Create
// and verify plans are read-only (shown, not asked about); prune is a dry
// run unless --apply; a failure names the job log, and a failed
// verification exits 3.
type backupChange = change[*backupEnv]

func backupChangeOf(name, usage string, withSynapse bool) backupChange {
	return backupChange{name: name, usage: usage,
		env: func(ctx context.Context, a *app) (*backupEnv, *ops.Guard, func(), error) {
			be, err := a.backupService(ctx, withSynapse)
			if err != nil {
				return nil, nil, nil, err
			}
			return be, be.guard, be.close, nil
		},
		failed: func(be *backupEnv, err error) error {
			if errors.Is(err, backup.ErrVerifyFailed) {
				return &exitError{code: exitVerifyFailed, err: fmt.Errorf("%w (job log: %s)", err, be.jobLog)}
			}
			return fmt.Errorf("%w (job log: %s)", err, be.jobLog)
		}}
}

func backupCommand(build func() backupChange) func(context.Context, *app, []string) error {
	return changeCmd(build)
}

func backupCreate() backupChange {
	var req backup.CreateRequest
	var format, media string
	c := backupChangeOf("backup create", "backup create [--verify] [--format custom|sql-gzip] [--media local|all|none]", false)
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.BoolVar(&req.Verify, "verify", false, "restore-test it right away (exit 3 when that fails)")
		fs.StringVar(&format, "format", "", "custom (pg_dump custom, zstd; the default) or sql-gzip (seed 004's pg_dump | gzip)")
		fs.StringVar(&media, "media", "", "local (uploads), all (also remote caches) or none; default backup.media")
		return func() error {
			req.Format, req.Media = config.BackupFormat(format), config.MediaScope(media)
			return nil
		}
	}
	c.plan = func(ctx context.Context, _ *app, be *backupEnv, _ string) (*ops.Plan, error) {
		return be.svc.PlanCreate(ctx, req)
	}
	c.apply = func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		res, err := be.svc.ApplyCreate(ctx, p, ap, a.byteProgress())
		if res != nil && res.Entry.ID != "" {
			fmt.Fprintf(a.stdout, "backup %s: %s in %s\n", res.Entry.ID, textSize(res.Entry.Size()), res.Entry.Dir)
			if res.Verify != nil {
				a.printVerify(res.Verify)
			}
		}
		return "", err
	}
	return c
}

func backupVerify() backupChange {
	var req backup.VerifyRequest
	c := backupChangeOf("backup verify", "backup verify (ID | --latest)", false)
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.BoolVar(&req.Latest, "latest", false, "the newest backup of Synapse")
		return nil
	}
	c.target = func(args []string, usage string) (string, error) {
		switch {
		case len(args) > 1:
			return "", usageError("give one backup ID (usage: synops %s)", usage)
		case len(args) == 1 && req.Latest:
			return "", usageError("give a backup ID or --latest, not both (usage: synops %s)", usage)
		case len(args) == 0 && !req.Latest:
			return "", usageError("give a backup ID (see backup list) or --latest (usage: synops %s)", usage)
		case len(args) == 1:
			req.ID = args[0]
		}
		return req.ID, nil
	}
	c.plan = func(ctx context.Context, _ *app, be *backupEnv, _ string) (*ops.Plan, error) {
		return be.svc.PlanVerify(ctx, req)
	}
	c.apply = func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		res, err := be.svc.ApplyVerify(ctx, p, ap, a.byteProgress())
		if res != nil {
			a.printVerify(res)
		}
		return "", err
	}
	return c
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
	c := backupChangeOf("backup prune", "backup prune [--max-age 30d] [--keep N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--apply [--yes --confirm=SERVER_NAME]]", false)
	c.dryRun = true
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.StringVar(&maxAge, "max-age", "", "remove backups older than this (default backup.max_age, 30d)")
		fs.IntVar(&r.Keep, "keep", -1, "always keep this many newest (default backup.keep)")
		fs.IntVar(&r.KeepDaily, "keep-daily", -1, "keep the newest of this many recent days (default backup.keep_daily)")
		fs.IntVar(&r.KeepWeekly, "keep-weekly", -1, "keep the newest of this many recent weeks (default backup.keep_weekly)")
		fs.IntVar(&r.KeepMonthly, "keep-monthly", -1, "keep the newest of this many recent months (default backup.keep_monthly)")
		return func() error {
			r.MaxAge = -1
			if maxAge != "" {
				d, err := config.ParseDuration(maxAge)
				if err != nil {
					return fmt.Errorf("--max-age: %w", err)
				}
				r.MaxAge = d
			}
			return nil
		}
	}
	c.plan = func(ctx context.Context, _ *app, be *backupEnv, _ string) (*ops.Plan, error) {
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
	}
	c.apply = func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		res, err := be.svc.ApplyPrune(ctx, p, ap, a.progressLine)
		if res != nil {
			fmt.Fprintf(a.stdout, "removed %d backups, %s freed\n", len(res.Removed), textSize(res.Freed))
		}
		return "", err
	}
	c.report = func(a *app) { a.printPrune(pp) }
	return c
}

func (a *app) printPrune(pp *backup.PrunePreview) {
	if pp == nil {
		return
	}
	var rows [][]string
	for _, it := range pp.Items {
		taken := ""
		if !it.TakenAt.IsZero() {
			taken = it.TakenAt.Local().Format("2006-01-02 15:04")
		}
		verb := "keep"
		if it.Remove {
			verb = "REMOVE"
		}
		rows = append(rows, []string{it.ID, taken, textSize(it.Size), it.State, verb, it.Why})
	}
	a.table([]string{"ID", "TAKEN", "SIZE", "STATE", "", "WHY"}, rows)
	if pp.Halted != "" {
		fmt.Fprintln(a.stdout, "nothing is removed:", pp.Halted)
	}
}

func backupRestore() backupChange {
	var req backup.RestoreRequest
	c := backupChangeOf("backup restore", "backup restore ID [--media] [--yes --confirm=SERVER_NAME] [--without-backup]", true)
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.BoolVar(&req.Media, "media", false, "also put the media store back as the backup holds it")
		return nil
	}
	c.target = oneBackupArg("the ID of the backup to restore (see backup list)", &req.ID)
	c.plan = func(ctx context.Context, _ *app, be *backupEnv, _ string) (*ops.Plan, error) {
		return be.svc.PlanRestore(ctx, req)
	}
	c.apply = func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		res, err := be.svc.ApplyRestore(ctx, p, ap, a.byteProgress())
		if res != nil && res.SafetyBackup != "" {
			fmt.Fprintf(a.stdout, "safety backup of the database as it was: %s\n", res.SafetyBackup)
		}
		if err != nil {
			return "", err
		}
		fmt.Fprintf(a.stdout, "restored %s from backup %s in %s; Synapse answers again\n", res.Database, res.ID, res.Took.Round(time.Second))
		for _, d := range res.MediaAside {
			fmt.Fprintf(a.stdout, "the media as it was is kept at %s: remove it when you are satisfied\n", d)
		}
		return "", nil
	}
	return c
}

// oneBackupArg is a target of one backup ID, stored in id too.
func oneBackupArg(what string, id *string) func(args []string, usage string) (string, error) {
	return func(args []string, usage string) (string, error) {
		if len(args) != 1 {
			return "", usageError("give %s (usage: synops %s)", what, usage)
		}
		*id = args[0]
		return *id, nil
	}
}

func backupVolumes() backupChange {
	c := backupChangeOf("backup volumes", "backup volumes [--yes --confirm=SERVER_NAME]", false)
	c.plan = func(ctx context.Context, _ *app, be *backupEnv, _ string) (*ops.Plan, error) {
		return be.svc.PlanVolumes(ctx)
	}
	c.apply = func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		e, err := be.svc.ApplyVolumes(ctx, p, ap, a.byteProgress())
		if e != nil && e.ID != "" {
			fmt.Fprintf(a.stdout, "volume backup %s: %s in %s\n", e.ID, textSize(e.Size()), e.Dir)
		}
		return "", err
	}
	return c
}

func backupRestoreVolume() backupChange {
	var req backup.VolumeRestoreRequest
	c := backupChangeOf("backup restore-volume", "backup restore-volume ID --volume NAME --into NEW_VOLUME [--yes --confirm=SERVER_NAME]", false)
	c.flags = func(fs *pflag.FlagSet, _ *changeFlags) func() error {
		fs.StringVar(&req.Volume, "volume", "", "the volume as it was archived")
		fs.StringVar(&req.Into, "into", "", "a new volume to unpack it into (never an existing one)")
		return func() error {
			if req.Volume == "" || req.Into == "" {
				return errors.New("give --volume and --into")
			}
			return nil
		}
	}
	c.target = oneBackupArg("the backup ID", &req.ID)
	c.plan = func(ctx context.Context, _ *app, be *backupEnv, _ string) (*ops.Plan, error) {
		return be.svc.PlanVolumeRestore(ctx, req)
	}
	c.apply = func(ctx context.Context, a *app, be *backupEnv, p *ops.Plan, ap ops.Approval) (string, error) {
		if err := be.svc.ApplyVolumeRestore(ctx, p, ap, a.byteProgress()); err != nil {
			return "", err
		}
		return fmt.Sprintf("unpacked %s of backup %s into volume %s", req.Volume, req.ID, req.Into), nil
	}
	return c
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
	var rows [][]string
	for _, e := range list {
		taken, age := "", ""
		if !e.TakenAt().IsZero() {
			taken, age = e.TakenAt().Local().Format("2006-01-02 15:04"), backup.FormatAge(e.Age(now))
		}
		verified := e.Mark() + " " + e.State
		if e.State == backup.Passed {
			verified = "✓ " + e.VerifiedAt().Local().Format("2006-01-02 15:04")
		}
		rows = append(rows, []string{e.ID, e.Kind(), taken, age, textSize(e.Size()), verified, strings.Join(e.Contents(), ", ")})
		if e.Problem != "" {
			rows = append(rows, []string{"", "", "", "", "", "  " + e.Problem, ""})
		}
	}
	a.table([]string{"ID", "KIND", "TAKEN", "AGE", "SIZE", "VERIFIED", "CONTENTS"}, rows)
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
	// On a terminal the line is kept up to date with \r and erase-line, so
	// it is written to the terminal itself, its text cleaned here.
	f, ok := terminal(a.stderr)
	tty := ok && term.IsTerminal(f.Fd())
	var last time.Time
	var lastStage string
	return func(p ops.Progress) {
		line := p.Item + " " + p.Stage
		if p.Detail != "" {
			line += ": " + p.Detail
		}
		if tty {
			fmt.Fprintf(f, "\r\033[K%s", text.Clean(line))
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
