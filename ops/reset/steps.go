package reset

import (
	"context"
	"fmt"
	"strings"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/tokens"
)

// stepDef is a step and what it does: run carries it out and checks the
// result, returning the evidence of that check.
type stepDef struct {
	Step
	run func(ctx context.Context, w *Walk, out *stepOut) (evidence string, err error)
	// next is what to do when the step fails, beyond resuming.
	next func(err error) string
}

// Guards of the steps: before the server is touched every item must hold;
// once it has been, what the remaining steps need.
var (
	guardFirst = []string{ItemAdmin, ItemEnvironment, ItemTeam, ItemBackup, ItemSecret, ItemDeployment, ItemApp}
	guardReset = []string{ItemEnvironment, ItemBackup, ItemSecret, ItemDeployment, ItemApp}
	guardStart = []string{ItemEnvironment, ItemSecret, ItemDeployment, ItemApp}
	guardAfter = []string{ItemSecret, ItemApp}
	guardApp   = []string{ItemApp}
)

// plan facts a step list is built from: the checklist's findings, or what
// the state file recorded when the reset began.
type stepFacts struct {
	newAdmin string // user ID
	volumes  []string
	db       *database
	media    *Media
}

// shellJoin shows argv as a shell would need it typed: arguments with
// spaces or shell characters in single quotes.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]{}!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func cat(base []string, more ...string) []string {
	return append(append([]string(nil), base...), more...)
}

// steps lists what the reset does on this profile's path, then the
// post-reset steps, with the exact commands each runs.
func (s *Service) steps(ctx context.Context, sf stepFacts) ([]stepDef, error) {
	var defs []stepDef
	var err error
	switch s.path() {
	case config.ResetCompose:
		defs, err = s.composeSteps(ctx, sf)
	case config.ResetStandalone:
		defs, err = s.standaloneSteps(ctx, sf)
	case config.ResetCustom:
		defs = s.customSteps()
	default:
		return nil, fmt.Errorf("no reset path: set services.kind (compose, systemd or custom) or reset.path custom with reset.commands")
	}
	if err != nil {
		return nil, err
	}
	defs = append(defs, s.afterSteps(ctx, sf)...)
	for i := range defs {
		defs[i].Status = StepPending
	}
	defs[0].Guards = guardFirst
	return defs, nil
}

func (s *Service) composeSteps(ctx context.Context, sf stepFacts) ([]stepDef, error) {
	ctl := s.controller()
	base, err := ctl.ComposeBase(ctx)
	if err != nil {
		return nil, err
	}
	syn, pgs := ctl.ServiceName(services.Synapse), ctl.ServiceName(services.Postgres)
	if len(sf.volumes) == 0 {
		return nil, fmt.Errorf("no volumes to remove: list them in reset.volumes")
	}
	up := cat(base, "up", "-d", syn, pgs)
	return []stepDef{
		{Step: Step{ID: StepStop, Title: "Stop the Matrix services", Stage: StageReset, Risk: ops.Reversible,
			Commands: []string{shellJoin(cat(base, "stop", syn, pgs))},
			Verify:   syn + " and " + pgs + " are not running"},
			run: runComposeStop},
		{Step: Step{ID: StepRemoveContainers, Title: "Remove the containers", Stage: StageReset, Risk: ops.Reversible,
			Commands: []string{shellJoin(cat(base, "rm", "-f", syn, pgs))},
			Verify:   "no container is left for " + syn + " or " + pgs + " (compose up makes them again)", Guards: guardReset},
			run: runComposeRemove},
		{Step: Step{ID: StepRemoveVolumes, Title: "Remove the volumes holding the database and media", Stage: StageReset, Risk: ops.Destructive,
			Commands: []string{shellJoin(cat([]string{"docker", "volume", "rm"}, sf.volumes...))},
			Verify:   "docker volume inspect finds none of them", Guards: guardReset},
			run: runRemoveVolumes, next: volumeAdvice},
		{Step: Step{ID: StepStart, Title: "Recreate and start the services", Stage: StageReset, Risk: ops.Reversible,
			Commands: []string{shellJoin(up)},
			Verify:   fmt.Sprintf("the database %s exists and holds no users or rooms, Synapse answers /health (first boot creates the schema; up to %s)", orNone(dbName(s.SynapseDB)), config.FormatDuration(s.startTimeout())),
			Guards:   guardStart},
			run: func(ctx context.Context, w *Walk, out *stepOut) (string, error) {
				if _, err := w.ctl(out).Run(ctx, up); err != nil {
					return "", err
				}
				return w.waitFresh(ctx, out)
			}},
	}, nil
}

