// Package config resolves synops' settings from flags, the environment, a YAML
// config file with named profiles and Synapse's own homeserver.yaml, and records
// where each value came from so `synops config check` can show it.
//
// Precedence, for every setting: flag > environment variable > config-file
// profile > homeserver.yaml discovery > default.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"synops/synapse"
)

// Environment is a profile's label. Production turns on the guards that refuse a
// reset without an override.
type Environment string

// The allowed environment labels.
const (
	Development Environment = "development"
	Staging     Environment = "staging"
	Production  Environment = "production"
)

// IsProduction reports whether e is the production label.
func (e Environment) IsProduction() bool { return e == Production }

// ParseEnvironment accepts one of development, staging, production (any case).
func ParseEnvironment(s string) (Environment, error) {
	e := Environment(strings.ToLower(strings.TrimSpace(s)))
	switch e {
	case Development, Staging, Production:
		return e, nil
	}
	return "", fmt.Errorf("environment %q is not known: want one of development, staging, production", s)
}

// ServiceKind says how synops starts and stops Synapse and PostgreSQL.
type ServiceKind string

// The service kinds.
const (
	ServicesNone    ServiceKind = "none"
	ServicesCompose ServiceKind = "compose"
	ServicesSystemd ServiceKind = "systemd"
	ServicesCustom  ServiceKind = "custom"
)

// Services describes the service manager around Synapse and PostgreSQL.
type Services struct {
	Kind ServiceKind

	// compose
	ComposeFile     string
	ComposeProject  string
	SynapseService  string // default "synapse"
	PostgresService string // default "postgres"

	// systemd
	SynapseUnit  string // yaml "unit", default "matrix-synapse"
	PostgresUnit string // yaml "postgres_unit", default "postgresql"

	// custom: argv lists, run without a shell
	Start  []string
	Stop   []string
	Status []string

	// The application API (OpenMeet), stopped with Synapse for a restore:
	// a compose service or a systemd unit ("" when not managed).
	AppService string
	AppUnit    string
	// PostgresContainer is the container `docker exec` runs pg_dump and
	// pg_restore in (backup.dump_via docker), e.g. seed 004's postgres-matrix.
	PostgresContainer string
}

// Backup holds where backups go and how long they are kept.
type Backup struct {
	Dir    string
	Keep   int           // keep at least this many newest backups (>= 1)
	MaxAge time.Duration // retention may remove backups older than this (beyond Keep); 0 = no age limit
	// FreshWithin is how new a verified backup must be for a destructive step
	// (reset, restore, user erase, bulk purge) to run without an explicit waiver.
	FreshWithin time.Duration
	// KeepDaily, KeepWeekly and KeepMonthly keep the newest backup of that
	// many recent days, ISO weeks and months beyond MaxAge (0: none).
	KeepDaily, KeepWeekly, KeepMonthly int

	Format  BackupFormat // how the Synapse database is dumped
	DumpVia DumpVia      // where pg_dump and pg_restore run
	Media   MediaScope   // which part of the media store is archived
	Files   []string     // further files to keep with each backup (livekit.yaml)
	// AdminDB is a DSN for a role that may create and drop databases (the
	// scratch database of a verification, the database a restore recreates);
	// unset, Synapse's own DSN is used.
	AdminDB DSN
	// Volumes are the named volumes `backup volumes` archives; empty means
	// every volume of the compose project.
	Volumes     []string
	VolumeImage string // the image of the throwaway container that archives a volume
}

// TokenSource says where the admin access token is read from. Exactly one of the
// fields is set.
type TokenSource struct {
	Env     string   // environment variable name
	File    string   // file path; must not be group/world readable
	Command []string // argv; stdout (trimmed) is the token
	// PassEnv names variables the command may see although synops keeps
	// them from children (MATRIX_ADMIN_TOKEN, PGPASSWORD, SYNOPS_*: see
	// ops/proc). yaml token.pass_env.
	PassEnv []string
}

// DefaultTokenEnv is the environment variable read when no token source is given.
const DefaultTokenEnv = "MATRIX_ADMIN_TOKEN"

