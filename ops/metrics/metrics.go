// Package metrics reads Prometheus text metrics, as Synapse's metrics
// listener serves them, for the health checks and the diagnoses.
package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"synops/synapse"
)

// Scrape is one reading of a metrics endpoint.
type Scrape struct {
	At       time.Time
	Families map[string]*dto.MetricFamily
	Served   int // families the endpoint served (more than Families when only some were parsed)
}

// Parse reads the Prometheus text format (version 0.0.4), which is what
// Synapse's prometheus_client serves unless asked for OpenMetrics.
func Parse(r io.Reader, at time.Time) (*Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return &Scrape{At: at, Families: fams, Served: len(fams)}, nil
}

// Attempts is how often Fetch tries an endpoint that answers HTTP 5xx.
// Synapse's metrics listener collects in its own thread while the reactor
// registers metric hooks, so a young Synapse now and then answers a scrape
// with 500 ("dictionary changed size during iteration",
// element-hq/synapse#19961) and the next scrape succeeds. Only an endpoint
// that keeps failing is an error.
const Attempts = 3

// maxBody bounds what is read of one scrape (Synapse's are a few MB).
const maxBody = 64 << 20

// Fetch scrapes u; with families given, only those are parsed (a family
// name covers its _bucket, _sum, _count, _total and _created series; see
// Select for "family|text"). Errors name the URL without its password.
func Fetch(ctx context.Context, hc *http.Client, u string, families ...string) (*Scrape, error) {
	var err error
	for attempt := 1; attempt <= Attempts; attempt++ {
		var s *Scrape
		var status int
		s, status, err = fetchOnce(ctx, hc, u, families)
		if err == nil || status < 500 {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
	return nil, err
}

// fetchOnce reads u once; status is the HTTP status when one came back.
func fetchOnce(ctx context.Context, hc *http.Client, u string, families []string) (*Scrape, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("metrics URL %s does not parse", ShownURL(u))
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("User-Agent", "synops")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: HTTP %d", ShownURL(u), resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "text/plain") {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: answered %q, not Prometheus text metrics", ShownURL(u), ct)
	}
	body := io.Reader(io.LimitReader(resp.Body, maxBody))
	if len(families) > 0 {
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, resp.StatusCode, fmt.Errorf("GET %s: %w", ShownURL(u), err)
		}
		kept, served := Select(data, families)
		s, err := Parse(bytes.NewReader(kept), time.Now())
		if s != nil {
			s.Served = served
		}
		return s, resp.StatusCode, err
	}
	s, err := Parse(body, time.Now())
	return s, resp.StatusCode, err
}

// Select keeps the lines of the exposition text that belong to families
// (their # HELP and # TYPE lines and their samples). Synapse serves a few
// thousand series and a health refresh needs a dozen: picking lines by name
// is a byte scan, where the full parse tokenised every series every two
// seconds and was most of an idle console's CPU. served counts the families
// in text that have samples, as Parse would.
func Select(text []byte, families []string) (kept []byte, served int) {
	out := make([]byte, 0, 16<<10)
	counted := false
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i+1], text[i+1:]
		} else {
			text = nil
		}
		name := line
		switch {
		case bytes.HasPrefix(name, []byte("# TYPE ")):
			counted = false
			fallthrough
		case bytes.HasPrefix(name, []byte("# HELP ")):
			name = name[7:]
		case len(name) > 0 && name[0] == '#':
			continue
		case !counted && len(bytes.TrimSpace(name)) > 0:
			served++ // a family with samples, as the parser counts them
			counted = true
		}
		if i := bytes.IndexAny(name, "{ \n"); i >= 0 {
			name = name[:i]
		}
		if wanted(string(name), line, families) {
			out = append(out, line...)
			if line[len(line)-1] != '\n' {
				out = append(out, '\n')
			}
		}
	}
	return out, served
}

// wanted says whether a line of family name belongs to the selection. An
// entry "family|text" keeps only the family's samples whose line holds text
// (a label such as servlet="SyncRestServlet"): the response-time histogram has
// a series for every servlet, method and status.
func wanted(name string, line []byte, families []string) bool {
	for _, f := range families {
		f, must, _ := strings.Cut(f, "|")
		if rest, ok := strings.CutPrefix(name, f); ok {
			switch rest {
			case "", "_bucket", "_sum", "_count", "_total", "_created":
				return must == "" || line[0] == '#' || bytes.Contains(line, []byte(must))
			}
		}
	}
	return false
}

// ShownURL is a URL as it may appear in a message: without its user info,
// even when it does not parse (synapse.RedactURL).
func ShownURL(s string) string { return synapse.RedactURL(s) }