func dbName(d config.DSN) string {
	cfg, err := parseDSN(d, "Synapse database")
	if err != nil {
		return ""
	}
	return cfg.Database
}

func (s *Service) standaloneSteps(ctx context.Context, sf stepFacts) ([]stepDef, error) {
	ctl := s.controller()
	stop, err := ctl.Command(ctx, services.Stop, services.Synapse)
	if err != nil {
		return nil, err
	}
	start, err := ctl.Command(ctx, services.Start, services.Synapse)
	if err != nil {
		return nil, err
	}
	d := sf.db
	if d == nil {
		if d, err = s.database(); err != nil {
			return nil, err
		}
	}
	m := sf.media
	if m == nil {
		return nil, fmt.Errorf("the media store is unknown: point -c at homeserver.yaml (media_store_path) or set media_store")
	}
	on := fmt.Sprintf(" -- through pgx as %s on its maintenance database", d.shown)
	owner := ownerName(m.UID, m.GID)
	return []stepDef{
		{Step: Step{ID: StepStop, Title: "Stop the Matrix Synapse service", Stage: StageReset, Risk: ops.Reversible,
			Commands: []string{shellJoin(stop)},
			Verify:   "the service manager says Synapse is not running, and it no longer answers /health"},
			run: runStandaloneStop},
		{Step: Step{ID: StepDropDatabase, Title: "Drop the database", Stage: StageReset, Risk: ops.Destructive,
			Commands: []string{d.dropSQL() + on},
			Verify:   "database " + d.Name + " no longer exists", Guards: guardReset},
			run: runDropDatabase},
		{Step: Step{ID: StepCreateDatabase, Title: "Create the database afresh", Stage: StageReset, Risk: ops.Reversible,
			Commands: []string{d.createSQL() + on},
			Verify:   fmt.Sprintf("database %s exists, UTF8 with C collation and ctype, owned by %s, and has no tables", d.Name, d.Owner), Guards: guardReset},
			run: runCreateDatabase},
		{Step: Step{ID: StepRecreateMedia, Title: "Empty and recreate the media store", Stage: StageReset, Risk: ops.Destructive,
			Commands: []string{
				"rm -rf " + shellJoin([]string{m.Path}) + "/*   -- synops removes everything inside itself (no shell); the directory stays, so a mount or a link to another disk stays one",
				fmt.Sprintf("mkdir -p %s && chmod %04o %s && chown %d:%d %s   -- %s, as it was", shellJoin([]string{m.Path}), m.Mode.Perm(), shellJoin([]string{m.Path}), m.UID, m.GID, shellJoin([]string{m.Path}), owner),
			},
			Verify: fmt.Sprintf("%s exists, is empty, belongs to %s with mode %04o", m.Path, owner, m.Mode.Perm()), Guards: guardReset},
			run: runRecreateMedia},
		{Step: Step{ID: StepStart, Title: "Start the Matrix Synapse service", Stage: StageReset, Risk: ops.Reversible,
			Commands: []string{shellJoin(start)},
			Verify:   fmt.Sprintf("Synapse answers /health (first boot creates the schema; up to %s) and database %s holds no users or rooms", config.FormatDuration(s.startTimeout()), d.Name),
			Guards:   guardStart},
			run: func(ctx context.Context, w *Walk, out *stepOut) (string, error) {
				if err := w.ctl(out).Start(ctx, services.Synapse); err != nil {
					return "", err
				}
				return w.waitFresh(ctx, out)
			}},
	}, nil
}

func (s *Service) customSteps() []stepDef {
	var defs []stepDef
	n := len(s.Config.Commands)
	for i, argv := range s.Config.Commands {
		last := i == n-1
		d := stepDef{Step: Step{ID: StepID(fmt.Sprintf("%s-%d", StepCustom, i+1)), Title: fmt.Sprintf("Reset command %d of %d", i+1, n),
			Stage: StageReset, Risk: ops.Destructive, Commands: []string{shellJoin(argv)}, Verify: "it exits 0", Guards: guardReset}}
		if last {
			d.Verify = fmt.Sprintf("it exits 0; then Synapse answers /health (up to %s) and its database holds no users or rooms", config.FormatDuration(s.startTimeout()))
		}
		d.run = func(ctx context.Context, w *Walk, out *stepOut) (string, error) {
			if _, err := w.ctl(out).Run(ctx, argv); err != nil {
				return "", err
			}
			if !last {
				return "exit status 0", nil
			}
			return w.waitFresh(ctx, out)
		}
		defs = append(defs, d)
	}
	return defs
}

