package diagnose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"synops/ops/config"
	"synops/ops/health"
	"synops/ops/logs"
	"synops/ops/metrics"
	"synops/ops/pg"
	"synops/ops/services"
	"synops/ops/text"
	"synops/synapse"
)

// Thresholds. They are judgement calls, named so the reasons are in one place.
const (
	extremitiesWarn   = 10                     // forward extremities in one room
	healthSlow        = 200 * time.Millisecond // /health is trivial: slower means a busy reactor
	healthVerySlow    = time.Second
	dbSlow            = 20 * time.Millisecond // SELECT 1 on the box or a LAN is well under 1 ms
	dbVerySlow        = 200 * time.Millisecond
	memWarnPct        = 75.0
	memCritPct        = 90.0
	cpuWarnPct        = 80.0 // of one core: Synapse's main process is one Python thread
	connWarnPct       = 80.0 // of PostgreSQL's max_connections
	syncSlow          = 5.0  // seconds; seed 004 alerts above 5 s
	dbWaitSlow        = 0.05 // seconds waiting for a pooled connection
	bigEventCache     = 100 << 10
	bigCacheFactor    = 2.0
	logScanLines      = 1000
	logScanIdle       = 300 * time.Millisecond
	defaultCPMax      = 10
	defaultCPMin      = 5
	defaultCacheTTL   = "30m"
	defaultEventCache = "10K"
)

func unknown(check, why, hint string) Finding {
	return Finding{Check: check, Status: health.Unknown, Evidence: why, Hint: hint}
}

func one(f Finding) []Finding { return []Finding{f} }

// limit bounds one network operation of a check.
func (e *env) limit(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.d.Timeout)
}

const noSynapse = "no homeserver URL configured (pass --homeserver-url or point -c at homeserver.yaml)"

// --- Synapse itself -------------------------------------------------------

