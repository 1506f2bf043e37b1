package reset

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/rooms"
	"synops/ops/services"
	"synops/ops/text"
	"synops/ops/tokens"
	"synops/synapse"
)

// Status is a checklist item's verdict.
type Status int

const (
	Pending Status = iota // waits on the operator (the team has not been told)
	OK
	Warn    // holds, with something the operator should read
	Fail    // does not hold
	Skipped // not applicable now (Synapse was stopped by this reset)
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warning"
	case Fail:
		return "failed"
	case Skipped:
		return "skipped"
	}
	return "pending"
}

// MarshalText writes the status as a word.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Mark is the status as one character for a list: ✓ ✗ … ! –.
func (s Status) Mark() string {
	switch s {
	case OK:
		return "✓"
	case Warn:
		return "!"
	case Fail:
		return "✗"
	case Skipped:
		return "–"
	}
	return "…"
}

// The checklist items, seed 000's pre-reset checklist verified, and what
// the steps after it need.
const (
	ItemAdmin       = "admin"       // 1. admin access works
	ItemEnvironment = "environment" // 2. this is not production
	ItemTeam        = "team"        // 3. the team has been told
	ItemBackup      = "backup"      // 4. a verified backup exists
	ItemSecret      = "secret"      // the new admin can be registered
	ItemDeployment  = "deployment"  // synops can stop, empty and start what the path names
	ItemApp         = "app"         // the post-reset steps can bring the application back
)

// Item is one line of the checklist with what was seen.
type Item struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   Status `json:"status"`
	Evidence string `json:"evidence"`
	Hint     string `json:"hint,omitempty"` // what to do about it
	// Waivable: a failure is the backup gate's to decide (the operator may
	// accept running without a backup); it does not block by itself.
	Waivable bool `json:"waivable,omitempty"`
	// Offer names what synops can do about it from here: OfferBackup,
	// OfferNotify, OfferTold.
	Offer []string `json:"offer,omitempty"`
}

// Offers a checklist item can make.
const (
	OfferBackup = "backup" // take and verify a backup now
	OfferNotify = "notify" // send the notice (server notice or the configured room)
	OfferTold   = "told"   // the operator confirms the team was told
)

// Checklist is the checklist as run at At.
type Checklist struct {
	At    time.Time `json:"at"`
	Items []Item    `json:"items"`
}

// Item returns the item with id, or a zero Item.
func (c Checklist) Item(id string) Item {
	for _, it := range c.Items {
		if it.ID == id {
			return it
		}
	}
	return Item{}
}

// CheckOptions are the operator's answers that change verdicts.
type CheckOptions struct {
	// ProductionOverride: the operator asked to reset a production server.
	ProductionOverride bool
}

// checkTimeout bounds each check.
const checkTimeout = 15 * time.Second

// facts are what the checks found that planning needs too.
type facts struct {
	oldAdmin string
	users    int64
	rooms    int64
	volumes  []volume // compose: what the containers mount
	media    *Media   // standalone: the media store as it is
	db       *database
}

// Checklist runs every check of the pre-reset checklist and of what the
// reset needs, each with its own time limit. It changes nothing.
func (s *Service) Checklist(ctx context.Context, o CheckOptions) Checklist {
	st, _ := s.record()
	cl, _ := s.checklist(ctx, o, st)
	return cl
}

func (s *Service) checklist(ctx context.Context, o CheckOptions, st *State) (Checklist, *facts) {
	f := &facts{}
	stopped := st != nil && st.Unfinished() && st.Started()
	checks := []func(context.Context) Item{
		func(ctx context.Context) Item { return s.checkAdmin(ctx, stopped, st, f) },
		func(ctx context.Context) Item { return s.checkEnvironment(ctx, o, stopped, st, f) },
		func(ctx context.Context) Item { return s.checkTeam(st) },
		func(ctx context.Context) Item { return s.checkBackup(ctx) },
		func(ctx context.Context) Item { return s.checkSecret() },
		func(ctx context.Context) Item { return s.checkDeployment(ctx, st, f) },
		func(ctx context.Context) Item { return s.checkApp(ctx) },
	}
	items := make([]Item, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			it := c(cctx)
			it.Evidence, it.Hint = text.Clean(it.Evidence), text.Clean(it.Hint)
			items[i] = it
		}()
	}
	wg.Wait()
	return Checklist{At: s.now(), Items: items}, f
}

