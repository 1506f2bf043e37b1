// Package diagnose turns the troubleshooting sections of the operations
// guides (seeds 000 and 004) into checks with verdicts: for a symptom an
// operator reports ("server slow after a reset", "users cannot join rooms"),
// it runs the checks that tell its cause apart and returns a verdict with
// the evidence each check found. Nothing here changes anything.
//
// Every check has its own time limit; a dependency that is missing or fails
// gives that check the Unknown status with the reason, never an error from Run.
package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"synops/ops/config"
	"synops/ops/health"
	"synops/ops/pg"
	"synops/ops/services"
	"synops/ops/text"
	"synops/synapse"
)

// Symptom is a complaint an operator can diagnose.
type Symptom struct {
	ID       string // stable key for the CLI: "slow-after-reset"
	Title    string
	FromSeed string // where the guides mention it and what they advise
}

// The symptom IDs.
const (
	SlowAfterReset   = "slow-after-reset"
	ConnectionErrors = "connection-errors-after-reset"
	CannotJoinRooms  = "users-cannot-join-rooms"
	RoomSyncFailing  = "room-sync-failing"
	HighMemory       = "high-memory"
)

// Symptoms lists what Run can diagnose, in the order the guides give them.
func Symptoms() []Symptom {
	return []Symptom{
		{SlowAfterReset, "Server slow after a reset",
			`seed 000, Troubleshooting: "Server remains slow after reset: Check if the server has enough resources allocated (memory, CPU)."`},
		{ConnectionErrors, "Connection errors after a reset",
			`seed 000, Troubleshooting: "Connection errors after reset: Verify that the application's Matrix credentials are correctly configured."`},
		{CannotJoinRooms, "Users cannot join rooms",
			`seed 000, Troubleshooting: "Users can't join rooms: Ensure that user registration is enabled in the Matrix configuration." (registration governs creating accounts, not joining rooms)`},
		{RoomSyncFailing, "Room sync failing",
			`seed 004, Troubleshooting: "Matrix room sync failing: Check Synapse logs for errors; Verify database connectivity; Check if room state is corrupted."`},
		{HighMemory, "High memory use",
			`seed 004, Troubleshooting: "High memory usage on Synapse: Tune worker configuration; Consider running multiple workers; Increase database connection pool."`},
		{UserNotActive, "User must be active to join calls",
			`seed 004, Troubleshooting: "User must be active to join calls: User's status is not ACTIVE. Check: SELECT status FROM "User" WHERE id = 'xxx'. Fix: User needs to complete onboarding or be enabled by admin."`},
	}
}

// TakesRoom says whether the symptom's checks look at one room (Deps.RoomID):
// users who cannot join it, its sync failing.
func TakesRoom(id string) bool { return id == CannotJoinRooms || id == RoomSyncFailing }

// Finding is the outcome of one check.
type Finding struct {
	Check    string        `json:"check"`
	Status   health.Status `json:"status"`
	Evidence string        `json:"evidence"`       // what was found, with the figures
	Hint     string        `json:"hint,omitempty"` // what to do about it
}

// Verdict is the diagnosis of one symptom.
type Verdict struct {
	Symptom  Symptom       `json:"symptom"`
	Status   health.Status `json:"status"` // the worst finding; Unknown when nothing could be checked
	Summary  string        `json:"summary"`
	Findings []Finding     `json:"findings"`
}

// Deps is what the checks may use. Any of it may be missing: the checks that
// need it then report Unknown.
type Deps struct {
	Synapse        *synapse.Client
	SynapseDB      synapse.Secret // DSN of Synapse's PostgreSQL database
	Homeserver     *config.Homeserver
	HomeserverYAML string // path; defaults to Homeserver.Path
	MetricsURLs    []string
	Services       config.Services
	Runner         services.Runner // for the stats command; nil: services.Exec{}
	RoomID         string          // optional: the room that fails (join, sync)

	// AppTokens reads the tokens the application is configured with (its
	// env file, its secret file) when a check runs: "connection errors
	// after a reset" checks them, not only synops' own. nil: not known.
	AppTokens func() []AppToken
	// AppDB is the application database; UserStatusSQL reads a user's
	// status ($1: User) and ActiveStatus is the one that may join calls.
	AppDB         synapse.Secret
	UserStatusSQL string
	ActiveStatus  string
	User          string // the user of "user must be active" (the application's ID, or a Matrix ID)

	// LogFile is scanned for recent errors (room sync); "" reads the service
	// manager's log instead, when Services has one.
	LogFile string
	// Timeout bounds each check (default 5s).
	Timeout time.Duration
	// CPUSample is the time between the two CPU readings (default 1s).
	CPUSample time.Duration
	// HTTPClient scrapes the metrics endpoints (default: a plain client).
	HTTPClient *http.Client
}

