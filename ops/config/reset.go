package config

import (
	"fmt"
	"strings"
	"time"
)

// The profile's reset section (seed 000's "Resetting the Matrix Database"),
// the whole-table variant of app_refs that the reset's post-steps run, and
// the application's user status query the troubleshooting checks read. They
// live in their own file so the other sections of the profile can grow
// beside them.

// ResetPath is how a reset empties Synapse's database and media.
type ResetPath string

const (
	// ResetCompose is seed 000's docker compose procedure: stop synapse and
	// postgres, remove their containers and named volumes, up again.
	ResetCompose ResetPath = "compose"
	// ResetStandalone is seed 000's standalone procedure: stop Synapse
	// (systemd or the custom commands), drop and create the database,
	// empty the media store, start Synapse.
	ResetStandalone ResetPath = "standalone"
	// ResetCustom runs the profile's own reset.commands, then the same
	// checks and post-reset steps.
	ResetCustom ResetPath = "custom"
)

// Reset says how `synops reset` runs for this profile.
type Reset struct {
	// Path defaults to compose for services.kind compose and to standalone
	// for systemd and custom services.
	Path ResetPath
	// Volumes are the named volumes the compose path removes; empty means
	// the volumes the Synapse and PostgreSQL containers mount.
	Volumes []string
	// Commands are the custom path's argv lists, run in order without a shell.
	Commands [][]string
	// DatabaseOwner owns the recreated database (standalone); default the
	// user of Synapse's database connection.
	DatabaseOwner string
	// NewAdmin is the localpart of the admin registered after the reset;
	// default the localpart of the admin synops uses before it.
	NewAdmin string
	// RestartApp makes the application reconnect to Matrix with the new
	// token; default tokens.redeploy, else services.app_service/app_unit.
	RestartApp []string
	// NotifyRoom is a room (ID or alias) the reset notice is posted to;
	// without it the notice is a server notice to every local user.
	NotifyRoom string
	// StartTimeout bounds the wait for Synapse after it starts on an empty
	// database (its first boot creates the whole schema).
	StartTimeout time.Duration
	// ToldWithin is how long a notice to the team, or the operator's
	// confirmation that the team was told, counts for.
	ToldWithin time.Duration
}

// Defaults of the reset section.
const (
	DefaultResetStartTimeout = 5 * time.Minute
	DefaultResetToldWithin   = 24 * time.Hour
)

// DefaultResetSQL is seed 000's post-reset step 3: every event's Matrix room
// cleared and the chat rooms truncated, in one transaction.
func DefaultResetSQL() []string {
	return []string{`UPDATE "events" SET "matrixRoomId" = NULL`, `TRUNCATE "chatRooms" CASCADE`}
}

// DefaultResetCountSQL counts what DefaultResetSQL clears: rows of (what
// text, how many bigint), every count zero afterwards.
const DefaultResetCountSQL = `SELECT 'events with a Matrix room', count(*) FROM "events" WHERE "matrixRoomId" IS NOT NULL
	UNION ALL SELECT 'chatRooms', count(*) FROM "chatRooms"`

// DefaultUserStatusSQL is seed 004's check for "User must be active to join
// calls": the application user's status by its ID ($1).
const DefaultUserStatusSQL = `SELECT status::text FROM "User" WHERE id::text = $1`

// DefaultActiveStatus is the status seed 004 wants.
const DefaultActiveStatus = "ACTIVE"

// Diagnose holds what the troubleshooting checks read from the application.
type Diagnose struct {
	// UserStatus returns one text column, the application user's status,
	// for the user ID in $1; Active is the status that may join calls.
	UserStatus string
	Active     string
}

type fileReset struct {
	Path          *string       `yaml:"path"`
	Volumes       []string      `yaml:"volumes"`
	Commands      [][]string    `yaml:"commands"`
	DatabaseOwner *string       `yaml:"database_owner"`
	NewAdmin      *string       `yaml:"new_admin"`
	RestartApp    []string      `yaml:"restart_app"`
	NotifyRoom    *string       `yaml:"notify_room"`
	StartTimeout  *yamlDuration `yaml:"start_timeout"`
	ToldWithin    *yamlDuration `yaml:"told_within"`
}

type fileDiagnose struct {
	UserStatus *string `yaml:"user_status"`
	Active     *string `yaml:"active"`
}

