package diagnose

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// sample is one series of a Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape is one read of a metrics endpoint, keeping only the series whose
// names were asked for (a Synapse page is megabytes).
type scrape struct {
	url     string
	samples []sample
}

func (s *scrape) sum(name string, keep func(map[string]string) bool) (float64, bool) {
	total, found := 0.0, false
	for _, x := range s.samples {
		if x.name == name && (keep == nil || keep(x.labels)) {
			total += x.value
			found = true
		}
	}
	return total, found
}

const maxMetricsBody = 64 << 20

func fetchMetrics(ctx context.Context, hc *http.Client, u string, names map[string]bool) (*scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", u, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics %s: HTTP %d", u, resp.StatusCode)
	}
	s, err := parseMetrics(io.LimitReader(resp.Body, maxMetricsBody), names)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", u, err)
	}
	s.url = u
	return s, nil
}

// parseMetrics reads the Prometheus text format: `name{l="v",…} value [ts]`.
func parseMetrics(r io.Reader, names map[string]bool) (*scrape, error) {
	s := &scrape{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end <= 0 {
			continue
		}
		name := line[:end]
		if !names[name] {
			continue
		}
		rest := line[end:]
		var labels map[string]string
		if rest[0] == '{' {
			var ok bool
			labels, rest, ok = parseLabels(rest[1:])
			if !ok {
				continue
			}
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		s.samples = append(s.samples, sample{name: name, labels: labels, value: v})
	}
	return s, sc.Err()
}

// parseLabels reads `a="x",b="y\"z"}` and returns what follows the brace.
func parseLabels(s string) (map[string]string, string, bool) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return nil, "", false
		}
		if s[0] == '}' {
			return labels, s[1:], true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, "", false
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var b strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, "", false
		}
		labels[key] = b.String()
		s = s[i+1:]
	}
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
