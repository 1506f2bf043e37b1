package health

import (
	"context"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"synops/ops/metrics"
	"synops/synapse/synapsetest"
)

const (
	fixture1 = "testdata/scrape-1.txt"
	fixture2 = "testdata/scrape-2.txt"
)

// TestRealSynapseExportsWhatWeRead generates known traffic between two scrapes
// of the real Synapse and checks that every metric the checks read is there,
// with the labels they filter on. With -update it saves the two scrapes as
// the fixtures TestRatesFromCapturedScrapes does its sums on.
func TestRealSynapseExportsWhatWeRead(t *testing.T) {
	ctx := context.Background()
	raw1 := rawMetrics(t)
	base := syncCount(t)

	// 5 initial syncs, 1 full-state sync, and 2 incremental long-polls that
	// wait out their 1 s timeout: were they not excluded, they would be the
	// p95. Each differs in its timeout, which is part of the key of Synapse's
	// sync response cache; the one repeated request is answered from that
	// cache and tagged "". Then a room with messages, for events persisted.
	var next string
	for i := range 5 {
		next = clientSync(t, url.Values{"timeout": {strconv.Itoa(i)}})
	}
	clientSync(t, url.Values{"timeout": {"0"}}) // cached: tag ""
	clientSync(t, url.Values{"timeout": {"0"}, "since": {next}, "full_state": {"true"}})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { clientSync(t, url.Values{"timeout": {strconv.Itoa(1000 + i)}, "since": {next}}) })
	}
	wg.Wait()
	if _, err := bed.Synapse.CreateRoom(ctx, synapsetest.RoomSpec{Name: "health fixture", Messages: 3}); err != nil {
		t.Fatal(err)
	}
	raw2 := waitForSyncs(t, base+9)

	if *update {
		for path, data := range map[string][]byte{fixture1: raw1, fixture2: raw2} {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %s and %s: now redo the sums in TestRatesFromCapturedScrapes", fixture1, fixture2)
	}

	t0 := time.Now()
	prev, cur := parseRaw(t, raw1, t0), parseRaw(t, raw2, t0.Add(10*time.Second))
	for _, name := range []string{mResponseTime, mTxnSum, mTxnCount, mSchedule, mPendingPDUs, mPendingEDUs, mRSS, mPersisted, mProcessStarted} {
		if cur.Families[name] == nil {
			t.Errorf("Synapse %s no longer exports %s", bed.Synapse.Version, name)
		}
	}
	nonIncr, ok := cur.Histogram(mResponseTime, metrics.IsMeasuredSync).Minus(prev.Histogram(mResponseTime, metrics.IsMeasuredSync))
	if !ok || nonIncr.Count != 6 {
		t.Errorf("initial and full-state /sync between the scrapes: got %v (ok %v), want 6", nonIncr.Count, ok)
	}
	for tag, want := range map[string]float64{"sync_v2:incremental_sync": 2, "": 1} {
		keep := func(l labels) bool { return isSync(l) && l["tag"] == tag }
		d, _ := cur.Histogram(mResponseTime, keep).Minus(prev.Histogram(mResponseTime, keep))
		if d.Count != want {
			t.Errorf("/sync tagged %q between the scrapes: got %v, want %v", tag, d.Count, want)
		}
	}
	// A labelled counter has no series before its first increment: absent is zero.
	before, _ := prev.Sum(mPersisted, nil)
	if got, _ := cur.Sum(mPersisted, nil); got <= before {
		t.Errorf("%s did not grow after a room and messages were created", mPersisted)
	}
}

func loadFixture(t *testing.T, path string, at time.Time) *scrape {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (capture it with go test -run TestRealSynapseExportsWhatWeRead -update)", err)
	}
	return parseRaw(t, data, at)
}