// SyncServlet is the servlet label of /sync (v2) requests.
const SyncServlet = "SyncRestServlet"

// IsMeasuredSync keeps the series of synapse_http_server_response_time_seconds
// whose time means something for /sync: initial and full-state syncs.
// Incremental syncs are long-polls that wait up to the client's timeout.
// Requests with an empty tag are left out too: Synapse sets the tag only in
// the request that computes a sync, so one served from its sync response
// cache, or joined onto an identical request in flight (a long-poll among
// them), is tagged "". Sliding sync (SlidingSyncRestServlet) is never tagged
// and waits for news the same way. The tags are "sync_v2:initial_sync" and
// "sync_v2:full_state_sync" since Synapse 1.108, without the prefix before.
func IsMeasuredSync(l Labels) bool {
	if l["servlet"] != SyncServlet {
		return false
	}
	t := l["tag"]
	return strings.HasSuffix(t, "initial_sync") || strings.HasSuffix(t, "full_state_sync")
}

// Labels of one series, for filters.
type Labels map[string]string

func labelsOf(m *dto.Metric) Labels {
	l := Labels{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// Sum adds up every series of a counter, gauge or untyped family that keep
// accepts (nil: all). ok is false when the family is absent.
func (s *Scrape) Sum(name string, keep func(Labels) bool) (v float64, ok bool) {
	f := s.Families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if keep != nil && !keep(labelsOf(m)) {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, true
}

// Hist is a histogram summed over label sets: cumulative counts by upper bound.
type Hist struct {
	Le    []float64 // sorted, +Inf last
	Cum   map[float64]float64
	Count float64
	Sum   float64
}

// Histogram sums the series of a histogram family that keep accepts (nil:
// all). An absent family is an empty histogram.
func (s *Scrape) Histogram(name string, keep func(Labels) bool) Hist {
	h := Hist{Cum: map[float64]float64{}}
	f := s.Families[name]
	if f == nil {
		return h
	}
	for _, m := range f.GetMetric() {
		if m.Histogram == nil || (keep != nil && !keep(labelsOf(m))) {
			continue
		}
		hm := m.GetHistogram()
		n := float64(hm.GetSampleCount())
		if hm.SampleCountFloat != nil {
			n = hm.GetSampleCountFloat()
		}
		h.Count += n
		h.Sum += hm.GetSampleSum()
		sawInf := false
		for _, b := range hm.GetBucket() {
			c := float64(b.GetCumulativeCount())
			if b.CumulativeCountFloat != nil {
				c = b.GetCumulativeCountFloat()
			}
			h.Cum[b.GetUpperBound()] += c
			sawInf = sawInf || math.IsInf(b.GetUpperBound(), 1)
		}
		if !sawInf { // the +Inf bucket is the sample count
			h.Cum[math.Inf(1)] += n
		}
	}
	for le := range h.Cum {
		h.Le = append(h.Le, le)
	}
	sort.Float64s(h.Le)
	return h
}

// Minus is h − prev: what was observed between the two scrapes. A series
// that is new in h counts from zero. ok is false when anything went
// backwards (a counter reset).
func (h Hist) Minus(prev Hist) (d Hist, ok bool) {
	d = Hist{Cum: map[float64]float64{}, Count: h.Count - prev.Count, Sum: h.Sum - prev.Sum, Le: h.Le}
	if d.Count < 0 {
		return d, false
	}
	for _, le := range h.Le {
		v := h.Cum[le] - prev.Cum[le]
		if v < 0 {
			return d, false
		}
		d.Cum[le] = v
	}
	return d, true
}

// Quantile estimates the q-quantile the way PromQL's histogram_quantile does:
// find the bucket holding rank q·count and interpolate linearly inside it (the
// first bucket starts at 0). A rank in the +Inf bucket returns the largest
// finite bound and inf=true: the answer is "more than that".
func (h Hist) Quantile(q float64) (v float64, inf bool, ok bool) {
	n := len(h.Le)
	if n < 2 || !math.IsInf(h.Le[n-1], 1) {
		return 0, false, false
	}
	total := h.Cum[h.Le[n-1]]
	if total == 0 {
		return 0, false, false
	}
	rank := q * total
	b := sort.Search(n-1, func(i int) bool { return h.Cum[h.Le[i]] >= rank })
	if b == n-1 {
		return h.Le[n-2], true, true
	}
	start, end := 0.0, h.Le[b]
	inBucket := h.Cum[h.Le[b]]
	if b > 0 {
		start = h.Le[b-1]
		inBucket -= h.Cum[h.Le[b-1]]
		rank -= h.Cum[h.Le[b-1]]
	}
	if inBucket == 0 {
		return end, false, true
	}
	return start + (end-start)*(rank/inBucket), false, true
}
