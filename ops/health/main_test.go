package health

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"synops/ops/metrics"
	"synops/ops/testbed"
	"synops/synapse"
)

var (
	bed    *testbed.Bed
	update = flag.Bool("update", false, "recapture testdata/scrape-*.txt from the real Synapse (then redo the sums in TestRatesFromCapturedScrapes)")
)

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{}, func(b *testbed.Bed) { bed = b })
}

// bedConfig points a Checker at everything the bed runs.
func bedConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		Synapse: bed.Synapse.Client(synapse.WithRetries(0)),
		// The bed has no workers. Listing the main process's endpoint twice
		// exercises the worker plumbing (a second URL scraped on its own,
		// with its own previous scrape and "Worker host:port" results)
		// against real metrics.
		MetricsURLs: []string{bed.Synapse.MetricsURL, bed.Synapse.MetricsURL},
		SynapseDB:   synapse.NewSecret(bed.SynapseDB),
		AppDB:       synapse.NewSecret(bed.AppDB),
		// No LiveKit in the bed. The check wants any 2xx from an HTTP
		// server; Synapse's /health is a real one.
		LiveKitURL: bed.Synapse.BaseURL + "/health",
		Disks: []Disk{
			{Label: "media store", Path: bed.Synapse.MediaStore},
			{Label: "backups", Path: t.TempDir()},
		},
	}
}

// clientSync makes one real /sync request as the admin and returns next_batch.
func clientSync(t *testing.T, query url.Values) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bed.Synapse.BaseURL+"/_matrix/client/v3/sync?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bed.Synapse.AdminToken.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		NextBatch string `json:"next_batch"`
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("sync: HTTP %d: %s", resp.StatusCode, data)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return body.NextBatch
}

// rawMetrics fetches the bed's metrics page as it comes.
func rawMetrics(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(bed.Synapse.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parseRaw(t *testing.T, data []byte, at time.Time) *scrape {
	t.Helper()
	s, err := metrics.Parse(bytes.NewReader(data), at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func isSync(l labels) bool { return l["servlet"] == metrics.SyncServlet }

// waitForSyncs waits until the metrics count at least n /sync responses:
// Synapse records a request's time as it finishes, which can be a moment
// after the client has read the answer.
func waitForSyncs(t *testing.T, n float64) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		raw := rawMetrics(t)
		got := parseRaw(t, raw, time.Now()).Histogram(mResponseTime, isSync).Count
		if got >= n {
			return raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics count %v /sync responses after 10s, want %v", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func syncCount(t *testing.T) float64 {
	t.Helper()
	return parseRaw(t, rawMetrics(t), time.Now()).Histogram(mResponseTime, isSync).Count
}

func byID(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func show(r Result) string {
	return fmt.Sprintf("%s %s value=%q detail=%q num=%v(%v)", r.ID, r.Status, r.Value, r.Detail, r.Num, r.HasNum)
}
