package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/metrics"
	"synops/ops/pgtest"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// The IDs the bed must produce, every one with a value.
var bedIDs = []string{
	"synapse.health", "synapse.versions", "synapse.server_version", "synapse.token", "synapse.admin",
	"metrics.scrape", "metrics.sync_p95", "metrics.db_txn_avg", "metrics.db_sched_wait",
	"metrics.fed_pending_pdus", "metrics.fed_pending_edus", "metrics.rss", "metrics.events_persisted_rate",
	"postgres.synapse", "postgres.app", "postgres.connections", "postgres.db_size", "postgres.longest_txn",
	"postgres.waiting_locks", "disk.media_store", "disk.backups", "livekit.health",
}

func TestRunAllAgainstTheBed(t *testing.T) {
	ctx := context.Background()
	c := NewChecker(bedConfig(t))
	t.Cleanup(c.Close)

	// The first run is the baseline for the rates. Then real initial syncs
	// (distinct timeouts keep them out of Synapse's sync response cache) and
	// a room with a message, then the second run.
	for _, r := range c.Run(ctx, Cheap) {
		if strings.HasSuffix(r.ID, ".scrape") && r.Status != OK {
			t.Fatalf("baseline scrape: %s", show(r))
		}
	}
	base := syncCount(t)
	for i := range 3 {
		clientSync(t, url.Values{"timeout": {strconv.Itoa(100 + i)}})
	}
	if _, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "health check", Messages: 1}); err != nil {
		t.Fatal(err)
	}
	waitForSyncs(t, base+3)
	rs := c.RunAll(ctx)

	got := byID(rs)
	for _, id := range bedIDs {
		r, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no result %s", id)
		case r.Status != OK:
			t.Errorf("%s: got %s, want ok", id, show(r))
		case r.Value == "":
			t.Errorf("%s: no value", id)
		}
	}
	for _, id := range []string{"metrics.rss", "metrics.fed_pending_pdus", "postgres.connections", "postgres.db_size", "disk.media_store", "synapse.health"} {
		if !got[id].HasNum {
			t.Errorf("%s has no number for the sparkline: %s", id, show(got[id]))
		}
	}
	p95 := got["metrics.sync_p95"]
	if !p95.HasNum || p95.Num <= 0 || p95.Num > 10 || p95.Unit != "s" || !strings.Contains(p95.Value, "over 3 requests") {
		t.Errorf("sync p95 from 3 initial syncs: got %s, want a plausible time in seconds", show(p95))
	}
	if r := got["metrics.events_persisted_rate"]; !r.HasNum || r.Num <= 0 {
		t.Errorf("events persisted after creating a room: got %s", show(r))
	}

	// The second URL is scraped and reported on its own.
	w := "worker." + strings.TrimPrefix(strings.SplitN(bed.Synapse.MetricsURL, "/_synapse", 2)[0], "http://")
	for _, k := range []string{"scrape", "sync_p95", "rss"} {
		r, ok := got[w+"."+k]
		if !ok || r.Value == "" || !strings.HasPrefix(r.Group, "Worker 127.0.0.1:") {
			t.Errorf("worker result %s.%s: %s (present %v)", w, k, show(r), ok)
		}
	}
	if r := got[w+".rss"]; r.Status != OK || !r.HasNum {
		t.Errorf("worker rss: %s", show(r))
	}

	// Fixed order: the tiers' groups in sequence.
	var groups []string
	for _, r := range rs {
		if len(groups) == 0 || groups[len(groups)-1] != r.Group {
			groups = append(groups, r.Group)
		}
	}
	want := []string{"Synapse", "Metrics", "Worker " + strings.TrimPrefix(w, "worker."), "PostgreSQL", "Disk", "LiveKit"}
	if strings.Join(groups, "|") != strings.Join(want, "|") {
		t.Errorf("groups in order %q, want %q", groups, want)
	}
}