// Flags carries the command-line flags cmd/synops parsed. A nil pointer means the
// flag was not given (set it only when pflag reports the flag Changed). The origin
// rows name the flags as in the comments, so cmd/synops should use those names.
type Flags struct {
	Config         *string // --config
	Profile        *string // --profile
	HomeserverURL  *string // --homeserver-url
	HomeserverYAML *string // --homeserver-yaml (shorthand -c)
	Environment    *string // --environment
	ReadOnly       *bool   // --read-only
	SynapseDBDSN   *string // --synapse-db-dsn (refused when it holds a password)
	AppDBDSN       *string // --app-db-dsn (refused when it holds a password)
	BackupDir      *string // --backup-dir
	TokenFile      *string // --token-file
}

// Environment variables read by Load.
const (
	EnvConfig         = "SYNOPS_CONFIG"
	EnvProfile        = "SYNOPS_PROFILE"
	EnvHomeserverURL  = "SYNOPS_HOMESERVER_URL"
	EnvHomeserverYAML = "SYNOPS_HOMESERVER_YAML"
	EnvEnvironment    = "SYNOPS_ENVIRONMENT"
	EnvReadOnly       = "SYNOPS_READ_ONLY"
	EnvAppDBDSN       = "SYNOPS_APP_DB_DSN"
	EnvSynapseDBDSN   = "SYNOPS_SYNAPSE_DB_DSN"
	EnvBackupDir      = "SYNOPS_BACKUP_DIR"
	EnvTokenFile      = "SYNOPS_TOKEN_FILE"
	EnvLiveKitURL     = "SYNOPS_LIVEKIT_URL"
)

// OriginDefault is the origin of a value no source set.
const OriginDefault = "default"

// Resolved is the configuration after every source has been applied.
type Resolved struct {
	ConfigPath     string // the config file read; "" when none was found
	Profile        string // "" when no config file or profile is in use
	HomeserverURL  string // no trailing slash
	PublicBaseURL  string // homeserver.yaml public_baseurl, informational
	ServerName     string
	Environment    Environment
	ReadOnly       bool
	HomeserverYAML string
	Token          TokenSource

	SynapseDB                DSN
	AppDB                    DSN
	RegistrationSharedSecret synapse.Secret

	MediaStore  string
	MetricsURLs []string
	Services    Services
	Backup      Backup
	LogFile     string // "" means: derive logs from Services (compose logs, journal)
	LiveKitURL  string // optional: LiveKit's HTTP endpoint for the health check
	// AppRefs overrides the SQL for the application's references to rooms;
	// empty fields keep synops' OpenMeet defaults.
	AppRefs AppRefsSQL
	Purge   Purge // rooms.purge: how the retention purge deletes
	// Tokens and Security are the token rotation and audit sections (tokens.go).
	Tokens   Tokens
	Security Security
	// Reset is `synops reset`'s section, Diagnose what the troubleshooting
	// checks read from the application (reset.go).
	Reset    Reset
	Diagnose Diagnose

	// Homeserver is what homeserver.yaml discovery found; nil when none was read.
	Homeserver *Homeserver
	// Notes are warnings worth showing in `config check`: an SQLite database, a
	// secret file that could not be read, a path that does not exist here.
	Notes []string

	origins map[string]string
	getenv  func(string) string
}

// Origin returns where the setting key (a Row key such as "homeserver_url") came
// from, or "" when the key is unknown.
func (r *Resolved) Origin(key string) string { return r.origins[key] }

// Purge is the profile's rooms.purge section.
type Purge struct {
	// MaxConcurrency caps the deletions in flight; within it the purge
	// follows how Synapse responds (ops/rooms pace.go).
	MaxConcurrency int
	// Poll is the longest wait between two status checks of a background
	// deletion (the first checks come much sooner).
	Poll time.Duration
	// SyncDeleteMax: rooms whose history is at most this many events long
	// are deleted with the synchronous v1 delete when Synapse's database is
	// configured; 0 turns that off.
	SyncDeleteMax int
}

