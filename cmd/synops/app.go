package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"synops/ops/config"
	"synops/ops/users"
)

// env is the process environment as a lookup, so tests never touch os.Environ.
type env func(string) string

// app is one invocation: its streams, environment and the global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         env

	config, profile, homeserverURL, homeserverYAML string
	environment, synapseDBDSN, appDBDSN, backupDir string
	tokenFile                                      string
	readOnly                                       bool
	interval                                       time.Duration
	token                                          string // only to refuse it

	sets []*pflag.FlagSet // where "Changed" is looked up
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

func commands() []command {
	return []command{
		{"config check", "show the resolved configuration and test every connection", runConfigCheck},
		{"health", "run every health check once; exit 0 ok, 1 warning, 2 critical", runHealth},
		{"version", "print the synops version", runVersion},
		{"rooms list", "list every room (paging through all of them)", runRoomsList},
		{"rooms show", "a room's details, members, references and retention", runRoomsShow},
		{"rooms delete", "shut down and purge a room, then clear app references", changeCmd(roomsDelete)},
		{"rooms block", "block a room ID so local users cannot join it", changeCmd(func() roomChange { return roomsBlock(true) })},
		{"rooms unblock", "lift a room block", changeCmd(func() roomChange { return roomsBlock(false) })},
		{"rooms purge-history", "purge a room's events older than a date", changeCmd(roomsPurgeHistory)},
		{"rooms purge", "retention: delete rooms older than a duration (dry run unless --apply)", runRoomsPurge},
		{"users list", "list accounts (all pages); --admins, --deactivated, --locked", runUsersList},
		{"users show", "an account's rooms, devices, sessions and media", runUsersShow},
		{"users disable", "revoke access now: leave every room, lock, log out everywhere", userCmd(simpleUserChange(users.Disable, "disable"))},
		{"users enable", "unlock a disabled account (its rooms are not rejoined)", userCmd(simpleUserChange(users.Enable, "enable"))},
		{"users lock", "lock an account: no login, every token refused", userCmd(simpleUserChange(users.Lock, "lock"))},
		{"users unlock", "unlock an account", userCmd(simpleUserChange(users.Unlock, "unlock"))},
		{"users suspend", "suspend an account: no joining, inviting or sending", userCmd(simpleUserChange(users.Suspend, "suspend"))},
		{"users unsuspend", "lift a suspension", userCmd(simpleUserChange(users.Unsuspend, "unsuspend"))},
		{"users reset-password", "set a new password (generated and shown once, or typed)", userCmd(usersResetPassword)},
		{"users admin", "grant or revoke server admin (--grant | --revoke)", userCmd(usersAdmin)},
		{"users login-as", "an access token acting as the account, shown once", userCmd(usersLoginAs)},
		{"users redact-events", "redact an account's messages", userCmd(usersRedactEvents)},
		{"users deactivate", "deactivate an account; --erase also GDPR-erases it", userCmd(usersDeactivate)},
		{"tokens status", "the admin token's age and where the last rotation stands; exit 1 if it needs you", runTokensStatus},
		{"tokens rotate", "give synops and the application a new admin token; the old one keeps working", changeCmd(tokensRotate)},
		{"tokens finish", "log the old admin token out (and deactivate its admin) after a rotation", changeCmd(tokensFinish)},
		{"tokens rollback", "undo a rotation that was not finished", changeCmd(tokensRollback)},
		{"audit log", "synops' audit log, newest first (--since 7d, --action, --outcome)", runAuditLog},
		{"audit ack", "record that you checked a manual item of the security audit", runAuditAck},
		{"audit", "the security checklist with evidence; exit 0 ok, 1 warning, 2 failure", runAudit},
		{"reset plan", "seed 000's reset: the checklist with evidence and the exact commands; changes nothing", runResetPlan},
		{"reset run", "reset the Matrix database: checklist, typed server name, each step shown and checked; resumes", runResetRun},
		{"reset status", "where the newest reset stands; exit 1 while one is unfinished", runResetStatus},
		{"reset notify", "tell every local user (or reset.notify_room) the server goes away for a reset", runResetNotify},
		{"reset told", "record that you told the team Matrix chat will be unavailable", runResetTold},
		{"diagnose", "troubleshooting checks of the guides (one SYMPTOM or all); exit 0 ok, 1 warning, 2 critical", runDiagnose},
		{"backup create", "back up Synapse's database, files and media (--verify to restore-test it)", backupCommand(backupCreate)},
		{"backup list", "the backups with age, size, verification and contents", runBackupList},
		{"backup verify", "restore a backup into a scratch database and compare it (exit 3 when it fails)", backupCommand(backupVerify)},
		{"backup prune", "remove old backups, never the newest verified (dry run unless --apply)", backupCommand(backupPrune)},
		{"backup restore", "put Synapse's database (and --media) back as a backup holds it", backupCommand(backupRestore)},
		{"backup volumes", "compose: stop the services, archive each named volume, start them", backupCommand(backupVolumes)},
		{"backup restore-volume", "unpack a volume archive into a new docker volume", backupCommand(backupRestoreVolume)},
	}
}