func TestMissingDiskAndNoMetrics(t *testing.T) {
	cfg := bedConfig(t)
	cfg.MetricsURLs = nil
	cfg.Disks = []Disk{{Label: "backups", Path: "/nonexistent/synops-backups"}}
	c := NewChecker(cfg)
	t.Cleanup(c.Close)
	got := byID(c.RunAll(context.Background()))
	if r := got["disk.backups"]; r.Status != Warn || !strings.Contains(r.Detail, "/nonexistent/synops-backups does not exist") {
		t.Errorf("missing disk path: got %s", show(r))
	}
	if r := got["metrics.scrape"]; r.Status != Unknown || !strings.Contains(r.Detail, "no metrics URL") || r.Hint == "" {
		t.Errorf("no metrics URL: got %s", show(r))
	}
	if r := got["metrics.sync_p95"]; r.Status != Unknown {
		t.Errorf("no metrics URL: got %s", show(r))
	}
}

// silentServer accepts connections and never answers, like a wedged process.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestRunDoesNotWaitForASilentServer(t *testing.T) {
	addr := silentServer(t)
	cl, err := synapse.New("http://"+addr, synapse.NewSecret("syt_silent_token_0000"), synapse.WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	limit := 500 * time.Millisecond
	c := NewChecker(Config{
		Synapse:     cl,
		MetricsURLs: []string{"http://" + addr + "/_synapse/metrics", "http://" + addr + "/_synapse/metrics"},
		SynapseDB:   synapse.NewSecret("postgres://synapse@" + addr + "/synapse?sslmode=disable"),
		AppDB:       synapse.NewSecret("postgres://app@" + addr + "/app?sslmode=disable"),
		LiveKitURL:  "http://" + addr + "/",
		Timeout:     limit,
	})
	t.Cleanup(c.Close)
	for _, tier := range []Tier{Cheap, Expensive} {
		start := time.Now()
		rs := c.Run(context.Background(), tier)
		// Generous bound: the point is that Run does not wait for the
		// server (which would be forever), not how fast it is.
		if took := time.Since(start); took > limit+2*time.Second {
			t.Errorf("%s tier took %s with a %s limit", tier, took, limit)
		}
		got := byID(rs)
		want := map[string]Status{"synapse.health": Crit, "synapse.versions": Crit, "synapse.server_version": Crit,
			"metrics.scrape": Warn, "worker." + addr + ".scrape": Crit, "postgres.synapse": Crit, "postgres.app": Crit}
		if tier == Expensive {
			// The statistics say why they were not read; the cheap tier
			// carries the database being down.
			want = map[string]Status{"postgres.connections": Unknown, "postgres.db_size": Unknown, "livekit.health": Crit}
		}
		for id, s := range want {
			if r := got[id]; r.Status != s || r.Detail == "" {
				t.Errorf("%s: got %s, want %s with a reason", id, show(r), s)
			}
		}
	}
}

func TestRunReportsAChecksOverrun(t *testing.T) {
	c := NewChecker(Config{Timeout: 200 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stuck := check{
		stubs: []Result{{ID: "disk.nfs", Group: "Disk", Name: "nfs"}},
		late:  Crit,
		run: func(context.Context) []Result { // ignores its context, like statfs on a hung mount
			<-release
			return nil
		},
	}
	quick := static(Result{ID: "x.quick", Group: "X", Name: "quick", Status: OK, Value: "fine"})
	start := time.Now()
	rs := c.run(context.Background(), []check{stuck, quick})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("run waited %s for a stuck check", took)
	}
	if len(rs) != 2 || rs[0].ID != "disk.nfs" || rs[0].Status != Crit || rs[0].Detail != "no answer within 200ms" ||
		rs[1].ID != "x.quick" || rs[1].Status != OK {
		t.Errorf("got %v", rs)
	}
}

// TestSynapseStopped stops the bed's Synapse; it is restarted afterwards.
func TestSynapseStopped(t *testing.T) {
	c := NewChecker(bedConfig(t))
	t.Cleanup(c.Close)
	bed.Synapse.Stop()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := bed.Synapse.Restart(ctx); err != nil {
			t.Errorf("restart Synapse: %v", err)
		}
	})
	rs := c.Run(context.Background(), Cheap)
	got := byID(rs)
	for _, id := range []string{"synapse.health", "synapse.versions", "synapse.server_version"} {
		if r := got[id]; r.Status != Crit || !strings.Contains(r.Detail, "cannot reach Synapse at "+bed.Synapse.BaseURL) || r.Hint == "" {
			t.Errorf("%s with Synapse stopped: got %s", id, show(r))
		}
	}
	if r := got["synapse.token"]; r.Status != Unknown || !strings.Contains(r.Detail, "not checked") {
		t.Errorf("token with Synapse stopped: got %s", show(r))
	}
	if r := got["metrics.scrape"]; r.Status != Warn || !strings.Contains(r.Detail, "cannot scrape") {
		t.Errorf("metrics with Synapse stopped: got %s", show(r))
	}
	if Worst(rs) != Crit {
		t.Errorf("worst %s, want critical", Worst(rs))
	}
}