// Purge defaults, also what ops/rooms assumes when given zero values.
const (
	DefaultPurgeMaxConcurrency = 8
	DefaultPurgePoll           = 500 * time.Millisecond
	DefaultPurgeSyncDeleteMax  = 250
	maxPurgeConcurrency        = 64
)

// AppRefsSQL is the profile's app_refs section.
type AppRefsSQL struct {
	Count    string
	Describe string
	Clear    []string
	// Reset clears every reference at once after a reset (no $1); empty
	// means seed 000's statements. ResetCount counts what it clears.
	Reset      []string
	ResetCount string
}

// ValidationError lists the problems found after every source was applied. Load
// returns it together with a non-nil *Resolved so `config check` can still show
// what was found.
type ValidationError struct {
	Problems []error
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	if len(msgs) == 1 {
		return "invalid configuration: " + msgs[0]
	}
	return "invalid configuration:\n  " + strings.Join(msgs, "\n  ")
}

// Unwrap lets errors.Is/As see each problem.
func (e *ValidationError) Unwrap() []error { return e.Problems }

// RefuseTokenFlag is the error cmd/synops returns when a token is passed as a
// flag (for example --token).
func RefuseTokenFlag(name string) error {
	name = "--" + strings.TrimLeft(name, "-")
	return fmt.Errorf("refusing %s: a token on the command line is visible to every user of this machine (ps, /proc). "+
		"Put it in %s, a token file (chmod 600) with token.file, or a command with token.command", name, DefaultTokenEnv)
}

// candidate is one source's value for a setting.
type candidate struct {
	value  string
	ok     bool
	origin string
}

func pick(cands ...candidate) candidate {
	for _, c := range cands {
		if c.ok {
			return c
		}
	}
	return candidate{origin: OriginDefault}
}

type loader struct {
	getenv     func(string) string
	flags      Flags
	file       *fileConfig
	configPath string
	profile    *fileProfile
	profOrigin string // "config <path> profile <p>"
	hs         *Homeserver
	hsOrigin   string
	r          *Resolved
	problems   []error
}

func (l *loader) flag(p *string, name string) candidate {
	if p == nil {
		return candidate{}
	}
	return candidate{value: *p, ok: true, origin: "flag " + name}
}

func (l *loader) env(name string) candidate {
	v := l.getenv(name)
	if v == "" {
		return candidate{}
	}
	return candidate{value: v, ok: true, origin: "env " + name}
}

func (l *loader) prof(p *string) candidate {
	if p == nil {
		return candidate{}
	}
	return candidate{value: *p, ok: true, origin: l.profOrigin}
}

func (l *loader) profPath(p *string) candidate {
	c := l.prof(p)
	if c.ok {
		c.value = l.filePath(c.value)
	}
	return c
}

func (l *loader) disc(v string) candidate {
	if l.hs == nil || v == "" {
		return candidate{}
	}
	return candidate{value: v, ok: true, origin: l.hsOrigin}
}

func def(v string) candidate { return candidate{value: v, ok: true, origin: OriginDefault} }

// filePath makes a path from the config file absolute: "~/" is the home directory,
// a relative path is relative to the config file's directory.
func (l *loader) filePath(p string) string {
	return expandPath(p, filepath.Dir(l.configPath), l.getenv("HOME"))
}

func expandPath(p, baseDir, home string) string {
	switch {
	case p == "":
		return ""
	case p == "~" && home != "":
		return home
	case strings.HasPrefix(p, "~/") && home != "":
		return filepath.Join(home, p[2:])
	case filepath.IsAbs(p) || baseDir == "":
		return p
	default:
		return filepath.Join(baseDir, p)
	}
}

func (l *loader) set(key string, c candidate) string {
	l.r.origins[key] = c.origin
	return c.value
}

func (l *loader) problem(format string, args ...any) {
	l.problems = append(l.problems, fmt.Errorf(format, args...))
}