// check is one unit of a plan; a unit may report several findings (the
// connection chain: reachable, token, admin, database).
type check func(ctx context.Context, e *env) []Finding

// Run diagnoses symptomID. It returns an error only for an unknown symptom
// or when ctx ends before the checks do. It takes about Timeout at worst, and
// CPUSample longer for the symptoms that measure CPU.
func Run(ctx context.Context, d Deps, symptomID string) (Verdict, error) {
	var sym Symptom
	for _, s := range Symptoms() {
		if s.ID == symptomID {
			sym = s
		}
	}
	if sym.ID == "" {
		ids := make([]string, 0, len(Symptoms()))
		for _, s := range Symptoms() {
			ids = append(ids, s.ID)
		}
		return Verdict{}, fmt.Errorf("diagnose: unknown symptom %q: want one of %s", symptomID, strings.Join(ids, ", "))
	}
	if d.Timeout <= 0 {
		d.Timeout = 5 * time.Second
	}
	if d.CPUSample <= 0 {
		d.CPUSample = time.Second
	}
	if d.Runner == nil {
		d.Runner = services.Exec{}
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{}
	}
	if d.HomeserverYAML == "" && d.Homeserver != nil {
		d.HomeserverYAML = d.Homeserver.Path
	}
	e := &env{d: d}
	defer e.close()

	plan := planFor(sym.ID)
	results := make([][]Finding, len(plan))
	var wg sync.WaitGroup
	for i, c := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run(ctx, c)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Verdict{}, fmt.Errorf("diagnose %s: %w", sym.ID, err)
	}
	v := Verdict{Symptom: sym}
	for _, fs := range results {
		v.Findings = append(v.Findings, fs...)
	}
	for i := range v.Findings {
		f := &v.Findings[i]
		f.Evidence, f.Hint = text.Clean(f.Evidence), text.Clean(f.Hint)
		if f.Status > v.Status {
			v.Status = f.Status
		}
	}
	v.Summary = summarize(sym.ID, e, v)
	return v, nil
}

// planFor lists the checks for a symptom, in the order they are shown.
func planFor(id string) []check {
	switch id {
	case SlowAfterReset:
		return []check{checkResponsiveness, checkResources, checkDatabase, checkBackgroundUpdates, checkExtremities, checkCaches, checkWorkers, checkPresence}
	case ConnectionErrors:
		return []check{checkConnection, checkAppCredentials, checkSharedSecret}
	case CannotJoinRooms:
		return []check{checkResponsiveness, checkServerRestrictions, checkJoinRateLimits, checkRoomJoinable, checkRegistration}
	case RoomSyncFailing:
		return []check{checkResponsiveness, checkDatabase, checkRoomState, checkExtremities, checkSyncTimes, checkLogErrors, checkBackgroundUpdates}
	case HighMemory:
		return []check{checkResources, checkCaches, checkPresence, checkWorkers, checkDBPool, checkExtremities}
	case UserNotActive:
		return []check{checkUserActive}
	}
	return nil
}

// env holds what several checks share: one database pool, one parse of
// homeserver.yaml.
type env struct {
	d Deps

	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error

	hsOnce sync.Once
	hs     *hsSettings
	hsErr  error

	roomOnce sync.Once
	roomInfo *synapse.RoomDiagnosis
	roomErr  error

	mu      sync.Mutex
	notable map[string]string // facts a check leaves for the summary
}

func (e *env) close() {
	if e.pool != nil {
		e.pool.Close()
	}
}

func (e *env) note(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.notable == nil {
		e.notable = map[string]string{}
	}
	e.notable[k] = v
}

func (e *env) noted(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.notable[k]
}

// run bounds a check (each of its operations has Timeout; this is the
// backstop for all of them) and turns a panic into an Unknown finding, so one
// broken check cannot take the verdict down.
func (e *env) run(ctx context.Context, c check) (out []Finding) {
	ctx, cancel := context.WithTimeout(ctx, 4*e.d.Timeout+e.d.CPUSample)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			out = []Finding{{Check: "internal", Status: health.Unknown, Evidence: fmt.Sprintf("a check failed unexpectedly: %v", p)}}
		}
	}()
	return c(ctx, e)
}

// db returns the shared pool to Synapse's database.
func (e *env) db(ctx context.Context) (*pgxpool.Pool, error) {
	e.poolOnce.Do(func() {
		if e.d.SynapseDB.IsZero() {
			e.poolErr = errNoDB
			return
		}
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.d.Timeout)
		defer cancel()
		e.pool, e.poolErr = pg.Open(octx, "Synapse database", e.d.SynapseDB, nil)
	})
	return e.pool, e.poolErr
}

var errNoDB = errors.New("Synapse's database is not configured (point -c at homeserver.yaml or set synapse_db_dsn in the profile)")