func checkResponsiveness(ctx context.Context, e *env) []Finding {
	f := Finding{Check: "Synapse responds"}
	c := e.d.Synapse
	if c == nil {
		return one(unknown(f.Check, noSynapse, ""))
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	var took []time.Duration
	for range 3 {
		start := time.Now()
		if err := c.Health(ctx); err != nil {
			f.Status = health.Crit
			if synapse.IsUnreachable(err) {
				f.Evidence = fmt.Sprintf("cannot reach Synapse at %s: %s", c.BaseURL(), synapse.UnreachableReason(err))
				f.Hint = "is Synapse running? (docker compose ps / systemctl status matrix-synapse); check homeserver_url and that the port is open"
				e.note("unreachable", f.Evidence)
			} else {
				f.Evidence = "GET /health failed: " + err.Error()
				f.Hint = "something answers at " + c.BaseURL() + " but it is not a healthy Synapse"
			}
			return one(f)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	med, worst := took[1], took[2]
	version, err := c.ServerVersion(ctx)
	if err != nil {
		version = "(version unknown: " + err.Error() + ")"
	}
	f.Evidence = fmt.Sprintf("GET /health answered in %s (median of 3, slowest %s); Synapse %s", ms(med), ms(worst), version)
	switch {
	case med >= healthVerySlow:
		f.Status = health.Crit
		f.Hint = "even the trivial /health waits: the main process is saturated (see CPU and memory) or the machine is swapping"
	case med >= healthSlow:
		f.Status = health.Warn
		f.Hint = "/health does no work, so a slow answer means Synapse's event loop is busy"
	default:
		f.Status = health.OK
	}
	return one(f)
}

func checkConnection(ctx context.Context, e *env) []Finding {
	if e.d.Synapse == nil {
		out := []Finding{
			unknown("Synapse reachable", noSynapse, ""),
			unknown("admin token valid", "not checked: no homeserver URL", ""),
		}
		f := Finding{Check: "Synapse database reachable"}
		if _, err := e.db(ctx); err != nil {
			f = dbFailure(f.Check, err)
		} else {
			f.Status, f.Evidence = health.OK, "connected to "+pg.Describe(e.d.SynapseDB)
		}
		return append(out, f)
	}
	rs := health.ConnectionChecks(ctx, health.Target{Synapse: e.d.Synapse, SynapseDB: e.d.SynapseDB, Timeout: e.d.Timeout})
	out := make([]Finding, 0, len(rs))
	for _, r := range rs {
		f := Finding{Check: r.Name, Status: r.Status, Evidence: r.Value, Hint: r.Hint}
		if r.Detail != "" {
			f.Evidence = r.Detail
			if r.Value != "" {
				f.Evidence = r.Value + ": " + r.Detail
			}
		}
		switch r.ID {
		case "synapse.reachable":
			f.Check = "Synapse reachable"
			if r.Status == health.Crit {
				e.note("unreachable", r.Detail)
			}
		case "synapse.token":
			f.Check = "admin token valid"
			if r.Status == health.Crit {
				f.Hint += "; after a reset every token is gone: register an admin (register_new_matrix_user -a), log in, then update MATRIX_ADMIN_TOKEN for the application and synops, and restart the application"
			}
		case "synapse.admin":
			f.Check = "token owner is a server admin"
		case "postgres.synapse":
			f.Check = "Synapse database reachable"
		}
		out = append(out, f)
	}
	return out
}

func checkSharedSecret(_ context.Context, e *env) []Finding {
	f := Finding{Check: "registration shared secret"}
	hs, err := e.settings()
	if err != nil {
		return one(unknown(f.Check, err.Error(), ""))
	}
	_, inline := hs.Get("registration_shared_secret")
	p, fromFile := hs.Get("registration_shared_secret_path")
	switch {
	case inline:
		f.Status, f.Evidence = health.OK, "registration_shared_secret is set in "+hs.Path()
	case fromFile:
		f.Status, f.Evidence = health.OK, fmt.Sprintf("registration_shared_secret_path is set (%v)", p)
	default:
		f.Status = health.Warn
		f.Evidence = "homeserver.yaml sets neither registration_shared_secret nor registration_shared_secret_path"
		f.Hint = "after a reset no admin exists; without the shared secret register_new_matrix_user cannot create one: set registration_shared_secret and restart Synapse"
		return one(f)
	}
	f.Hint = "after a reset, create the new admin with register_new_matrix_user -a -c " + hs.Path()
	return one(f)
}

// --- CPU and memory -------------------------------------------------------

// usage is Synapse's measured resource use, from whichever source had it.
type usage struct {
	source     string
	mem        uint64
	hasMem     bool
	limit      uint64
	limitWhat  string // "container limit", "host memory"
	cpuPct     float64
	hasCPU     bool
	state      string // systemd ActiveState
	processes  int    // metrics endpoints added up
	sourceNote string
}

func checkResources(ctx context.Context, e *env) []Finding {
	const name = "CPU and memory"
	var failures []string
	if _, ok := services.StatsCommand(e.d.Services); ok {
		u, err := e.serviceUsage(ctx)
		if err == nil {
			return one(judgeUsage(name, u))
		}
		failures = append(failures, err.Error())
	}
	if len(e.d.MetricsURLs) > 0 {
		u, err := e.metricsUsage(ctx)
		if err == nil {
			if len(failures) > 0 {
				u.sourceNote = " (the service manager failed: " + failures[0] + ")"
			}
			return one(judgeUsage(name, u))
		}
		failures = append(failures, err.Error())
	}
	if len(failures) == 0 {
		return one(unknown(name, "no service manager (services.kind compose or systemd) and no metrics endpoint to read Synapse's memory and CPU from",
			"set services in the profile, or enable_metrics with a metrics listener in homeserver.yaml"))
	}
	return one(unknown(name, strings.Join(failures, "; "), ""))
}

func (e *env) serviceUsage(ctx context.Context) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, e.d.Timeout+e.d.CPUSample)
	defer cancel()
	st, err := services.ReadStats(ctx, e.d.Runner, e.d.Services)
	if err != nil {
		return usage{}, err
	}
	u := usage{source: st.Source, mem: st.MemoryBytes, hasMem: st.HasMemory, state: st.State}
	switch {
	case st.HasCPUPercent: // docker already averaged over its own sample
		u.cpuPct, u.hasCPU = st.CPUPercent, true
		u.limit, u.limitWhat = st.MemoryLimitBytes, "container limit"
	case st.HasCPUSeconds: // systemd: cumulative, so read twice
		start := time.Now()
		if err := sleep(ctx, e.d.CPUSample); err != nil {
			return usage{}, err
		}
		st2, err := services.ReadStats(ctx, e.d.Runner, e.d.Services)
		if err == nil && st2.HasCPUSeconds {
			u.cpuPct, u.hasCPU = (st2.CPUSeconds-st.CPUSeconds)/time.Since(start).Seconds()*100, true
			if st2.HasMemory {
				u.mem = st2.MemoryBytes
			}
		}
	}
	if u.limit == 0 && e.d.Services.Kind == config.ServicesSystemd {
		u.limit, u.limitWhat = memTotal(), "host memory"
	}
	return u, nil
}

func (e *env) metricsUsage(ctx context.Context) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, e.d.Timeout+e.d.CPUSample)
	defer cancel()
	read := func() (mem, cpu float64, err error) {
		for _, u := range e.d.MetricsURLs {
			s, err := metrics.Fetch(ctx, e.d.HTTPClient, u)
			if err != nil {
				return 0, 0, fmt.Errorf("metrics: %w", err)
			}
			m, okM := s.Sum("process_resident_memory_bytes", nil)
			c, okC := s.Sum("process_cpu_seconds_total", nil)
			if !okM || !okC {
				return 0, 0, fmt.Errorf("metrics %s has no process_resident_memory_bytes / process_cpu_seconds_total (not Linux?)", metrics.ShownURL(u))
			}
			mem, cpu = mem+m, cpu+c
		}
		return mem, cpu, nil
	}
	start := time.Now()
	_, cpu1, err := read()
	if err != nil {
		return usage{}, err
	}
	if err := sleep(ctx, e.d.CPUSample); err != nil {
		return usage{}, err
	}
	mem, cpu2, err := read()
	if err != nil {
		return usage{}, err
	}
	u := usage{source: "metrics", mem: uint64(mem), hasMem: true, cpuPct: (cpu2 - cpu1) / time.Since(start).Seconds() * 100, hasCPU: true, processes: len(e.d.MetricsURLs)}
	local := true
	for _, m := range e.d.MetricsURLs {
		local = local && isLoopback(m)
	}
	if local {
		u.limit, u.limitWhat = memTotal(), "host memory"
	}
	return u, nil
}