// TestPoolReconnects kills the Checker's PostgreSQL sessions from outside, as
// a database restart would; the next run reconnects and reports well.
func TestPoolReconnects(t *testing.T) {
	ctx := context.Background()
	c := NewChecker(bedConfig(t))
	t.Cleanup(c.Close)
	if r := byID(c.Run(ctx, Cheap))["postgres.synapse"]; r.Status != OK {
		t.Fatalf("first run: %s", show(r))
	}
	pool, err := c.synapseDB.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pids []uint32
	for _, conn := range pool.AcquireAllIdle(ctx) {
		pids = append(pids, conn.Conn().PgConn().PID())
		conn.Release()
	}
	admin, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, pids); err != nil {
		t.Fatal(err)
	}
	// The next runs meet dead connections and must reconnect.
	for _, tier := range []Tier{Cheap, Expensive} {
		for _, r := range c.Run(ctx, tier) {
			if strings.HasPrefix(r.ID, "postgres.") && r.Status != OK {
				t.Errorf("%s tier after the sessions were killed: %s", tier, show(r))
			}
		}
	}
}

// failingFront answers the first `fail` requests with HTTP 500, as Synapse's
// metrics listener does when a collection races a hook being registered
// (element-hq/synapse#19961), and passes the rest to the real endpoint.
func failingFront(t *testing.T, target string, fail int) (u string, requests func() int) {
	t.Helper()
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: tu.Scheme, Host: tu.Host})
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k <= fail {
			http.Error(w, "A server error occurred.  Please contact the administrator.", http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + tu.Path, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func TestScrapeRetriesAServerError(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		fail     int
		status   Status
		requests int
	}{
		{fail: 1, status: OK, requests: 2},
		{fail: 100, status: Warn, requests: metrics.Attempts},
	} {
		u, requests := failingFront(t, bed.Synapse.MetricsURL, tt.fail)
		cfg := bedConfig(t)
		cfg.MetricsURLs = []string{u}
		c := NewChecker(cfg)
		r := byID(c.Run(ctx, Cheap))["metrics.scrape"]
		c.Close()
		if r.Status != tt.status || requests() != tt.requests {
			t.Errorf("%d failures: got %s after %d requests, want %s after %d", tt.fail, show(r), requests(), tt.status, tt.requests)
		}
		if tt.status == Warn && !strings.Contains(r.Detail, "HTTP 500") {
			t.Errorf("a scrape that keeps failing: %s, want HTTP 500 named", show(r))
		}
	}
}

// A database that stops reads red on the next cheap run, and green again on
// the first cheap run after it is back: the dashboard's PostgreSQL line and
// status-bar dot follow the 2 s refresh, not the 15 s statistics.
func TestDatabaseReachabilityIsCheap(t *testing.T) {
	ctx := context.Background()
	cl, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	c := NewChecker(Config{SynapseDB: synapse.NewSecret(cl.DSN("postgres")), Timeout: 3 * time.Second})
	t.Cleanup(c.Close)
	state := func() Result { return byID(c.Run(ctx, Cheap))["postgres.synapse"] }
	if r := state(); r.Status != OK {
		t.Fatalf("up: %s", show(r))
	}
	if err := cl.Down(); err != nil {
		t.Fatal(err)
	}
	if r := state(); r.Status != Crit || r.Detail == "" {
		t.Errorf("the first cheap run after the stop: %s, want critical", show(r))
	}
	if err := cl.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if r := state(); r.Status != OK {
		t.Errorf("the first cheap run after the restart: %s, want ok", show(r))
	}
	if _, ok := byID(c.Run(ctx, Expensive))["postgres.synapse"]; ok {
		t.Error("the statistics tier reports reachability too: the line would flap between two schedules")
	}
}
