package health

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"synops/ops/metrics"
	"synops/synapse"
)

// liveKitCheck asks LiveKit's HTTP port for any 2xx (its root answers "OK").
func (c *Checker) liveKitCheck() check {
	stub := Result{ID: "livekit.health", Group: "LiveKit", Name: "HTTP"}
	u := c.cfg.LiveKitURL
	return single(stub, Crit, func(ctx context.Context) Result {
		r := stub
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			r.Status, r.Detail = Crit, fmt.Sprintf("LiveKit URL %s does not parse", metrics.ShownURL(u))
			return r
		}
		start := time.Now()
		resp, err := c.hc.Do(req)
		r.Took = time.Since(start)
		if err != nil {
			r.Status, r.Detail = Crit, fmt.Sprintf("cannot reach LiveKit at %s: %s", metrics.ShownURL(u), synapse.UnreachableReason(err))
			r.Hint = "is LiveKit running, and is its HTTP port (7880 by default) reachable from here?"
			return r
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			r.Status, r.Detail = Crit, fmt.Sprintf("LiveKit at %s answered HTTP %d", metrics.ShownURL(u), resp.StatusCode)
			return r
		}
		r.Status = OK
		r.setNum(r.Took.Seconds(), "s")
		r.Value = fmt.Sprintf("HTTP %d · %s", resp.StatusCode, dur(r.Took))
		return r
	})
}
