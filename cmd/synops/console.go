package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/backup"
	"synops/ops/config"
	"synops/ops/diagnose"
	"synops/ops/health"
	"synops/ops/logs"
	"synops/synapse"
	"synops/tui"
)

// runConsole opens the TUI. It needs a terminal on stdin and stdout; nothing
// is written to stdout/stderr while it runs (debug logs go to a file).
func runConsole(ctx context.Context, a *app) error {
	interval := &a.interval
	in, inOK := a.stdin.(*os.File)
	out, outOK := terminal(a.stdout)
	if !inOK || !outOK || !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return usageError("the console needs a terminal; for scripts use a command (synops help)")
	}
	if *interval < 500*time.Millisecond {
		return usageError("--interval %s is too short: use 500ms or more", *interval)
	}
	r, err := a.load(ctx)
	if err != nil {
		return err
	}
	logger, closeLog, err := openDebugLog(a.getenv)
	if err != nil {
		return err
	}
	defer closeLog()
	// Everything the console starts lives under this context; when the
	// program ends it is cancelled and the console waits for its jobs and
	// log followers (and their child processes) to be gone.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var followers followerSet
	defer followers.closeAll()
	debug.SetMemoryLimit(tui.MemoryLimit)
	// SYNOPS_CPUPROFILE=FILE writes a CPU profile of the whole session (make
	// bench reads it to say where an idle console spends its time).
	if path := a.getenv("SYNOPS_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("SYNOPS_CPUPROFILE: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("SYNOPS_CPUPROFILE: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	token, tokErr := r.LoadToken(ctx)
	if tokErr != nil {
		logger.Warn("no admin token", "err", tokErr)
	}
	client, err := synapse.New(r.HomeserverURL, token, append(followToken(r), synapse.WithRetries(0), synapse.WithTimeout(4*time.Second))...)
	if err != nil {
		return err
	}
	checker := health.NewChecker(healthConfig(r, client, a.getenv))
	defer checker.Close()

	c := tui.NewCommon(tui.Common{
		Ctx: ctx, Log: logger, ReadOnly: r.ReadOnly, Profile: r.Profile,
		Server: serverLabel(r), Environment: string(r.Environment), Production: r.Environment.IsProduction(),
	})
	diag := diagnoser{deps: diagnoseDeps(r, client)}
	deps := tui.HealthDeps{
		Source:   checker,
		Diagnose: diag,
	}
	if src, err := logs.SourceFor(r); err == nil {
		deps.Logs = func(ctx context.Context) (tui.LogFollower, string, error) {
			f, err := logs.Follow(ctx, src, logs.DefaultBacklog)
			if err != nil {
				return nil, "", err
			}
			followers.add(f)
			return f, src.String(), nil
		}
	} else {
		logger.Info("log view disabled", "reason", err)
	}
	panes := []tui.Pane{tui.NewHealthPane(c, deps, *interval)}
	more, closePanes := a.changePanes(ctx, c, r, logger, diag)
	defer closePanes()
	panes = append(panes, more...)
	m := tui.New(c, panes...)
	// 20 frames a second at most: a key is drawn within 50 ms, and an idle
	// console wakes 20 times a second instead of the default 60.
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithFPS(20))
	_, err = p.Run()
	killed := errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil
	stop()
	if !c.Jobs.Close(10 * time.Second) {
		logger.Warn("jobs still running at exit")
	}
	if killed {
		return nil // Ctrl-C / SIGTERM while running
	}
	return err
}

// followerSet is every log follower the console opened, to close them all
// (killing their commands' process groups and reaping them) before exit.
type followerSet struct {
	mu   sync.Mutex
	list []*logs.Follower
}

func (s *followerSet) add(f *logs.Follower) {
	s.mu.Lock()
	s.list = append(s.list, f)
	s.mu.Unlock()
}

func (s *followerSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.list {
		_ = f.Close()
	}
}

// changePanes builds the panes that change the server, on one client and one
// guard (which also approves for the confirm dialog). A pane that cannot be
// built is left out, and the start-up notice says why; so are operations
// earlier runs left unfinished.
// followToken: a reset or a rotation writes synops' token file, and the
// console follows it instead of going on with a dead token. (A token
// command may ask on the terminal; an environment variable cannot change.)
func followToken(r *config.Resolved) []synapse.Option {
	if r.Token.File == "" {
		return nil
	}
	return []synapse.Option{synapse.WithTokenReload(r.LoadToken)}
}