// Load resolves the configuration. getenv reads the environment (cmd/synops passes
// os.Getenv; nil means an empty environment); HOME and XDG_CONFIG_HOME/XDG_DATA_HOME
// are read through it too, so tests never see the real user's files.
//
// Errors reading or parsing a file that was asked for (an explicit config file,
// homeserver.yaml) come back alone. Problems with the resolved values come back
// as a *ValidationError together with the Resolved.
func Load(ctx context.Context, flags Flags, getenv func(string) string) (*Resolved, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	l := &loader{
		getenv: getenv,
		flags:  flags,
		r:      &Resolved{origins: map[string]string{}, getenv: getenv},
	}
	if err := l.readConfigFile(); err != nil {
		return nil, err
	}
	if err := l.chooseProfile(); err != nil {
		return nil, err
	}
	if err := l.discover(ctx); err != nil {
		return nil, err
	}
	l.resolve()
	if len(l.problems) > 0 {
		return l.r, &ValidationError{Problems: l.problems}
	}
	return l.r, nil
}

func (l *loader) readConfigFile() error {
	c := pick(l.flag(l.flags.Config, "--config"), l.env(EnvConfig))
	explicit := c.ok
	path := c.value
	if !explicit {
		path = DefaultConfigPath(l.getenv)
	}
	l.r.origins["config"] = c.origin
	if path == "" {
		return nil
	}
	fc, err := readConfigFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !explicit:
		return nil
	case err != nil && explicit:
		return fmt.Errorf("%w (config file from %s)", err, c.origin)
	case err != nil:
		return err
	}
	l.file = fc
	l.configPath = path
	l.r.ConfigPath = path
	return nil
}

// DefaultConfigPath is $XDG_CONFIG_HOME/synops/config.yaml, or
// $HOME/.config/synops/config.yaml, or "" when neither variable is set.
func DefaultConfigPath(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "synops", "config.yaml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "synops", "config.yaml")
	}
	return ""
}

func defaultBackupDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "synops", "backups")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "synops", "backups")
	}
	return ""
}

func (l *loader) chooseProfile() error {
	c := pick(l.flag(l.flags.Profile, "--profile"), l.env(EnvProfile))
	if !c.ok && l.file != nil {
		switch {
		case l.file.DefaultProfile != "":
			c = candidate{value: l.file.DefaultProfile, ok: true, origin: "config " + l.configPath}
		case len(l.file.Profiles) == 1:
			for name := range l.file.Profiles {
				c = candidate{value: name, ok: true, origin: "config " + l.configPath}
			}
		case len(l.file.Profiles) > 1:
			return fmt.Errorf("choose a profile: %s has %d profiles and no default_profile: pass --profile, set %s or default_profile (known profiles: %s)",
				l.configPath, len(l.file.Profiles), EnvProfile, strings.Join(l.profileNames(), ", "))
		}
	}
	l.r.origins["profile"] = c.origin
	if !c.ok {
		return nil
	}
	if l.file == nil {
		where := DefaultConfigPath(l.getenv)
		if where == "" {
			where = "the default config path (HOME is not set)"
		}
		return fmt.Errorf("profile %q (%s): no config file found at %s: create it or pass --config", c.value, c.origin, where)
	}
	p, ok := l.file.Profiles[c.value]
	if !ok {
		known := "none"
		if names := l.profileNames(); len(names) > 0 {
			known = strings.Join(names, ", ")
		}
		return fmt.Errorf("unknown profile %q (%s): %s defines these profiles: %s", c.value, c.origin, l.configPath, known)
	}
	if p == nil {
		p = &fileProfile{} // "dev:" with nothing under it
	}
	l.profile = p
	l.r.Profile = c.value
	l.profOrigin = fmt.Sprintf("config %s profile %s", l.configPath, c.value)
	return nil
}