func (s *Service) afterSteps(ctx context.Context, sf stepFacts) []stepDef {
	admin := sf.newAdmin
	defs := []stepDef{{Step: Step{ID: StepRegisterAdmin, Title: "Register the new admin and verify its token", Stage: StageAfter, Risk: ops.Reversible,
		Commands: []string{
			"POST /_synapse/admin/v1/register  -- " + admin + " as a server admin, signed with the registration shared secret; a random password, not kept (no docker exec)",
			"POST /_matrix/client/v3/login  -- as " + admin + " on a new device",
			"GET /_matrix/client/v3/account/whoami, GET /_synapse/admin/v2/users/" + admin + "  -- with the new token",
		},
		Verify: "the new token is " + admin + "'s and the admin API answers it", Guards: guardAfter},
		run: runRegisterAdmin}}

	var writes []string
	for _, t := range s.targets() {
		line := "write the new token to " + t.String()
		if t.Kind != tokens.KindCommand {
			line += " -- atomically, mode 0600 at most, the previous file kept as " + t.Path + ".synops-bak-<time>"
		}
		writes = append(writes, line)
	}
	defs = append(defs, stepDef{Step: Step{ID: StepWriteToken, Title: "Write the new token where the application reads it", Stage: StageAfter, Risk: ops.Reversible,
		Commands: writes, Verify: "every file holds the new token (read back) with mode 0600 at most", Guards: guardApp},
		run: runWriteToken})

	if s.AppDB != nil {
		refs := s.resetRefs()
		stmts := make([]string, 0, len(refs.Clear)+2)
		stmts = append(stmts, "BEGIN;")
		for _, q := range refs.Clear {
			stmts = append(stmts, strings.Join(strings.Fields(q), " ")+";")
		}
		stmts = append(stmts, "COMMIT;  -- on the application database")
		verify := "the statements committed"
		if refs.Count != "" {
			verify = "the application database counts no reference left"
		}
		defs = append(defs, stepDef{Step: Step{ID: StepClearAppRefs, Title: "Clear the application's Matrix references", Stage: StageAfter, Risk: ops.Destructive,
			Commands: stmts, Verify: verify, Guards: guardApp},
			run: runClearAppRefs})
	}
	if argv, ok := s.restartCommand(ctx); ok {
		defs = append(defs, stepDef{Step: Step{ID: StepRestartApp, Title: "Restart the application", Stage: StageAfter, Risk: ops.Reversible,
			Commands: []string{shellJoin(argv) + "  -- without synops' own MATRIX_ADMIN_TOKEN in its environment"},
			Verify:   "it exits 0", Guards: guardApp},
			run: runRestartApp})
	}
	checks := []string{"GET /health", "GET /_matrix/client/v3/account/whoami and the admin API with the new token"}
	for _, t := range s.targets() {
		if t.Kind != tokens.KindCommand {
			checks = append(checks, "whoami with the token "+t.String()+" holds (what the application reads)")
		}
	}
	if s.Tokens != nil && len(s.Tokens.Config.Check) > 0 {
		env := s.Tokens.Config.CheckEnv
		if env == "" {
			env = config.DefaultTokenEnv
		}
		checks = append(checks, shellJoin(s.Tokens.Config.Check)+"  -- the application's own check, the new token in $"+env)
	}
	defs = append(defs, stepDef{Step: Step{ID: StepFinalCheck, Title: "Final check", Stage: StageAfter, Risk: ops.ReadOnly,
		Commands: checks, Verify: "Synapse is healthy, the new token works, and so do the application's credentials"},
		run: runFinalCheck})
	return defs
}

func (s *Service) targets() []tokens.Target {
	if s.Tokens == nil {
		return nil
	}
	return tokens.Targets(s.Tokens.Own, s.Tokens.Config.WriteTo)
}

// restartCommand is how the application is restarted: reset.restart_app
// (which defaults to tokens.redeploy), else the service manager's restart
// of services.app_service or app_unit.
func (s *Service) restartCommand(ctx context.Context) ([]string, bool) {
	if len(s.Config.RestartApp) > 0 {
		return s.Config.RestartApp, true
	}
	ctl := s.controller()
	if !ctl.Manages(services.AppAPI) {
		return nil, false
	}
	argv, err := ctl.Command(ctx, services.Restart, services.AppAPI)
	return argv, err == nil
}

func volumeAdvice(err error) string {
	if strings.Contains(err.Error(), "in use") {
		return "a container still uses a volume: `docker ps -a --filter volume=NAME` shows which; stop and remove it (or let synops remove the project's containers), then run `synops reset run` again: it resumes at this step"
	}
	return "check the error above, then run `synops reset run` again: it resumes at this step"
}