func judgeUsage(name string, u usage) Finding {
	f := Finding{Check: name, Status: health.OK}
	var parts []string
	if u.state != "" && u.state != "active" {
		f.Status = health.Crit
		f.Evidence = fmt.Sprintf("the Synapse unit is %s, not active (%s)", u.state, u.source)
		f.Hint = "start it (systemctl start) and read its journal for why it stopped"
		return f
	}
	memPct := 0.0
	if u.hasMem {
		s := "Synapse uses " + text.Bytes(int64(u.mem))
		if u.processes > 1 {
			s += fmt.Sprintf(" across %d processes", u.processes)
		}
		if u.limit > 0 {
			memPct = float64(u.mem) / float64(u.limit) * 100
			s += fmt.Sprintf(" (%.0f%% of %s %s)", memPct, text.Bytes(int64(u.limit)), u.limitWhat)
		}
		parts = append(parts, s)
	}
	if u.hasCPU {
		parts = append(parts, fmt.Sprintf("%.0f%% of one CPU core", u.cpuPct))
	}
	f.Evidence = strings.Join(parts, " and ") + " (" + u.source + ")" + u.sourceNote
	var hints []string
	switch {
	case memPct >= memCritPct:
		f.Status = health.Crit
		hints = append(hints, "memory is nearly exhausted: lower caches.global_factor or set caches.cache_autotuning, or give Synapse more memory")
	case memPct >= memWarnPct:
		f.Status = health.Warn
		hints = append(hints, "memory is getting tight: caches hold most of it (see the cache settings)")
	}
	if u.hasCPU && u.cpuPct >= cpuWarnPct {
		f.Status = max(f.Status, health.Warn)
		hints = append(hints, "the main process is CPU-bound: it runs on one core, so workers are the way to spread load")
	}
	f.Hint = strings.Join(hints, "; ")
	return f
}

// --- PostgreSQL -----------------------------------------------------------