func (s *Service) checkAdmin(ctx context.Context, stopped bool, st *State, f *facts) Item {
	it := Item{ID: ItemAdmin, Title: "Admin access to the Matrix server works"}
	if stopped {
		it.Status = Skipped
		it.Evidence = fmt.Sprintf("Synapse was stopped by this reset; it was %s's before", orUnknown(st.OldAdmin))
		f.oldAdmin = st.OldAdmin
		return it
	}
	if s.Synapse == nil {
		it.Status, it.Evidence = Fail, "no homeserver URL"
		return it
	}
	w, err := s.Synapse.Whoami(ctx)
	if err != nil {
		it.Status, it.Evidence = Fail, "the admin token synops holds does not work: "+err.Error()
		it.Hint = "give synops a valid admin token (MATRIX_ADMIN_TOKEN, token.file or token.command); `synops config check` tells what is wrong"
		return it
	}
	f.oldAdmin = w.UserID
	u, err := s.Synapse.User(ctx, w.UserID)
	switch {
	case errors.Is(err, synapse.ErrForbidden) || err == nil && !u.Admin:
		it.Status, it.Evidence = Fail, fmt.Sprintf("the token (%s) belongs to %s, who is not a server admin", s.Synapse.Token().Hint(), w.UserID)
		it.Hint = "use an admin's token"
	case err != nil:
		it.Status, it.Evidence = Fail, "the admin API does not answer: "+err.Error()
	default:
		it.Status, it.Evidence = OK, fmt.Sprintf("%s (token %s) is a server admin", w.UserID, s.Synapse.Token().Hint())
	}
	return it
}

// publicName says why a server name looks like a real, public domain; ""
// when it looks like a development name.
func publicName(name string) string {
	host := name
	if h, _, err := net.SplitHostPort(name); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() {
			return ""
		}
		return "the server name is a public IP address"
	}
	if !strings.Contains(host, ".") || host == "localhost" {
		return ""
	}
	for _, dev := range []string{".localhost", ".local", ".test", ".example", ".invalid", ".internal", ".lan", ".home.arpa", ".localdomain"} {
		if strings.HasSuffix(host, dev) {
			return ""
		}
	}
	for _, ex := range []string{"example.com", "example.org", "example.net"} {
		if host == ex || strings.HasSuffix(host, "."+ex) {
			return ""
		}
	}
	return fmt.Sprintf("%s looks like a public domain (development servers are usually .test, .local or localhost)", host)
}

func (s *Service) checkEnvironment(ctx context.Context, o CheckOptions, stopped bool, st *State, f *facts) Item {
	it := Item{ID: ItemEnvironment, Title: "This is not a production environment"}
	env := s.Environment
	if env == "" {
		env = config.Development
	}
	var warn []string
	if env.IsProduction() {
		if !o.ProductionOverride {
			it.Status = Fail
			it.Evidence = "the profile is labelled production"
			it.Hint = "a production server is not reset: if you really mean to, pass --production-override and type the server name"
			return it
		}
		warn = append(warn, "the profile is labelled production and the override was given")
	}
	evidence := []string{"environment " + string(env)}
	if why := publicName(s.Server); why != "" {
		warn = append(warn, why)
	}
	if stopped {
		if st.Extra != nil {
			evidence = append(evidence, fmt.Sprintf("before the reset: %d local users, %d rooms", st.Extra["users"], st.Extra["rooms"]))
		}
	} else if s.Synapse != nil {
		if p, err := s.Synapse.ListUsersPage(ctx, synapse.ListUsersOptions{PageSize: 1}, ""); err == nil {
			f.users = int64(p.Total)
			evidence = append(evidence, fmt.Sprintf("%d local users", p.Total))
			if p.Total >= s.warnUsers() {
				warn = append(warn, fmt.Sprintf("%d local users is a lot for a development server", p.Total))
			}
		} else {
			evidence = append(evidence, "users not counted: "+err.Error())
		}
		if p, err := s.Synapse.ListRoomsPage(ctx, synapse.ListRoomsOptions{PageSize: 1}, 0); err == nil {
			f.rooms = int64(p.Total)
			evidence = append(evidence, fmt.Sprintf("%d rooms", p.Total))
			if p.Total >= s.warnRooms() {
				warn = append(warn, fmt.Sprintf("%d rooms is a lot for a development server", p.Total))
			}
		} else {
			evidence = append(evidence, "rooms not counted: "+err.Error())
		}
		if d, err := s.Synapse.FederationDestinations(ctx, 5); err == nil {
			if d.Total > 0 {
				warn = append(warn, fmt.Sprintf("federation in use: %d remote servers (%s); their copies of the rooms stay", d.Total, strings.Join(d.Names, ", ")))
			} else {
				evidence = append(evidence, "no federation")
			}
		}
	}
	it.Evidence = strings.Join(evidence, "; ")
	it.Status = OK
	if len(warn) > 0 {
		it.Status = Warn
		it.Evidence += "; " + strings.Join(warn, "; ")
		it.Hint = "read the warnings: the typed server name is the last word"
	}
	return it
}