func (l *loader) profileNames() []string {
	names := make([]string, 0, len(l.file.Profiles))
	for n := range l.file.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (l *loader) discover(ctx context.Context) error {
	p := l.profileOrEmpty()
	c := pick(
		l.flag(l.flags.HomeserverYAML, "--homeserver-yaml"),
		l.env(EnvHomeserverYAML),
		l.profPath(p.HomeserverYAML),
	)
	l.r.HomeserverYAML = l.set("homeserver_yaml", c)
	if !c.ok || c.value == "" {
		return nil
	}
	hs, err := DiscoverHomeserver(ctx, c.value)
	if err != nil {
		return fmt.Errorf("homeserver.yaml from %s: %w", c.origin, err)
	}
	l.hs = hs
	l.hsOrigin = "homeserver.yaml " + hs.Path
	l.r.Homeserver = hs
	l.r.Notes = append(l.r.Notes, hs.Notes...)
	return nil
}

func (l *loader) profileOrEmpty() *fileProfile {
	if l.profile == nil {
		return &fileProfile{}
	}
	return l.profile
}

func (l *loader) resolve() {
	p := l.profileOrEmpty()
	r := l.r
	hs := l.hs
	if hs == nil {
		hs = &Homeserver{}
	}

	// Environment first: later checks word their advice by it.
	c := pick(l.flag(l.flags.Environment, "--environment"), l.env(EnvEnvironment), l.prof(p.Environment), def(string(Development)))
	env, err := ParseEnvironment(c.value)
	if err != nil {
		l.problem("%w (from %s)", err, c.origin)
		env = Development
	}
	l.set("environment", c)
	r.Environment = env

	c = pick(l.flag(boolString(l.flags.ReadOnly), "--read-only"), l.env(EnvReadOnly), l.prof(boolString(p.ReadOnly)), def("false"))
	ro, err := parseBool(c.value)
	if err != nil {
		l.problem("read_only %q (from %s): want true or false", c.value, c.origin)
	}
	l.set("read_only", c)
	r.ReadOnly = ro

	c = pick(l.flag(l.flags.HomeserverURL, "--homeserver-url"), l.env(EnvHomeserverURL), l.prof(p.HomeserverURL), l.disc(hs.ClientURL()))
	r.HomeserverURL = strings.TrimRight(l.set("homeserver_url", c), "/")
	if c.ok && c.origin == l.hsOrigin && hs.ListenerURL == "" && hs.PublicBaseURL != "" {
		r.Notes = append(r.Notes, fmt.Sprintf("homeserver_url comes from public_baseurl in %s (no local client listener found); it may point at a reverse proxy", hs.Path))
	}
	l.checkHomeserverURL(c)
	r.PublicBaseURL = l.set("public_baseurl", l.disc(hs.PublicBaseURL))

	r.ServerName = l.set("server_name", pick(l.prof(p.ServerName), l.disc(hs.ServerName)))

	l.resolveToken(p)

	r.SynapseDB = l.resolveDSN("synapse_db_dsn", l.flag(l.flags.SynapseDBDSN, "--synapse-db-dsn"), l.env(EnvSynapseDBDSN), l.prof(p.SynapseDBDSN), l.disc(hs.SynapseDB.Raw.Reveal()))
	r.AppDB = l.resolveDSN("app_db_dsn", l.flag(l.flags.AppDBDSN, "--app-db-dsn"), l.env(EnvAppDBDSN), l.prof(p.AppDBDSN))
	l.warnReadableSecrets(p)

	if !hs.RegistrationSharedSecret.IsZero() {
		r.RegistrationSharedSecret = hs.RegistrationSharedSecret
		r.origins["registration_shared_secret"] = l.hsOrigin
	} else {
		r.origins["registration_shared_secret"] = OriginDefault
	}

	r.MediaStore = l.set("media_store", pick(l.profPath(p.MediaStore), l.disc(hs.MediaStore)))

	switch {
	case p.MetricsURLs != nil:
		r.MetricsURLs = append([]string(nil), p.MetricsURLs...)
		r.origins["metrics_urls"] = l.profOrigin
	case len(hs.MetricsURLs) > 0:
		r.MetricsURLs = append([]string(nil), hs.MetricsURLs...)
		r.origins["metrics_urls"] = l.hsOrigin
	default:
		r.origins["metrics_urls"] = OriginDefault
	}
	for _, m := range r.MetricsURLs {
		if err := checkHTTPURL(m); err != nil {
			l.problem("metrics_urls entry %q (from %s): %w", synapse.RedactURL(m), r.origins["metrics_urls"], err)
		}
	}

	l.resolveServices(p)
	l.resolveBackup(p)
	l.resolvePurge(p)

	var logFile *string
	if p.Log != nil {
		logFile = p.Log.File
	}
	r.LogFile = l.set("log.file", pick(l.profPath(logFile), l.disc(hs.LogFile)))

	if l.hs != nil {
		r.origins["retention"] = l.hsOrigin
	}
	r.LiveKitURL = l.set("livekit_url", pick(l.env(EnvLiveKitURL), l.prof(p.LiveKitURL)))
	if r.LiveKitURL != "" {
		if err := checkHTTPURL(r.LiveKitURL); err != nil {
			l.problem("livekit_url %q: %w", synapse.RedactURL(r.LiveKitURL), err)
		}
	}
	l.resolveTokens(p)
	l.resolveSecurity(p)
	if p.AppRefs != nil {
		r.AppRefs = AppRefsSQL{Count: deref(p.AppRefs.Count), Describe: deref(p.AppRefs.Describe), Clear: p.AppRefs.Clear}
		r.origins["app_refs"] = l.profOrigin
		for _, q := range append([]string{r.AppRefs.Count, r.AppRefs.Describe}, r.AppRefs.Clear...) {
			if q != "" && !strings.Contains(q, "$1") {
				l.problem("app_refs statement %q (from %s) does not use $1, the room ID", q, l.profOrigin)
			}
		}
	}
	l.resolveReset(p)
}

func (l *loader) checkHomeserverURL(c candidate) {
	if !c.ok || c.value == "" {
		var msg strings.Builder
		msg.WriteString("no homeserver URL: pass --homeserver-url, set ")
		if l.r.Profile != "" {
			fmt.Fprintf(&msg, "homeserver_url in profile %s", l.r.Profile)
		} else {
			msg.WriteString("homeserver_url in a profile of the config file")
		}
		msg.WriteString(", or point -c at homeserver.yaml")
		if l.hs != nil {
			fmt.Fprintf(&msg, " (%s has no http listener with the client resource and no public_baseurl)", l.hs.Path)
		}
		l.problems = append(l.problems, errors.New(msg.String()))
		return
	}
	if err := checkHTTPURL(c.value); err != nil {
		l.problem("homeserver_url %q (from %s): %w", synapse.RedactURL(c.value), c.origin, err)
	}
}

// checkHTTPURL accepts an absolute http or https URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL: want http://host:port or https://host")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("the URL has no host: want http://host:port or https://host")
	}
	return nil
}

