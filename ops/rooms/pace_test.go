package rooms

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// server is a model of how Synapse answers a purge: rate(c, w) rooms a
// second with c deletions in flight during window w, each room then taking
// c/rate (Little's law).
type server func(c, w int) float64

// saturating at n: beyond n rooms in flight, a room more only queues.
func saturating(n int, perRoom time.Duration) server {
	return func(c, _ int) float64 { return float64(min(c, n)) / perRoom.Seconds() }
}

// drive runs windows of completions through p against srv and returns the
// limit after each.
func drive(t *testing.T, p *pacer, srv server, windows int) []int {
	t.Helper()
	clock := time.Unix(0, 0)
	p.now = func() time.Time { return clock }
	var limits []int
	for w := range windows {
		c := p.limit
		for range c {
			if err := p.acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		rate := srv(c, w)
		n := max(c, minPaceWindow)
		clock = clock.Add(time.Duration(float64(n) / rate * float64(time.Second)))
		took := time.Duration(float64(c) / rate * float64(time.Second))
		for i := range n {
			p.release(took)
			if i < n-c { // keep c in flight while the window fills
				if err := p.acquire(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
		}
		limits = append(limits, p.limit)
	}
	return limits
}

// Up to where Synapse saturates it climbs, and it never falls back below
// that: a few rooms too many only wait in Synapse's queue.
func TestPacerKeepsSynapseBusy(t *testing.T) {
	limits := drive(t, newPacer(8), saturating(5, 100*time.Millisecond), 40)
	for i, l := range limits[2:] {
		if l < 5 {
			t.Fatalf("window %d: limit %d, below the 5 Synapse works on at once (limits %v)", i+2, l, limits)
		}
	}
}

func TestPacerClimbsToItsMaximum(t *testing.T) {
	p := newPacer(12)
	limits := drive(t, p, saturating(100, 100*time.Millisecond), 30)
	if got := limits[len(limits)-1]; got != 12 {
		t.Errorf("a server that keeps getting faster: limits %v, want the maximum 12 at the end", limits)
	}
	p = newPacer(3)
	for _, l := range drive(t, p, saturating(100, 100*time.Millisecond), 10) {
		if l > 3 {
			t.Fatalf("limit %d above the maximum 3", l)
		}
	}
	if p.limit != 3 || p.report().Peak != 3 {
		t.Errorf("limit %d, peak %d; want both at the maximum 3", p.limit, p.report().Peak)
	}
}

// On a server that gets slower with every room more in flight, it does not
// climb: each step up is undone.
func TestPacerUndoesStepsThatHurt(t *testing.T) {
	fastestAt3 := func(c, _ int) float64 {
		if c <= 3 {
			return float64(c) * 10
		}
		return 30 - 4*float64(c-3)
	}
	limits := drive(t, newPacer(8), fastestAt3, 30)
	for i, l := range limits {
		if l > 5 {
			t.Fatalf("window %d: limit %d on a server that is fastest at 3 (limits %v)", i, l, limits)
		}
	}
}

// When Synapse slows down at the same concurrency (something else loads the
// box), rooms take longer each: it backs off.
func TestPacerBacksOffWhenSynapseSlowsDown(t *testing.T) {
	loaded := func(c, w int) float64 {
		r := float64(min(c, 5)) / 0.1
		if w >= 20 {
			r /= 2
		}
		return r
	}
	limits := drive(t, newPacer(8), loaded, 30)
	if before, after := limits[19], limits[22]; after >= before {
		t.Errorf("limits %v: %d before the slowdown at window 20, %d after; want fewer at once", limits, before, after)
	}
}

func TestPacerHalvesOnRateLimit(t *testing.T) {
	p := newPacer(8)
	drive(t, p, saturating(100, 100*time.Millisecond), 6)
	before := p.limit
	if before < 6 {
		t.Fatalf("limit %d after 6 good windows, want at least 6 to halve", before)
	}
	p.rateLimited(time.Second)
	p.rateLimited(time.Second) // the same burst: one signal
	if p.limit != before/2 {
		t.Errorf("after a 429 the limit is %d, want %d (half of %d)", p.limit, before/2, before)
	}
	if got := p.report().RateLimited; got != 2 {
		t.Errorf("report counts %d rate limits, want 2", got)
	}
}

// A shared machine makes each window's throughput noisy (here ±25%, with a
// fixed seed). The limit must not wander down and starve Synapse.
func TestPacerIgnoresNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	noisy := func(c, _ int) float64 {
		return float64(min(c, 5)) / 0.1 * (0.75 + 0.5*rng.Float64())
	}
	limits := drive(t, newPacer(8), noisy, 60)
	low := 0
	for _, l := range limits[5:] {
		if l < 5 {
			low++
		}
	}
	if low > 5 {
		t.Errorf("limit below 5 in %d of 55 windows (limits %v); noise should not starve Synapse", low, limits)
	}
}