// TestRatesFromCapturedScrapes does the maths on two scrapes captured from the
// real Synapse (see TestRealSynapseExportsWhatWeRead), taken 10 s apart for
// the rate. The expected values are worked out by hand from the files.
func TestRatesFromCapturedScrapes(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	prev := loadFixture(t, fixture1, t0)
	cur := loadFixture(t, fixture2, t0.Add(10*time.Second))
	rs := byID(evaluate(proc{idPrefix: "metrics.", group: "Metrics"}, prev, cur, DefaultThresholds()))

	tests := []struct {
		id    string
		num   float64
		unit  string
		value string
	}{
		// synapse_http_server_response_time_seconds, servlet SyncRestServlet,
		// tags sync_v2:initial_sync + sync_v2:full_state_sync (scrape-1 has
		// no /sync series: all zero). Cumulative buckets in scrape-2:
		//   le 0.005: 0+0=0, 0.01: 4+1=5, 0.025: 4+1=5, 0.05: 5+1=6, … +Inf: 6.
		// rank 0.95·6 = 5.7 lies in (0.025, 0.05], which holds 6−5 = 1:
		//   0.025 + 0.025·(5.7−5)/1 = 0.0425 s.
		// (The two incremental long-polls sit in (1, 2.5]; counted, they would
		// make the p95 over a second.)
		{"metrics.sync_p95", 0.0425, "s", "p95 42 ms over 6 requests"},
		// synapse_storage_transaction_time_{sum,count}_total summed over all
		// desc labels: sum 0.5275401689996215 → 0.9447644709978249, count
		// 44 → 298. (0.9447644709978249−0.5275401689996215)/254 = 0.001642615362…
		{"metrics.db_txn_avg", 0.4172243019982034 / 254, "s", "1.6 ms over 254 transactions"},
		// synapse_storage_schedule_time: sum 0.21033648999946308 →
		// 0.3371112669997274, count 43 → 297: 0.12677477700026432/254.
		{"metrics.db_sched_wait", 0.12677477700026432 / 254, "s", "0.50 ms over 254 transactions"},
		{"metrics.fed_pending_pdus", 0, "", "0 PDUs queued"},
		{"metrics.fed_pending_edus", 0, "", "0 EDUs queued"},
		// process_resident_memory_bytes 1.27254528e+08 = 121.36 MiB.
		{"metrics.rss", 127254528, "bytes", "121 MiB"},
		// synapse_storage_events_persisted_events_total: absent in scrape-1
		// (no series before the first event), 10 in scrape-2; 10 in 10 s.
		{"metrics.events_persisted_rate", 1, "/s", "1.00 /s (10 events in 10.0 s)"},
	}
	for _, tt := range tests {
		r, ok := rs[tt.id]
		if !ok {
			t.Errorf("no result %s", tt.id)
			continue
		}
		if r.Status != OK || !r.HasNum || math.Abs(r.Num-tt.num) > 1e-9*math.Max(1, math.Abs(tt.num)) || r.Unit != tt.unit {
			t.Errorf("%s: got %s, want ok num=%v %s", tt.id, show(r), tt.num, tt.unit)
		}
		if r.Value != tt.value {
			t.Errorf("%s: value %q, want %q", tt.id, r.Value, tt.value)
		}
	}
}

// TestThresholdsGradeTheFixture checks that a figure over a threshold turns
// the result into a warning or a critical one that says which.
func TestThresholdsGradeTheFixture(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	prev := loadFixture(t, fixture1, t0)
	cur := loadFixture(t, fixture2, t0.Add(10*time.Second))
	th := DefaultThresholds()
	th.SyncP95Warn, th.SyncP95Crit = time.Millisecond, 0 // warn only
	th.RSSCrit = 1 << 20
	th.FedPendingPDUsWarn = 0
	rs := byID(evaluate(proc{idPrefix: "metrics.", group: "Metrics"}, prev, cur, th))
	if r := rs["metrics.sync_p95"]; r.Status != Warn || !strings.Contains(r.Detail, "over the warning threshold of 1.0 ms") || r.Hint == "" {
		t.Errorf("sync p95 over 1 ms: got %s", show(r))
	}
	if r := rs["metrics.rss"]; r.Status != Crit || !strings.Contains(r.Detail, "over the critical threshold of 1.0 MiB") {
		t.Errorf("rss over 1 MiB: got %s", show(r))
	}
	if r := rs["metrics.fed_pending_pdus"]; r.Status != OK {
		t.Errorf("a zero threshold is off: got %s", show(r))
	}
}

// TestRatesNeedTwoScrapes: the first scrape has nothing to compare with, and a
// restart between two makes every rate meaningless.
func TestRatesNeedTwoScrapes(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cur := loadFixture(t, fixture2, t0.Add(10*time.Second))
	p := proc{idPrefix: "metrics.", group: "Metrics"}
	rates := []string{"metrics.sync_p95", "metrics.db_txn_avg", "metrics.db_sched_wait", "metrics.events_persisted_rate"}

	first := byID(evaluate(p, nil, cur, DefaultThresholds()))
	for _, id := range rates {
		if r := first[id]; r.Status != Unknown || r.HasNum || r.Value != "no previous scrape to compare with" {
			t.Errorf("first scrape: got %s, want unknown with no number", show(r))
		}
	}
	if r := first["metrics.rss"]; r.Status != OK || !r.HasNum {
		t.Errorf("a gauge needs no previous scrape: got %s", show(r))
	}

	same := byID(evaluate(p, cur, cur, DefaultThresholds()))
	if r := same["metrics.sync_p95"]; r.Status != Unknown || r.Value != "no /sync requests in the last interval" {
		t.Errorf("no requests in between: got %s", show(r))
	}

	restarted := loadFixture(t, fixture2, t0.Add(20*time.Second))
	restarted.Families[mProcessStarted].Metric[0].Gauge.Value = new(float64(4e9))
	after := byID(evaluate(p, cur, restarted, DefaultThresholds()))
	for _, id := range rates {
		if r := after[id]; r.Status != Unknown || r.Value != "the process restarted since the previous scrape" {
			t.Errorf("after a restart: got %s", show(r))
		}
	}

	// Backwards without a visible restart (the start time rounds the same):
	// the later scrape as the earlier one.
	back := byID(evaluate(p, cur, loadFixture(t, fixture1, t0.Add(20*time.Second)), DefaultThresholds()))
	if r := back["metrics.db_txn_avg"]; r.Status != Unknown || !strings.Contains(r.Value, "backwards") {
		t.Errorf("counters going backwards: got %s", show(r))
	}
}