func (l *loader) resolveToken(p *fileProfile) {
	r := l.r
	c := pick(l.flag(l.flags.TokenFile, "--token-file"), l.env(EnvTokenFile))
	if c.ok {
		r.Token = TokenSource{File: c.value}
		r.origins["token"] = c.origin
		return
	}
	if t := p.Token; t != nil {
		n := 0
		if t.Env != nil {
			n++
			r.Token = TokenSource{Env: *t.Env}
		}
		if t.File != nil {
			n++
			r.Token = TokenSource{File: l.filePath(*t.File)}
		}
		if t.Command != nil {
			n++
			r.Token = TokenSource{Command: append([]string(nil), t.Command...), PassEnv: append([]string(nil), t.PassEnv...)}
		}
		if len(t.PassEnv) > 0 && t.Command == nil {
			l.problem("token.pass_env in %s applies to token.command only: remove it or give a command", l.profOrigin)
		}
		switch {
		case n > 1:
			l.problem("token in %s: give one of env, file or command, not %d", l.profOrigin, n)
		case t.Env != nil && strings.TrimSpace(*t.Env) == "":
			l.problem("token.env in %s is empty: name an environment variable such as %s", l.profOrigin, DefaultTokenEnv)
		case t.File != nil && strings.TrimSpace(*t.File) == "":
			l.problem("token.file in %s is empty: give the path of a file (chmod 600) holding the token", l.profOrigin)
		case t.Command != nil && len(t.Command) == 0:
			l.problem("token.command in %s is empty: give an argv list such as [\"pass\", \"show\", \"matrix/admin\"]", l.profOrigin)
		}
		if n > 0 {
			r.origins["token"] = l.profOrigin
			return
		}
	}
	r.Token = TokenSource{Env: DefaultTokenEnv}
	r.origins["token"] = OriginDefault
}