func checkDatabase(ctx context.Context, e *env) []Finding {
	const name = "database round trip"
	pool, err := e.db(ctx)
	if err != nil {
		return one(dbFailure(name, err))
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	var took []time.Duration
	for range 5 {
		start := time.Now()
		var one int
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			return []Finding{{Check: name, Status: health.Crit, Evidence: "SELECT 1 failed: " + err.Error(),
				Hint: "the database accepted a connection but cannot answer: check PostgreSQL's log"}}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	med, worst := took[2], took[4]
	f := Finding{Check: name, Status: health.OK}
	f.Evidence = fmt.Sprintf("SELECT 1 took %s (median of 5, slowest %s) at %s", ms(med), ms(worst), pg.Describe(e.d.SynapseDB))
	switch {
	case med >= dbVerySlow:
		f.Status = health.Crit
		f.Hint = "every query Synapse makes pays this: is the database on another network, or the server overloaded?"
	case med >= dbSlow:
		f.Status = health.Warn
		f.Hint = "queries are slow before they do any work: check the network to PostgreSQL and its load"
	}
	var ours, all, maxConn int
	err = pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE datname = current_database()), count(*) FILTER (WHERE backend_type = 'client backend'),
		current_setting('max_connections')::int FROM pg_stat_activity`).Scan(&ours, &all, &maxConn)
	if err == nil && maxConn > 0 {
		pct := float64(all) / float64(maxConn) * 100
		f.Evidence += fmt.Sprintf("; %d connections to this database, %d client connections of max_connections %d in all", ours, all, maxConn)
		if pct >= connWarnPct {
			f.Status = max(f.Status, health.Warn)
			f.Hint = strings.TrimPrefix(f.Hint+"; PostgreSQL is close to max_connections: new connections (Synapse's pool, the application) will be refused", "; ")
		}
	}
	return one(f)
}

// dbFailure is the finding of the database check itself when the database
// cannot be reached; dbUnknown is that of a check that merely needed it.
func dbFailure(check string, err error) Finding {
	if errors.Is(err, errNoDB) {
		return unknown(check, err.Error(), "")
	}
	f := Finding{Check: check, Status: health.Crit, Evidence: "cannot connect: " + err.Error()}
	if pg.IsAuthError(err) {
		f.Hint = "PostgreSQL refused the credentials: check the user and password"
	} else {
		f.Hint = "is PostgreSQL running and listening where the connection string says?"
	}
	return f
}

func dbUnknown(check string, err error) Finding {
	if errors.Is(err, errNoDB) {
		return unknown(check, err.Error(), "")
	}
	return unknown(check, "not checked: cannot connect to Synapse's database ("+err.Error()+")", "")
}

func checkBackgroundUpdates(ctx context.Context, e *env) []Finding {
	const name = "background updates"
	pool, err := e.db(ctx)
	if err != nil {
		return one(dbUnknown(name, err))
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT update_name FROM background_updates ORDER BY ordering, update_name`)
	if err != nil {
		return one(unknown(name, "reading background_updates: "+err.Error(), ""))
	}
	var pending []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err == nil {
			pending = append(pending, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return one(unknown(name, "reading background_updates: "+err.Error(), ""))
	}
	if len(pending) == 0 {
		return one(Finding{Check: name, Status: health.OK, Evidence: "no background updates pending"})
	}
	return one(Finding{Check: name, Status: health.Warn,
		Evidence: fmt.Sprintf("%d background updates still pending (%s)", len(pending), list(pending, 3)),
		Hint: "Synapse is still building indexes and statistics in the background, as after a fresh database: it is slower until they finish " +
			"(progress: GET /_synapse/admin/v1/background_updates/status)"})
}

// --- Rooms ----------------------------------------------------------------

// room fetches the diagnosed room once for every check that needs it.
func (e *env) room(ctx context.Context) (*synapse.RoomDiagnosis, error) {
	e.roomOnce.Do(func() {
		if e.d.Synapse == nil {
			e.roomErr = errors.New(noSynapse)
			return
		}
		ctx, cancel := e.limit(ctx)
		defer cancel()
		e.roomInfo, e.roomErr = e.d.Synapse.RoomDiagnosis(ctx, e.d.RoomID)
	})
	return e.roomInfo, e.roomErr
}

func checkExtremities(ctx context.Context, e *env) []Finding {
	const name = "forward extremities"
	hint := "Synapse resolves state across every forward extremity when it handles a new event, so many of them make sends, syncs and joins slow and use memory; " +
		"a new event in the room merges them. As a last resort, DELETE /_synapse/admin/v1/rooms/<room>/forward_extremities (never as a routine job)"
	if e.d.RoomID != "" {
		var (
			n   int
			src string
		)
		r, err := e.room(ctx)
		switch {
		case err == nil && !r.Known: // the room checks report it
			return one(unknown(name, "not checked: Synapse does not know room "+e.d.RoomID, ""))
		case err == nil:
			n, src = len(r.ForwardExtremities), "admin API"
		default:
			// The admin API failed (no token?): the database has the same table.
			pool, perr := e.db(ctx)
			if perr != nil {
				return one(unknown(name, "admin API: "+err.Error()+"; database: "+perr.Error(), ""))
			}
			qctx, cancel := e.limit(ctx)
			defer cancel()
			if qerr := pool.QueryRow(qctx, `SELECT count(*) FROM event_forward_extremities WHERE room_id = $1`, e.d.RoomID).Scan(&n); qerr != nil {
				return one(unknown(name, "admin API: "+err.Error()+"; database: "+qerr.Error(), ""))
			}
			src = "database; the admin API failed: " + err.Error()
		}
		f := Finding{Check: name, Status: health.OK, Evidence: fmt.Sprintf("room %s has %d forward extremities (%s)", e.d.RoomID, n, src)}
		if n > extremitiesWarn {
			f.Status, f.Hint = health.Warn, hint
		}
		return one(f)
	}
	pool, err := e.db(ctx)
	if err != nil {
		return one(dbUnknown(name, err))
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT room_id, count(*) FROM event_forward_extremities GROUP BY room_id ORDER BY 2 DESC, 1 LIMIT 5`)
	if err != nil {
		return one(unknown(name, "reading event_forward_extremities: "+err.Error(), ""))
	}
	var top []string
	worst := 0
	for rows.Next() {
		var room string
		var n int
		if err := rows.Scan(&room, &n); err != nil {
			continue
		}
		worst = max(worst, n)
		top = append(top, fmt.Sprintf("%s %d", room, n))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return one(unknown(name, "reading event_forward_extremities: "+err.Error(), ""))
	}
	f := Finding{Check: name, Status: health.OK}
	if len(top) == 0 {
		f.Evidence = "no room has forward extremities (no events yet)"
		return one(f)
	}
	f.Evidence = fmt.Sprintf("most per room: %s (more than %d is a problem)", strings.Join(top, ", "), extremitiesWarn)
	if worst > extremitiesWarn {
		f.Status, f.Hint = health.Warn, hint
	}
	return one(f)
}

func checkRoomJoinable(ctx context.Context, e *env) []Finding {
	if e.d.RoomID == "" {
		return one(blockedRooms(ctx, e))
	}
	const name = "room can be joined"
	r, err := e.room(ctx)
	if err != nil {
		return one(unknown(name, "room "+e.d.RoomID+": "+err.Error(), ""))
	}
	f := Finding{Check: name, Status: health.OK}
	if r.Blocked {
		by := ""
		if r.BlockedBy != "" {
			by = " by " + r.BlockedBy
		}
		f.Status = health.Crit
		f.Evidence = fmt.Sprintf("room %s is blocked%s: Synapse refuses every join", e.d.RoomID, by)
		f.Hint = "unblock it with PUT /_synapse/admin/v1/rooms/<room>/block {\"block\": false} if the block was a mistake"
		return one(f)
	}
	if !r.Known {
		f.Status = health.Crit
		f.Evidence = fmt.Sprintf("Synapse does not know room %s (purged, or never on this server)", e.d.RoomID)
		f.Hint = "check the room ID the application stores; after a reset every room is gone and the application's references are stale"
		return one(f)
	}
	members := "unknown"
	if r.JoinedMembers != nil {
		members = strconv.Itoa(*r.JoinedMembers)
	}
	local := "unknown"
	if r.JoinedLocalMembers != nil {
		local = strconv.Itoa(*r.JoinedLocalMembers)
	}
	joinRule := r.JoinRules
	if joinRule == "" {
		joinRule = "unknown"
	}
	f.Evidence = fmt.Sprintf("room %s %s: join rule %s, %s joined members (%s local), room version %s",
		e.d.RoomID, text.Quote(text.Truncate(r.Name, 40)), joinRule, members, local, r.Version)
	var hints []string
	switch r.JoinRules {
	case "invite":
		f.Status = health.Warn
		hints = append(hints, "the room is invite-only: a user must be invited before joining")
	case "knock":
		f.Status = health.Warn
		hints = append(hints, "the room takes knocks: a user knocks and a member must accept")
	case "restricted", "knock_restricted":
		f.Status = health.Warn
		hints = append(hints, "the room is restricted: only members of the allowed rooms (a space) can join without an invite")
	case "private":
		f.Status = health.Warn
		hints = append(hints, "join rule private is treated as invite-only")
	}
	if r.JoinedMembers != nil && *r.JoinedMembers == 0 {
		f.Status = health.Crit
		hints = append(hints, "nobody is in the room: no server can vouch for a join, so every join fails")
	}
	if r.Tombstoned {
		f.Status = max(f.Status, health.Warn)
		repl := r.ReplacementRoom
		if repl == "" {
			repl = "another room"
		}
		hints = append(hints, "the room was upgraded and replaced by "+repl+": users should join the replacement")
	}
	f.Hint = strings.Join(hints, "; ")
	return one(f)
}

func blockedRooms(ctx context.Context, e *env) Finding {
	const name = "blocked rooms"
	pool, err := e.db(ctx)
	if err != nil {
		return dbUnknown(name, err)
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT room_id FROM blocked_rooms ORDER BY room_id`)
	if err != nil {
		return unknown(name, "reading blocked_rooms: "+err.Error(), "")
	}
	var ids []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if len(ids) == 0 {
		return Finding{Check: name, Status: health.OK, Evidence: "no room is blocked on this server"}
	}
	return Finding{Check: name, Status: health.Warn,
		Evidence: fmt.Sprintf("%d blocked rooms refuse every join: %s", len(ids), list(ids, 3)),
		Hint:     "if users fail to join one of these, that is why; run again with the room ID to check one room"}
}

func checkRoomState(ctx context.Context, e *env) []Finding {
	const name = "room state"
	if e.d.RoomID == "" {
		return one(unknown(name, "no room given: pass the failing room's ID to check its state", ""))
	}
	r, err := e.room(ctx)
	if err != nil {
		return one(unknown(name, "room "+e.d.RoomID+": "+err.Error(), ""))
	}
	if !r.Known {
		return one(Finding{Check: name, Status: health.Crit, Evidence: "Synapse does not know room " + e.d.RoomID,
			Hint: "clients still syncing it hold a stale room ID (after a reset or a purge)"})
	}
	f := Finding{Check: name, Status: health.OK,
		Evidence: fmt.Sprintf("room %s: version %s, %d current state events", e.d.RoomID, r.Version, r.StateEvents)}
	if r.JoinedMembers != nil {
		f.Evidence += fmt.Sprintf(", %d joined members", *r.JoinedMembers)
	}
	// A room whose current state lacks its create event is broken for every
	// client: the state resolution of its next event has no root.
	if pool, err := e.db(ctx); err == nil {
		qctx, cancel := e.limit(ctx)
		defer cancel()
		var creates, stateRows int
		err := pool.QueryRow(qctx, `SELECT count(*) FILTER (WHERE type = 'm.room.create'), count(*) FROM current_state_events WHERE room_id = $1`, e.d.RoomID).Scan(&creates, &stateRows)
		switch {
		case err != nil:
			f.Evidence += "; current state not read: " + err.Error()
		case creates == 0:
			f.Status = health.Crit
			f.Evidence += fmt.Sprintf("; its current state (%d rows) has no m.room.create event", stateRows)
			f.Hint = "the room's state is corrupted; if nobody needs it, delete the room (synops rooms delete) and have clients leave it"
		default:
			f.Evidence += fmt.Sprintf("; current state has %d rows including m.room.create", stateRows)
		}
	}
	return one(f)
}

// --- homeserver.yaml settings ---------------------------------------------

func checkCaches(_ context.Context, e *env) []Finding {
	const name = "cache settings"
	hs, err := e.settings()
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	factor, fs := hs.number("caches.global_factor", 0.5)
	ecs := hs.setting("event_cache_size", defaultEventCache)
	ttl := hs.setting("caches.cache_entry_ttl", defaultCacheTTL)
	expire, _ := hs.boolean("caches.expire_caches", true)
	autotune := "cache_autotuning off"
	if v, ok := hs.Get("caches.cache_autotuning.max_cache_memory_usage"); ok {
		autotune = fmt.Sprintf("cache_autotuning max_cache_memory_usage %v", v)
	}
	parts := []string{fs.String(), ecs.String(), autotune}
	if expire {
		parts = append(parts, ttl.String())
	} else {
		parts = append(parts, "caches.expire_caches false (entries never expire)")
	}
	if per := hs.Keys("caches.per_cache_factors"); len(per) > 0 {
		parts = append(parts, "per_cache_factors for "+list(per, 4))
	}
	f := Finding{Check: name, Status: health.OK, Evidence: strings.Join(parts, ", ")}
	size, _ := config.SizeValue(ecs.value)
	var warn []string
	if autotune == "cache_autotuning off" {
		if factor >= bigCacheFactor {
			warn = append(warn, fmt.Sprintf("caches.global_factor %g makes every cache %g times its default size", factor, factor/0.5))
		}
		if size >= bigEventCache {
			warn = append(warn, "event_cache_size holds many events in memory")
		}
		if !expire {
			warn = append(warn, "entries that never expire keep memory until the cache is full")
		}
	}
	if len(warn) > 0 {
		f.Status = health.Warn
		f.Hint = strings.Join(warn, "; ") + ": set caches.cache_autotuning.max_cache_memory_usage to cap cache memory, or lower the sizes"
	} else {
		f.Hint = "caches are most of Synapse's memory: caches.cache_autotuning.max_cache_memory_usage caps them; SYNAPSE_CACHE_FACTOR in Synapse's environment overrides global_factor"
	}
	return one(f)
}

func checkPresence(_ context.Context, e *env) []Finding {
	const name = "presence"
	hs, err := e.settings()
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	on, s := hs.boolean("presence.enabled", true)
	if _, ok := hs.Get("presence.enabled"); !ok {
		if v, ok := hs.Get("use_presence"); ok {
			s = setting{key: "use_presence", value: v, written: true}
			on, _ = hs.boolean("use_presence", true)
		}
	}
	f := Finding{Check: name, Status: health.OK, Evidence: s.String()}
	if on {
		f.Hint = "presence (online status) costs CPU and memory on busy servers: set presence.enabled: false if the application does not show it"
	}
	return one(f)
}

func checkWorkers(_ context.Context, e *env) []Finding {
	const name = "workers"
	hs, err := e.settings()
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	var workers []string
	for _, k := range hs.Keys("instance_map") {
		if k != "main" && k != "master" {
			workers = append(workers, k)
		}
	}
	redis, _ := hs.boolean("redis.enabled", false)
	f := Finding{Check: name, Status: health.OK}
	if app, ok := hs.Get("worker_app"); ok {
		f.Evidence = fmt.Sprintf("%s is a worker's config (worker_app %v), not the main process's", hs.Path(), app)
	}
	switch {
	case len(workers) == 0:
		f.Evidence = strings.TrimPrefix(f.Evidence+"; no workers in instance_map: everything runs in the main process, which uses one CPU core at most", "; ")
		f.Hint = "workers spread CPU over cores (sync, federation, media); each is a process with its own caches, so they do not lower total memory"
	default:
		f.Evidence = strings.TrimPrefix(fmt.Sprintf("%s; %d workers in instance_map (%s), redis.enabled %v", f.Evidence, len(workers), list(workers, 5), redis), "; ")
		if !redis {
			f.Status = health.Warn
			f.Hint = "workers replicate through Redis: set redis.enabled: true"
		}
	}
	return one(f)
}

func checkDBPool(ctx context.Context, e *env) []Finding {
	const name = "database connection pool"
	hs, err := e.settings()
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	cpMin := hs.setting("database.args.cp_min", defaultCPMin)
	cpMax := hs.setting("database.args.cp_max", defaultCPMax)
	f := Finding{Check: name, Status: health.OK, Evidence: cpMin.String() + ", " + cpMax.String()}
	f.Hint = "a larger pool does not reduce memory (seed 004 suggests it); raise cp_max only when requests wait for connections"
	if len(e.d.MetricsURLs) == 0 {
		f.Evidence += "; no metrics endpoint to measure waits for a connection"
		return one(f)
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	sum, count, err := e.histogramTotal(ctx, "synapse_storage_schedule_time", nil)
	if err != nil {
		f.Evidence += "; " + err.Error()
		return one(f)
	}
	if count == 0 {
		f.Evidence += "; no database transactions measured yet"
		return one(f)
	}
	avg := sum / count
	f.Evidence += fmt.Sprintf("; transactions waited %s on average for a connection (%.0f transactions since start)", ms(time.Duration(avg*float64(time.Second))), count)
	if avg >= dbWaitSlow {
		f.Status = health.Warn
		f.Hint = "requests queue for database connections: raise database.args.cp_max (and PostgreSQL's max_connections to match)"
	}
	return one(f)
}

func checkServerRestrictions(ctx context.Context, e *env) []Finding {
	const name = "server-wide restrictions"
	hs, err := e.settings()
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	f := Finding{Check: name, Status: health.OK}
	var facts, hints []string
	if disabled, _ := hs.boolean("hs_disabled", false); disabled {
		f.Status = health.Crit
		facts = append(facts, "hs_disabled is true: Synapse refuses every action by non-admins")
		hints = append(hints, "remove hs_disabled and restart Synapse")
	}
	if mau, _ := hs.boolean("limit_usage_by_mau", false); mau {
		maxMAU, _ := hs.number("max_mau_value", 0)
		s := fmt.Sprintf("limit_usage_by_mau on with max_mau_value %g", maxMAU)
		if pool, err := e.db(ctx); err == nil {
			qctx, cancel := e.limit(ctx)
			var n int
			if pool.QueryRow(qctx, `SELECT count(*) FROM monthly_active_users`).Scan(&n) == nil {
				s += fmt.Sprintf(", %d monthly active users now", n)
				if float64(n) >= maxMAU {
					f.Status = health.Crit
					hints = append(hints, "the monthly-active-user limit is reached: users get M_RESOURCE_LIMIT_EXCEEDED; raise max_mau_value")
				}
			}
			cancel()
		}
		facts = append(facts, s)
	} else {
		facts = append(facts, "limit_usage_by_mau off")
	}
	if on, _ := hs.boolean("limit_remote_rooms.enabled", false); on {
		c, _ := hs.number("limit_remote_rooms.complexity", 1.0)
		f.Status = max(f.Status, health.Warn)
		facts = append(facts, fmt.Sprintf("limit_remote_rooms on (complexity %g)", c))
		hints = append(hints, "joins to remote rooms above that complexity are refused")
	}
	if on, _ := hs.boolean("block_non_admin_invites", false); on {
		f.Status = max(f.Status, health.Warn)
		facts = append(facts, "block_non_admin_invites on")
		hints = append(hints, "only admins can invite, so invite-only rooms cannot take new members from other users' invites")
	}
	if len(facts) == 1 && f.Status == health.OK {
		facts = append(facts, "hs_disabled off, limit_remote_rooms off, block_non_admin_invites off")
	}
	f.Evidence = strings.Join(facts, "; ")
	f.Hint = strings.Join(hints, "; ")
	return one(f)
}

func checkJoinRateLimits(_ context.Context, e *env) []Finding {
	const name = "join rate limits"
	hs, err := e.settings()
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	rls := []rateLimit{
		hs.rateLimit("rc_joins.local", 0.1, 10),
		hs.rateLimit("rc_joins.remote", 0.01, 10),
		hs.rateLimit("rc_joins_per_room", 1, 10),
	}
	parts := make([]string, len(rls))
	f := Finding{Check: name, Status: health.OK}
	var hints []string
	for i, r := range rls {
		parts[i] = r.String()
		switch {
		case r.perSecond <= 0 || r.burst < 1:
			f.Status = health.Warn
			hints = append(hints, r.key+" never refills (per_second 0 does not disable a limiter): joins fail with M_LIMIT_EXCEEDED once the burst is spent")
		case r.written && (r.perSecond < r.defPerSec || r.burst < r.defBur):
			f.Status = health.Warn
			hints = append(hints, r.key+" is stricter than Synapse's default")
		}
	}
	f.Evidence = strings.Join(parts, ", ")
	if len(hints) == 0 {
		hints = append(hints, "a user over these limits gets M_LIMIT_EXCEEDED (look for it in the log); bulk joins by a bot need higher limits or a ratelimit override")
	}
	f.Hint = strings.Join(hints, "; ")
	return one(f)
}

func checkRegistration(_ context.Context, e *env) []Finding {
	const name = "account registration"
	hs, err := e.settings()
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	_, reg := hs.boolean("enable_registration", false)
	_, tok := hs.boolean("registration_requires_token", false)
	_, nov := hs.boolean("enable_registration_without_verification", false)
	return one(Finding{Check: name, Status: health.OK,
		Evidence: fmt.Sprintf("%s, %s, %s (in %s)", reg, tok, nov, hs.Path()),
		Hint: "this governs creating accounts, not joining rooms: users who cannot sign up need it (or an admin or the application creates their accounts); " +
			"users who have accounts but cannot join are refused by the room or the limits above"})
}

// --- Sync and logs ----------------------------------------------------------

func checkSyncTimes(ctx context.Context, e *env) []Finding {
	const name = "sync response times"
	if len(e.d.MetricsURLs) == 0 {
		return one(unknown(name, "no metrics endpoint (enable_metrics and a metrics listener in homeserver.yaml)", ""))
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	sum, count, err := e.histogramTotal(ctx, "synapse_http_server_response_time_seconds", metrics.IsMeasuredSync)
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	if count == 0 {
		return one(unknown(name, "no initial or full-state sync since Synapse started: nothing to measure", ""))
	}
	avg := sum / count
	f := Finding{Check: name, Status: health.OK, Evidence: fmt.Sprintf("%.0f initial or full-state syncs since start took %.2f s on average", count, avg)}
	if avg > syncSlow {
		f.Status = health.Warn
		f.Hint = "initial syncs are slow: large rooms, many forward extremities or a slow database; clients time out and retry"
	}
	return one(f)
}

func checkLogErrors(ctx context.Context, e *env) []Finding {
	const name = "errors in Synapse's log"
	src, err := logs.SourceFor(&config.Resolved{LogFile: e.d.LogFile, Services: e.d.Services})
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	ctx, cancel := e.limit(ctx)
	defer cancel()
	fl, err := logs.Follow(ctx, src, logScanLines)
	if err != nil {
		return one(unknown(name, err.Error(), ""))
	}
	defer fl.Close()
	var lines []logs.Line
	var end error
	for {
		nctx, ncancel := context.WithTimeout(ctx, logScanIdle)
		got, err := fl.Next(nctx, 0)
		ncancel()
		lines = append(lines, got...)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, io.EOF) {
				end = err
			}
			break
		}
	}
	if len(lines) > logScanLines {
		lines = lines[len(lines)-logScanLines:]
	}
	errs, leveled, last := 0, 0, ""
	for _, l := range lines {
		if l.Level != "" {
			leveled++
		}
		if l.Level == "ERROR" || l.Level == "CRITICAL" {
			errs++
			last = l.Text
		}
	}
	if leveled == 0 && end != nil {
		return one(unknown(name, "reading "+src.String()+": "+end.Error(), ""))
	}
	f := Finding{Check: name, Status: health.OK}
	where := fmt.Sprintf("the last %d lines of %s", len(lines), src.String())
	if errs == 0 {
		f.Evidence = "no ERROR or CRITICAL line in " + where
		return one(f)
	}
	f.Status = health.Warn
	f.Evidence = fmt.Sprintf("%d ERROR or CRITICAL lines in %s; the latest: %s", errs, where, text.Truncate(last, 300))
	f.Hint = "follow the log (synops logs) while reproducing the failing sync to see the error it causes"
	return one(f)
}

// --- helpers ----------------------------------------------------------------

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func list(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// memTotal is this machine's memory from /proc/meminfo; 0 when unknown.
func memTotal() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// isLoopback says whether a URL points at this machine, where /proc/meminfo
// describes the memory the process competes for.
func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// histogramTotal sums a histogram family over every metrics endpoint.
func (e *env) histogramTotal(ctx context.Context, name string, keep func(metrics.Labels) bool) (sum, count float64, err error) {
	for _, u := range e.d.MetricsURLs {
		s, err := metrics.Fetch(ctx, e.d.HTTPClient, u)
		if err != nil {
			return 0, 0, fmt.Errorf("metrics: %w", err)
		}
		h := s.Histogram(name, keep)
		sum, count = sum+h.Sum, count+h.Count
	}
	return sum, count, nil
}