func (s *Service) warnUsers() int {
	if s.WarnUsers > 0 {
		return s.WarnUsers
	}
	return 50
}

func (s *Service) warnRooms() int {
	if s.WarnRooms > 0 {
		return s.WarnRooms
	}
	return 200
}

func (s *Service) checkTeam(st *State) Item {
	it := Item{ID: ItemTeam, Title: "The team has been told Matrix chat will be unavailable"}
	if st != nil && st.Unfinished() && st.Started() {
		it.Status = Skipped
		it.Evidence = "the reset is under way"
		if st.Told != nil {
			it.Evidence = "told: " + st.Told.String()
		}
		return it
	}
	if st != nil && st.Told != nil && st.Phase != Done {
		age := s.now().Sub(st.Told.At)
		if age <= s.toldWithin() {
			it.Status, it.Evidence = OK, "told: "+st.Told.String()
			return it
		}
		it.Evidence = fmt.Sprintf("told %s ago (%s), longer ago than %s", age.Round(time.Minute), st.Told, config.FormatDuration(s.toldWithin()))
	} else {
		it.Evidence = "not recorded"
	}
	it.Status = Pending
	where := "a server notice to every local user"
	if s.Config.NotifyRoom != "" {
		where = "a notice in " + s.Config.NotifyRoom
	}
	it.Hint = "tell them: synops sends " + where + " (`synops reset notify`), or confirm you told them (`synops reset told`)"
	it.Offer = []string{OfferNotify, OfferTold}
	return it
}

// backupProbe is a plan that loses data, to ask the guard's backup gate.
func (s *Service) backupProbe() *ops.Plan {
	p := ops.NewPlan(KindReset, s.Server, s.Server, string(s.Environment), s.now())
	p.LosesData = true
	p.BackupAfter = s.lastReset()
	return p
}

// lastReset is when this server's newest reset ended (zero when none did):
// a backup from before it holds none of what is on the server now.
func (s *Service) lastReset() time.Time {
	if st, err := s.record(); err == nil && st != nil {
		return st.LastEnd()
	}
	return time.Time{}
}

func (s *Service) checkBackup(ctx context.Context) Item {
	it := Item{ID: ItemBackup, Title: "A verified backup is fresh enough", Waivable: true}
	if s.Guard == nil {
		it.Status, it.Evidence = Fail, "no guard"
		return it
	}
	ok, note := s.Guard.BackupState(ctx, s.backupProbe())
	it.Evidence = note
	if ok {
		it.Status = OK
		return it
	}
	it.Status = Fail
	it.Hint = fmt.Sprintf("take and verify one now (--take-backup, or `synops backup create --verify`), or accept resetting without one (--without-backup, or type \"%s%s\")", s.Server, ops.WaiverSuffix)
	if s.Backups != nil {
		it.Offer = []string{OfferBackup}
	}
	return it
}