func (l *loader) resolveDSN(key string, cands ...candidate) DSN {
	c := pick(cands...)
	l.set(key, c)
	if !c.ok || c.value == "" {
		return DSN{}
	}
	d := NewDSN(c.value)
	parts, err := parseDSN(d.Raw.Reveal())
	if err != nil {
		l.problem("%s (from %s): %w", key, c.origin, err)
		return d
	}
	if parts.password != "" && strings.HasPrefix(c.origin, "flag ") {
		flagName := strings.TrimPrefix(c.origin, "flag ")
		envName := EnvSynapseDBDSN
		if key == "app_db_dsn" {
			envName = EnvAppDBDSN
		}
		l.problem("refusing %s: it holds a password, and a password on the command line is visible to every user of this machine (ps, /proc). "+
			"Put the DSN in %s or %s in the profile, or the password in ~/.pgpass", flagName, envName, key)
		return DSN{}
	}
	return d
}

// warnReadableSecrets notes a config file that holds a database password and can
// be read by other users.
func (l *loader) warnReadableSecrets(p *fileProfile) {
	if l.configPath == "" {
		return
	}
	holds := false
	dsns := []*string{p.SynapseDBDSN, p.AppDBDSN}
	if p.Backup != nil {
		dsns = append(dsns, p.Backup.AdminDSN)
	}
	for _, s := range dsns {
		if s == nil {
			continue
		}
		if parts, err := parseDSN(*s); err == nil && parts.password != "" {
			holds = true
		}
	}
	if !holds {
		return
	}
	fi, err := os.Stat(l.configPath)
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		l.r.Notes = append(l.r.Notes, fmt.Sprintf("%s holds a database password and is readable by other users: chmod 600 %s", l.configPath, l.configPath))
	}
}

func (l *loader) resolveServices(p *fileProfile) {
	r := l.r
	s := p.Services
	if s == nil {
		r.Services = Services{Kind: ServicesNone}
		r.origins["services"] = OriginDefault
		return
	}
	r.origins["services"] = l.profOrigin
	kind := ServicesNone
	if s.Kind != nil {
		kind = ServiceKind(strings.ToLower(strings.TrimSpace(*s.Kind)))
	}
	out := Services{
		Kind:            kind,
		ComposeFile:     l.filePath(deref(s.ComposeFile)),
		ComposeProject:  deref(s.ComposeProject),
		SynapseService:  deref(s.SynapseService),
		PostgresService: deref(s.PostgresService),
		SynapseUnit:     deref(s.Unit),
		PostgresUnit:    deref(s.PostgresUnit),
		Start:           s.Start,
		Stop:            s.Stop,
		Status:          s.Status,

		AppService:        deref(s.AppService),
		AppUnit:           deref(s.AppUnit),
		PostgresContainer: deref(s.PostgresContainer),
	}
	switch kind {
	case ServicesNone:
	case ServicesCompose:
		if out.ComposeFile == "" && out.ComposeProject == "" {
			l.problem("services in %s: kind compose needs compose_file or compose_project", l.profOrigin)
		}
		out.SynapseService = orDefault(out.SynapseService, "synapse")
		out.PostgresService = orDefault(out.PostgresService, "postgres")
	case ServicesSystemd:
		out.SynapseUnit = orDefault(out.SynapseUnit, "matrix-synapse")
		out.PostgresUnit = orDefault(out.PostgresUnit, "postgresql")
	case ServicesCustom:
		var missing []string
		for _, c := range []struct {
			name string
			argv []string
		}{{"start", out.Start}, {"stop", out.Stop}, {"status", out.Status}} {
			if len(c.argv) == 0 {
				missing = append(missing, c.name)
			}
		}
		if len(missing) > 0 {
			l.problem("services in %s: kind custom needs argv lists for %s (e.g. start: [\"systemctl\", \"start\", \"synapse\"])",
				l.profOrigin, strings.Join(missing, ", "))
		}
	default:
		l.problem("services.kind %q in %s is not known: want one of compose, systemd, custom, none", kind, l.profOrigin)
	}
	r.Services = out
}