// resolveReset runs after services, tokens and app_refs: its defaults come
// from them.
func (l *loader) resolveReset(p *fileProfile) {
	r := l.r
	rs := Reset{StartTimeout: DefaultResetStartTimeout, ToldWithin: DefaultResetToldWithin}
	switch r.Services.Kind {
	case ServicesCompose:
		rs.Path = ResetCompose
	case ServicesSystemd, ServicesCustom:
		rs.Path = ResetStandalone
	}
	r.origins["reset"] = OriginDefault
	if f := p.Reset; f != nil {
		r.origins["reset"] = l.profOrigin
		if f.Path != nil {
			rs.Path = ResetPath(strings.ToLower(strings.TrimSpace(*f.Path)))
		}
		rs.Volumes = append([]string(nil), f.Volumes...)
		for i, c := range f.Commands {
			if err := checkArgv(c); err != nil {
				l.problem("reset.commands entry %d in %s: %w", i+1, l.profOrigin, err)
			}
			rs.Commands = append(rs.Commands, append([]string(nil), c...))
		}
		rs.DatabaseOwner = strings.TrimSpace(deref(f.DatabaseOwner))
		if f.NewAdmin != nil {
			rs.NewAdmin = strings.TrimPrefix(strings.TrimSpace(*f.NewAdmin), "@")
			if !localpartPrefix.MatchString(rs.NewAdmin) {
				l.problem("reset.new_admin %q in %s: want a localpart of lower-case letters, digits and ._=-/ (not starting with _), such as admin", *f.NewAdmin, l.profOrigin)
			}
		}
		if f.RestartApp != nil {
			if err := checkArgv(f.RestartApp); err != nil {
				l.problem("reset.restart_app in %s: %w", l.profOrigin, err)
			}
			rs.RestartApp = append([]string(nil), f.RestartApp...)
		}
		rs.NotifyRoom = strings.TrimSpace(deref(f.NotifyRoom))
		if rs.NotifyRoom != "" && rs.NotifyRoom[0] != '!' && rs.NotifyRoom[0] != '#' {
			l.problem("reset.notify_room %q in %s: want a room ID (!…) or alias (#…)", rs.NotifyRoom, l.profOrigin)
		}
		if f.StartTimeout != nil {
			rs.StartTimeout = f.StartTimeout.d
			if rs.StartTimeout <= 0 {
				l.problem("reset.start_timeout in %s must be more than 0, e.g. 5m", l.profOrigin)
			}
		}
		if f.ToldWithin != nil {
			rs.ToldWithin = f.ToldWithin.d
			if rs.ToldWithin <= 0 {
				l.problem("reset.told_within in %s must be more than 0, e.g. 24h", l.profOrigin)
			}
		}
	}
	if rs.RestartApp == nil && len(r.Tokens.Redeploy) > 0 {
		rs.RestartApp = append([]string(nil), r.Tokens.Redeploy...)
	}
	switch rs.Path {
	case "":
		// No services section: `synops reset plan` says what to configure.
	case ResetCompose:
		if r.Services.Kind != ServicesCompose {
			l.problem("reset.path compose in %s needs services.kind compose (compose_file or compose_project, synapse_service, postgres_service)", l.profOrigin)
		}
	case ResetStandalone:
		if r.Services.Kind != ServicesSystemd && r.Services.Kind != ServicesCustom {
			l.problem("reset.path standalone in %s needs services.kind systemd or custom, to stop and start Synapse", l.profOrigin)
		}
	case ResetCustom:
		if len(rs.Commands) == 0 {
			l.problem("reset.path custom in %s needs reset.commands, the argv lists that reset the database and media", l.profOrigin)
		}
	default:
		l.problem("reset.path %q in %s is not known: want compose, standalone or custom", rs.Path, l.profOrigin)
	}
	r.Reset = rs

	if a := p.AppRefs; a != nil {
		if a.Reset != nil {
			r.AppRefs.Reset = append([]string(nil), a.Reset...)
			for _, q := range a.Reset {
				if strings.Contains(q, "$1") {
					l.problem("app_refs.reset statement %q in %s uses $1: the reset clears every reference, there is no room to name", q, l.profOrigin)
				}
			}
		}
		r.AppRefs.ResetCount = deref(a.ResetCount)
	}

	d := Diagnose{UserStatus: DefaultUserStatusSQL, Active: DefaultActiveStatus}
	r.origins["diagnose"] = OriginDefault
	if f := p.Diagnose; f != nil {
		r.origins["diagnose"] = l.profOrigin
		if f.UserStatus != nil {
			d.UserStatus = *f.UserStatus
			if !strings.Contains(d.UserStatus, "$1") {
				l.problem("diagnose.user_status %q in %s does not use $1, the application user's ID", d.UserStatus, l.profOrigin)
			}
		}
		if f.Active != nil {
			d.Active = *f.Active
		}
	}
	r.Diagnose = d
}

// resetRows are the config check lines of the reset section.
func (r *Resolved) resetRows(add func(key, originKey, display string)) {
	rs := r.Reset
	add("reset.path", "reset", orNotSet(string(rs.Path)))
	switch rs.Path {
	case ResetCompose:
		vols := "(the volumes the synapse and postgres containers mount)"
		if len(rs.Volumes) > 0 {
			vols = strings.Join(rs.Volumes, ", ")
		}
		add("reset.volumes", "reset", vols)
	case ResetCustom:
		add("reset.commands", "reset", fmt.Sprintf("%d commands", len(rs.Commands)))
	}
	add("reset.new_admin", "reset", orNotSet(rs.NewAdmin))
	add("reset.restart_app", "reset", orNotSet(strings.Join(rs.RestartApp, " ")))
	notify := "server notice to every local user"
	if rs.NotifyRoom != "" {
		notify = "room " + rs.NotifyRoom
	}
	add("reset.notify", "reset", notify)
	add("reset.start_timeout", "reset", FormatDuration(rs.StartTimeout))
	if len(r.AppRefs.Reset) > 0 {
		add("app_refs.reset", "app_refs", fmt.Sprintf("custom (%d statements)", len(r.AppRefs.Reset)))
	}
}
