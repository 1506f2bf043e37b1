package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"synops/ops/audit"
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
	out, outOK := a.stdout.(*os.File)
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

	token, tokErr := r.LoadToken(ctx)
	if tokErr != nil {
		logger.Warn("no admin token", "err", tokErr)
	}
	client, err := synapse.New(r.HomeserverURL, token, synapse.WithRetries(0), synapse.WithTimeout(4*time.Second))
	if err != nil {
		return err
	}
	checker := health.NewChecker(healthConfig(r, client, a.getenv))
	defer checker.Close()

	c := tui.NewCommon(tui.Common{
		Ctx: ctx, Log: logger, ReadOnly: r.ReadOnly, Profile: r.Profile,
		Server: serverLabel(r), Environment: string(r.Environment), Production: r.Environment.IsProduction(),
	})
	deps := tui.HealthDeps{
		Source: checker,
		Diagnose: diagnoser{deps: diagnose.Deps{
			Synapse: client, SynapseDB: r.SynapseDB.Raw, Homeserver: r.Homeserver, HomeserverYAML: r.HomeserverYAML,
			MetricsURLs: r.MetricsURLs, Services: r.Services, LogFile: r.LogFile,
		}},
	}
	if src, err := logs.SourceFor(r); err == nil {
		deps.Logs = func(ctx context.Context) (tui.LogFollower, string, error) {
			f, err := logs.Follow(ctx, src, logs.DefaultBacklog)
			if err != nil {
				return nil, "", err
			}
			return f, src.String(), nil
		}
	} else {
		logger.Info("log view disabled", "reason", err)
	}
	panes := []tui.Pane{tui.NewHealthPane(c, deps, *interval)}
	if re, err := a.roomService(ctx, r); err == nil {
		defer re.close()
		panes = append(panes, tui.NewRoomsPane(c, re.svc))
		if n := len(re.svc.Interrupted()); n > 0 {
			c.Notice = fmt.Sprintf("interrupted room deletions: %d; F in Rooms (or synops rooms purge --unfinished --apply) finishes them", n)
			if c.ReadOnly {
				c.Notice = fmt.Sprintf("interrupted room deletions: %d; synops rooms purge --unfinished --apply finishes them (not in read-only mode)", n)
			}
		}
	} else {
		logger.Warn("rooms pane disabled", "reason", err)
		c.Notice = "no Rooms pane: " + err.Error()
	}
	m := tui.New(c, panes...)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err = p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // Ctrl-C / SIGTERM while running
	}
	return err
}

// diagnoser binds the diagnosis checks to this configuration for the TUI.
type diagnoser struct{ deps diagnose.Deps }

func (diagnoser) Symptoms() []diagnose.Symptom { return diagnose.Symptoms() }

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