func (a *app) changePanes(ctx context.Context, c *tui.Common, r *config.Resolved, logger *slog.Logger, diag tui.Diagnoser) ([]tui.Pane, func()) {
	var notices []string
	var panes []tui.Pane
	var closers []func()
	closeAll := func() {
		for _, f := range closers {
			f()
		}
	}
	defer func() { c.Notice = strings.Join(notices, "; ") }()
	b, berr := a.opsBase(ctx, r, followToken(r)...)
	security := func() {
		if sc, err := a.securityConsole(r, b, berr); err == nil {
			panes = append(panes, tui.NewSecurityPane(c, sc))
		} else {
			logger.Warn("security pane disabled", "reason", err)
			notices = append(notices, "no Security pane: "+err.Error())
		}
	}
	if berr != nil {
		logger.Warn("no Rooms or Users pane", "reason", berr)
		notices = append(notices, "no Rooms or Users pane: "+berr.Error())
		security()
		return panes, closeAll
	}
	c.Approvals = b.guard
	unfinished := func(n int, what, finish, cli string) {
		switch {
		case n == 0:
		case c.ReadOnly:
			notices = append(notices, fmt.Sprintf("%s: %d; %s finishes them (not in read-only mode)", what, n, cli))
		default:
			notices = append(notices, fmt.Sprintf("%s: %d; %s (or %s) finishes them", what, n, finish, cli))
		}
	}
	if re, err := a.roomService(ctx, b, true); err == nil {
		closers = append(closers, re.close)
		panes = append(panes, tui.NewRoomsPane(c, re.svc).WithDiagnoser(diag))
		unfinished(len(re.svc.Interrupted()), "interrupted room deletions", "F in Rooms", "synops rooms purge --unfinished --apply")
	} else {
		logger.Warn("rooms pane disabled", "reason", err)
		notices = append(notices, "no Rooms pane: "+err.Error())
	}
	if ue, err := a.userService(b); err == nil {
		closers = append(closers, ue.close)
		panes = append(panes, tui.NewUsersPane(c, ue.svc))
		unfinished(len(ue.svc.Interrupted()), "unfinished account disables", "d on the account in Users", "synops users disable USER_ID")
	} else {
		logger.Warn("users pane disabled", "reason", err)
		notices = append(notices, "no Users pane: "+err.Error())
	}
	if r.Backup.Dir == "" {
		notices = append(notices, "no Backups pane: set backup.dir in the profile")
	} else if be, err := a.backupOn(r, b.client); err == nil {
		closers = append(closers, be.close)
		panes = append(panes, tui.NewBackupsPane(c, backupConsole{be.svc}))
	} else {
		logger.Warn("backups pane disabled", "reason", err)
		notices = append(notices, "no Backups pane: "+err.Error())
	}
	if re, err := a.resetOn(ctx, b, true); err == nil {
		closers = append(closers, re.close)
		panes = append(panes, tui.NewResetPane(c, re.svc))
		if st, err := re.svc.Status(ctx); err == nil && st != nil && st.Unfinished() {
			how := "S in Reset (or synops reset run) resumes it"
			if c.ReadOnly {
				how = "synops reset run resumes it (not in read-only mode)"
			}
			notices = append(notices, fmt.Sprintf("a reset of %s begun %s is unfinished; %s", st.Server, st.StartedAt.Local().Format("2006-01-02 15:04"), how))
		}
	} else {
		logger.Warn("reset pane disabled", "reason", err)
		notices = append(notices, "no Reset pane: "+err.Error())
	}
	security()
	return panes, closeAll
}

// backupConsole is the Backups pane's view of the backup service: the
// catalog's list, and prune by the profile's retention.
type backupConsole struct{ *backup.Service }

func (b backupConsole) List(ctx context.Context) ([]backup.Entry, error) { return b.Catalog.List(ctx) }

func (b backupConsole) PlanPrune(ctx context.Context) (*ops.Plan, error) {
	p, _, err := b.Service.PlanPrune(ctx, b.Retention)
	return p, err
}

// diagnoser binds the diagnosis checks to this configuration for the TUI.
type diagnoser struct{ deps diagnose.Deps }

func (d diagnoser) Symptoms() []diagnose.Symptom {
	all := diagnose.Symptoms()
	if d.deps.RoomID == "" {
		return all
	}
	var room []diagnose.Symptom
	for _, s := range all {
		if diagnose.TakesRoom(s.ID) {
			room = append(room, s)
		}
	}
	return room
}

func (d diagnoser) ForRoom(roomID string) tui.Diagnoser {
	d.deps.RoomID = roomID
	return d
}

func (d diagnoser) Run(ctx context.Context, id string) (diagnose.Verdict, error) {
	return diagnose.Run(ctx, d.deps, id)
}

func serverLabel(r *config.Resolved) string {
	if r.ServerName != "" {
		return r.ServerName
	}
	return r.HomeserverURL
}

// healthConfig is the checker's view of the resolved configuration.
func healthConfig(r *config.Resolved, client *synapse.Client, getenv env) health.Config {
	cfg := health.Config{
		Synapse: client, MetricsURLs: r.MetricsURLs, LiveKitURL: r.LiveKitURL,
		SynapseDB: r.SynapseDB.Raw, AppDB: r.AppDB.Raw,
		Thresholds: health.DefaultThresholds(),
	}
	if r.MediaStore != "" {
		cfg.Disks = append(cfg.Disks, health.Disk{Label: "media store", Path: r.MediaStore})
	}
	if r.Backup.Dir != "" {
		cfg.Disks = append(cfg.Disks, health.Disk{Label: "backups", Path: r.Backup.Dir})
		cfg.Backups, cfg.Thresholds.BackupAgeCrit = backupCatalog(r, getenv), r.Backup.FreshWithin
		if dir, err := audit.StateDir(getenv); err == nil {
			cfg.LastReset = lastReset(dir, r.ServerName)
		}
	}
	return cfg
}

// openDebugLog opens synops.log (0600) in the state directory for slog.
func openDebugLog(getenv env) (*slog.Logger, func(), error) {
	dir, err := audit.StateDir(getenv)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "synops.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open debug log: %w", err)
	}
	level := slog.LevelInfo
	if getenv("SYNOPS_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: level})), func() { f.Close() }, nil
}