func (s *Service) checkSecret() Item {
	it := Item{ID: ItemSecret, Title: "The new admin can be registered (registration shared secret)"}
	if s.SharedSecret.IsZero() {
		it.Status = Fail
		it.Evidence = "no registration_shared_secret"
		it.Hint = "after the reset no account exists; synops registers the new admin with homeserver.yaml's registration_shared_secret: point -c at homeserver.yaml (or set registration_shared_secret in it and restart Synapse)"
		return it
	}
	it.Status, it.Evidence = OK, "registration_shared_secret is set: the new admin is registered through the shared-secret API"
	return it
}

// volume is a named volume a container mounts.
type volume struct {
	Name, Dest, Service string
}

func (s *Service) checkDeployment(ctx context.Context, st *State, f *facts) Item {
	it := Item{ID: ItemDeployment}
	ctl := s.controller()
	resuming := st != nil && st.Unfinished()
	switch s.path() {
	case config.ResetCompose:
		it.Title = "docker compose can stop, remove and recreate Synapse and PostgreSQL"
		var ev []string
		for _, u := range []services.Unit{services.Synapse, services.Postgres} {
			state, err := ctl.Status(ctx, u)
			if err != nil {
				it.Status, it.Evidence = Fail, err.Error()
				it.Hint = "check services.compose_file / compose_project and that docker answers"
				return it
			}
			ev = append(ev, ctl.ServiceName(u)+": "+state.Detail)
		}
		vols, err := s.composeVolumes(ctx, st)
		if err != nil {
			it.Status, it.Evidence = Fail, strings.Join(ev, ", ")+"; "+err.Error()
			it.Hint = "list the volumes to remove in reset.volumes"
			return it
		}
		f.volumes = vols
		var names []string
		for _, v := range vols {
			n := v.Name
			if v.Dest != "" {
				n += " (" + v.Service + ":" + v.Dest + ")"
			}
			names = append(names, n)
		}
		it.Status = OK
		it.Evidence = strings.Join(ev, ", ") + "; volumes to remove: " + strings.Join(names, ", ")
	case config.ResetStandalone:
		it.Title = "synops can stop Synapse, recreate its database and media store, and start it"
		var ev []string
		state, err := ctl.Status(ctx, services.Synapse)
		if err != nil {
			it.Status, it.Evidence = Fail, err.Error()
			it.Hint = "services.kind systemd (unit) or custom (start, stop, status) must answer"
			return it
		}
		ev = append(ev, fmt.Sprintf("%s (%s): %s", ctl.ServiceName(services.Synapse), ctl.Services.Kind, state.Detail))
		d, err := s.database()
		if err != nil {
			it.Status, it.Evidence = Fail, err.Error()
			return it
		}
		f.db = d
		cn, err := d.maintenance(ctx)
		if err != nil {
			it.Status, it.Evidence = Fail, strings.Join(ev, "; ")+"; "+err.Error()
			it.Hint = "synops drops and creates the database on the maintenance database: set backup.admin_dsn to a role that may"
			return it
		}
		defer cn.Close(context.WithoutCancel(ctx))
		if err := d.mayRecreate(ctx, cn); err != nil {
			it.Status, it.Evidence = Fail, strings.Join(ev, "; ")+"; "+err.Error()
			return it
		}
		info, err := d.info(ctx, cn)
		if err != nil {
			it.Status, it.Evidence = Fail, err.Error()
			return it
		}
		if info.Exists {
			ev = append(ev, fmt.Sprintf("database %s (owner %s, %s/%s) on %s, which may recreate it", d.Name, info.Owner, info.Encoding, info.Collate, d.shown))
		} else {
			ev = append(ev, fmt.Sprintf("database %s does not exist (%s)", d.Name, d.shown))
		}
		m, err := s.mediaNow(st)
		if err != nil {
			it.Status, it.Evidence = Fail, strings.Join(ev, "; ")+"; "+err.Error()
			return it
		}
		f.media = m
		ev = append(ev, fmt.Sprintf("media store %s (%s, %04o)", m.Path, ownerName(m.UID, m.GID), m.Mode.Perm()))
		it.Status, it.Evidence = OK, strings.Join(ev, "; ")
	case config.ResetCustom:
		it.Title = "the profile's reset commands are set"
		it.Status = OK
		it.Evidence = fmt.Sprintf("%d commands in reset.commands, then Synapse must answer on an empty database", len(s.Config.Commands))
	default:
		it.Title = "synops knows how Synapse runs"
		it.Status = Fail
		it.Evidence = "no reset path: the profile has no services section"
		it.Hint = "set services.kind (compose, systemd or custom), or reset.path custom with reset.commands"
	}
	if resuming && it.Status == OK {
		it.Evidence += fmt.Sprintf("; resuming the reset started %s", st.StartedAt.Local().Format("2006-01-02 15:04"))
	}
	return it
}