func (l *loader) resolveBackup(p *fileProfile) {
	r := l.r
	b := p.Backup
	if b == nil {
		b = &fileBackup{}
	}
	r.Backup.Dir = l.set("backup.dir", pick(
		l.flag(l.flags.BackupDir, "--backup-dir"),
		l.env(EnvBackupDir),
		l.profPath(b.Dir),
		def(defaultBackupDir(l.getenv)),
	))
	if r.Backup.Dir == "" {
		// Not fatal: only backup commands need it, and they say so.
		r.Notes = append(r.Notes, fmt.Sprintf("no backup directory (HOME is not set): pass --backup-dir, set %s or backup.dir in the profile", EnvBackupDir))
	}

	r.Backup.Keep = 7
	r.origins["backup.keep"] = OriginDefault
	if b.Keep != nil {
		r.Backup.Keep = *b.Keep
		r.origins["backup.keep"] = l.profOrigin
		if *b.Keep < 1 {
			l.problem("backup.keep %d in %s: want at least 1 (the newest verified backup is never removed)", *b.Keep, l.profOrigin)
		}
	}

	r.Backup.MaxAge = 30 * 24 * time.Hour
	r.origins["backup.max_age"] = OriginDefault
	if b.MaxAge != nil {
		r.Backup.MaxAge = b.MaxAge.d
		r.origins["backup.max_age"] = l.profOrigin
	}

	r.Backup.FreshWithin = 24 * time.Hour
	r.origins["backup.fresh_within"] = OriginDefault
	if b.FreshWithin != nil {
		r.Backup.FreshWithin = b.FreshWithin.d
		r.origins["backup.fresh_within"] = l.profOrigin
	}
	l.resolveBackupMore(b)
}

func (l *loader) resolvePurge(p *fileProfile) {
	r := l.r
	r.Purge = Purge{MaxConcurrency: DefaultPurgeMaxConcurrency, Poll: DefaultPurgePoll, SyncDeleteMax: DefaultPurgeSyncDeleteMax}
	for _, k := range []string{"rooms.purge.max_concurrency", "rooms.purge.poll", "rooms.purge.sync_delete_max"} {
		r.origins[k] = OriginDefault
	}
	if p.Rooms == nil || p.Rooms.Purge == nil {
		return
	}
	fp := p.Rooms.Purge
	if fp.MaxConcurrency != nil {
		r.Purge.MaxConcurrency = *fp.MaxConcurrency
		r.origins["rooms.purge.max_concurrency"] = l.profOrigin
		if *fp.MaxConcurrency < 1 || *fp.MaxConcurrency > maxPurgeConcurrency {
			l.problem("rooms.purge.max_concurrency %d in %s: want 1 to %d (Synapse runs 5 deletion tasks at a time by default)", *fp.MaxConcurrency, l.profOrigin, maxPurgeConcurrency)
		}
	}
	if fp.Poll != nil {
		r.Purge.Poll = fp.Poll.d
		r.origins["rooms.purge.poll"] = l.profOrigin
		if fp.Poll.d < 20*time.Millisecond {
			l.problem("rooms.purge.poll %s in %s: want at least 20ms (the longest wait between two checks of a deletion)", FormatDuration(fp.Poll.d), l.profOrigin)
		}
	}
	if fp.SyncDeleteMax != nil {
		r.Purge.SyncDeleteMax = *fp.SyncDeleteMax
		r.origins["rooms.purge.sync_delete_max"] = l.profOrigin
		if *fp.SyncDeleteMax < 0 {
			l.problem("rooms.purge.sync_delete_max %d in %s: want 0 (never delete synchronously) or a number of events", *fp.SyncDeleteMax, l.profOrigin)
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func boolString(p *bool) *string {
	if p == nil {
		return nil
	}
	s := strconv.FormatBool(*p)
	return &s
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}