// settings returns homeserver.yaml's tuning keys.
func (e *env) settings() (*hsSettings, error) {
	e.hsOnce.Do(func() {
		if e.d.HomeserverYAML == "" {
			e.hsErr = fmt.Errorf("homeserver.yaml is not configured (point -c at it or set homeserver_yaml in the profile)")
			return
		}
		e.hs, e.hsErr = readHomeserverYAML(e.d.HomeserverYAML)
	})
	return e.hs, e.hsErr
}

// summarize writes the verdict's one paragraph: what the guide's advice
// amounts to, what was found, and what could not be checked.
func summarize(id string, e *env, v Verdict) string {
	var b strings.Builder
	switch id {
	case SlowAfterReset:
		b.WriteString("Checked what makes a fresh Synapse slow: resources, database latency, background updates still rebuilding the new database, forward extremities, caches and workers. ")
	case ConnectionErrors:
		if u := e.noted("unreachable"); u != "" {
			b.WriteString("Synapse is unreachable: " + u + ". Nothing that talks to it (the application, synops) can connect until it runs. ")
		} else {
			b.WriteString("A reset deletes every account and access token: the application's MATRIX_ADMIN_TOKEN is then unknown to Synapse. Checked that Synapse answers, that synops' token and the token the application is configured with are valid and an admin's, and that the database is reachable. ")
		}
	case CannotJoinRooms:
		b.WriteString("Registration (enable_registration) only governs creating accounts, not joining rooms, so the guide's advice does not apply; checked instead what refuses joins: server-wide blocks (hs_disabled, the monthly-active-user limit, limit_remote_rooms), the join rate limits, blocked rooms")
		if e.d.RoomID != "" {
			b.WriteString(" and the room's own state (join rule, block, members, replacement)")
		} else {
			b.WriteString(" (give a room ID to check one room's join rule and members)")
		}
		b.WriteString(". ")
	case RoomSyncFailing:
		b.WriteString("Checked the guide's three causes: errors in Synapse's log, database connectivity, and room state (forward extremities")
		if e.d.RoomID != "" {
			b.WriteString(", the room's current state")
		}
		b.WriteString("), plus sync response times. ")
	case UserNotActive:
		b.WriteString("The application lets only ACTIVE users join calls (seed 004): checked the user's status in the application database")
		if strings.HasPrefix(e.d.User, "@") {
			b.WriteString(" and whether the Matrix account may act")
		}
		b.WriteString(". ")
	case HighMemory:
		b.WriteString("Synapse's memory is mostly its caches (caches.global_factor, event_cache_size). Workers spread CPU load but each is a process with its own caches, and a bigger database pool does not reduce memory (it only helps when requests wait for connections). ")
	}
	var bad, unknown []Finding
	for _, f := range v.Findings {
		if id == ConnectionErrors && f.Check == "Synapse reachable" && e.noted("unreachable") != "" {
			continue // the lead sentence said it
		}
		switch f.Status {
		case health.Crit, health.Warn:
			bad = append(bad, f)
		case health.Unknown:
			unknown = append(unknown, f)
		}
	}
	// Critical findings first.
	for i := 1; i < len(bad); i++ {
		for j := i; j > 0 && bad[j].Status > bad[j-1].Status; j-- {
			bad[j], bad[j-1] = bad[j-1], bad[j]
		}
	}
	switch {
	case len(bad) > 0:
		b.WriteString("Found: ")
		for i, f := range bad[:min(len(bad), 3)] {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s (%s): %s", f.Check, f.Status, firstSentence(f.Evidence))
		}
		if len(bad) > 3 {
			fmt.Fprintf(&b, "; and %d more", len(bad)-3)
		}
		b.WriteString(".")
	case len(unknown) == len(v.Findings):
		b.WriteString("Nothing could be checked")
		if len(unknown) > 0 {
			b.WriteString(": " + firstSentence(unknown[0].Evidence))
		}
		b.WriteString(".")
	case id == ConnectionErrors && e.noted("unreachable") != "":
		// The lead sentence is the finding.
	default:
		b.WriteString("No cause found in what was checked.")
	}
	if len(unknown) > 0 && len(unknown) < len(v.Findings) {
		names := make([]string, len(unknown))
		for i, f := range unknown {
			names[i] = f.Check
		}
		fmt.Fprintf(&b, " Not checked: %s.", strings.Join(names, ", "))
	}
	return strings.Join(strings.Fields(text.Clean(b.String())), " ")
}

// firstSentence keeps a summary short: evidence up to its first "; " or 160
// characters.
func firstSentence(s string) string {
	if i := strings.Index(s, "; "); i > 0 {
		s = s[:i]
	}
	return text.Truncate(strings.TrimSuffix(s, "."), 160)
}