// mediaNow is the media store as it is, or as the state recorded it.
func (s *Service) mediaNow(st *State) (*Media, error) {
	if st != nil && st.Unfinished() && st.Media != nil {
		return st.Media, nil
	}
	if s.MediaStore == "" {
		return nil, errors.New("the media store is unknown: point -c at homeserver.yaml (media_store_path) or set media_store")
	}
	if err := safeMediaPath(s.MediaStore); err != nil {
		return nil, err
	}
	fi, err := os.Stat(s.MediaStore)
	if err != nil {
		return nil, fmt.Errorf("media store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("media store %s is not a directory", s.MediaStore)
	}
	uid, gid := fileOwner(fi)
	return &Media{Path: s.MediaStore, UID: uid, GID: gid, Mode: fi.Mode().Perm()}, nil
}

func (s *Service) checkApp(ctx context.Context) Item {
	it := Item{ID: ItemApp, Title: "The application can be brought back"}
	var ev, warn []string
	status := OK
	if s.Tokens == nil {
		it.Status, it.Evidence = Fail, "no token writer"
		return it
	}
	targets := tokens.Targets(s.Tokens.Own, s.Tokens.Config.WriteTo)
	if len(targets) == 0 {
		it.Status = Fail
		it.Evidence = "nowhere to write the new admin's token"
		it.Hint = "set token.file (synops' own token file) and tokens.write_to (where the application reads it): after a reset the old token is gone"
		return it
	}
	var where []string
	for _, t := range targets {
		if err := t.Writable(); err != nil {
			it.Status, it.Evidence = Fail, err.Error()
			return it
		}
		where = append(where, t.String())
	}
	ev = append(ev, "the new token goes to "+strings.Join(where, ", "))
	if s.Tokens.Own.File == "" {
		warn = append(warn, "synops reads its own token from "+ownSource(s.Tokens.Own)+": give it the new token after the reset")
	}
	if s.AppDB != nil {
		refs := rooms.NewResetRefs(s.AppDB, s.AppRefs)
		c, err := refs.Counts(ctx)
		if err != nil {
			it.Status, it.Evidence = Fail, err.Error()
			it.Hint = "check app_db_dsn and app_refs.reset_count"
			return it
		}
		var parts []string
		for _, x := range c {
			parts = append(parts, fmt.Sprintf("%s: %d", x.What, x.N))
		}
		ev = append(ev, "application references: "+orNone(strings.Join(parts, ", ")))
	} else {
		warn = append(warn, "no application database (app_db_dsn): clear its Matrix references yourself")
	}
	if argv, ok := s.restartCommand(ctx); ok {
		ev = append(ev, "restart: "+shellJoin(argv))
	} else {
		warn = append(warn, "no restart command (reset.restart_app, tokens.redeploy or services.app_service): restart the application yourself")
	}
	it.Evidence = strings.Join(ev, "; ")
	if len(warn) > 0 {
		status = Warn
		it.Evidence += "; " + strings.Join(warn, "; ")
	}
	it.Status = status
	return it
}

func ownSource(t config.TokenSource) string {
	switch {
	case t.File != "":
		return "the file " + t.File
	case len(t.Command) > 0:
		return "the command " + t.Command[0]
	case t.Env != "":
		return "$" + t.Env
	}
	return "$" + config.DefaultTokenEnv
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown admin"
	}
	return s
}