func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	stdout, stderr = streams(stdout, stderr)
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	top := a.flagSet("synops")
	top.SetInterspersed(false)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			a.usage()
			return nil
		}
		return usageError("%v (see synops help)", err)
	}
	rest := top.Args()
	if len(rest) == 0 {
		return runConsole(ctx, a)
	}
	if rest[0] == "help" {
		a.usage()
		return nil
	}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(rest) >= len(words) && equalWords(rest[:len(words)], words) {
			return c.run(ctx, a, rest[len(words):])
		}
	}
	return usageError("unknown command %q (see synops help)", strings.Join(rest, " "))
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// flagSet makes a FlagSet that also carries the global flags, so they may be
// given before or after the subcommand.
func (a *app) flagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVarP(&a.homeserverYAML, "homeserver-yaml", "c", a.homeserverYAML, "Synapse's homeserver.yaml: discover server name, URL, database, secrets from it")
	fs.StringVar(&a.config, "config", a.config, "synops config file (default $XDG_CONFIG_HOME/synops/config.yaml)")
	fs.StringVarP(&a.profile, "profile", "p", a.profile, "profile in the config file")
	fs.StringVar(&a.homeserverURL, "homeserver-url", a.homeserverURL, "Synapse client URL, e.g. http://127.0.0.1:8008")
	fs.StringVar(&a.environment, "environment", a.environment, "environment label: development, staging or production")
	fs.BoolVar(&a.readOnly, "read-only", a.readOnly, "refuse every change; reads only")
	fs.StringVar(&a.synapseDBDSN, "synapse-db-dsn", a.synapseDBDSN, "Synapse's PostgreSQL database (no password here: use ~/.pgpass or the config file)")
	fs.StringVar(&a.appDBDSN, "app-db-dsn", a.appDBDSN, "application (OpenMeet) database (no password here)")
	fs.StringVar(&a.backupDir, "backup-dir", a.backupDir, "where backups are kept")
	fs.StringVar(&a.tokenFile, "token-file", a.tokenFile, "file holding the admin token (mode 0600)")
	fs.Var(config.NewDurationValue(&a.interval, 2*time.Second), "interval", "console: how often the cheap health checks run")
	fs.StringVar(&a.token, "token", "", "refused: a token in argv is visible to every user")
	_ = fs.MarkHidden("token")
	a.sets = append(a.sets, fs)
	return fs
}

func (a *app) changed(name string) bool {
	for _, fs := range a.sets {
		if fs.Changed(name) {
			return true
		}
	}
	return false
}

func (a *app) flags() (config.Flags, error) {
	if a.changed("token") {
		return config.Flags{}, &exitError{code: 2, err: config.RefuseTokenFlag("token")}
	}
	var f config.Flags
	str := func(name string, v *string) *string {
		if a.changed(name) {
			return v
		}
		return nil
	}
	f.Config = str("config", &a.config)
	f.Profile = str("profile", &a.profile)
	f.HomeserverURL = str("homeserver-url", &a.homeserverURL)
	f.HomeserverYAML = str("homeserver-yaml", &a.homeserverYAML)
	f.Environment = str("environment", &a.environment)
	f.SynapseDBDSN = str("synapse-db-dsn", &a.synapseDBDSN)
	f.AppDBDSN = str("app-db-dsn", &a.appDBDSN)
	f.BackupDir = str("backup-dir", &a.backupDir)
	f.TokenFile = str("token-file", &a.tokenFile)
	if a.changed("read-only") {
		f.ReadOnly = &a.readOnly
	}
	return f, nil
}

// parse parses a subcommand's own flags (plus the global ones).
func (a *app) parse(fs *pflag.FlagSet, args []string, usage string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(a.stdout, "usage: synops %s\n\n%s", usage, fs.FlagUsages())
			return silentExit(0)
		}
		return usageError("%v (usage: synops %s)", err, usage)
	}
	return nil
}

// load resolves the configuration. Validation problems are returned with the
// Resolved so config check can show both.
func (a *app) load(ctx context.Context) (*config.Resolved, error) {
	f, err := a.flags()
	if err != nil {
		return nil, err
	}
	return config.Load(ctx, f, a.getenv)
}

func (a *app) usage() {
	w := a.stdout
	fmt.Fprintln(w, "synops — admin console for a Matrix Synapse ops box")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: synops [global flags]                    open the console")
	fmt.Fprintln(w, "       synops [global flags] <command> [flags]  run one command headless")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "global flags:")
	fs := a.flagSet("synops")
	fmt.Fprint(w, fs.FlagUsages())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The admin token is read from MATRIX_ADMIN_TOKEN, a token file or a command (never a flag).")
}

func runVersion(_ context.Context, a *app, args []string) error {
	fs := a.flagSet("version")
	if err := a.parse(fs, args, "version"); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "synops", version())
	return nil
}
