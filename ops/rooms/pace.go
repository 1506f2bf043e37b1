package rooms

import (
	"context"
	"slices"
	"sync"
	"time"
)

// How a retention purge decides how many rooms to delete at once.
//
// Synapse deletes rooms on a main process that uses one core, its database
// on another. Too few deletions in flight leave it idle between rooms; too
// many only queue inside it, each room waiting longer for the same
// throughput, and a proxy in front of it may start answering 429. The right
// number depends on the box, its load and the rooms, so the purge measures,
// AIMD-style: it starts at startConcurrency and, after each window of
// completed rooms (at least minPaceWindow, and at least as many as are in
// flight), compares the rooms finished per second with the window before.
//
//   - Throughput rose by more than paceGain: one more room at once
//     (additive increase).
//   - Throughput fell by more than paceGain right after a step up: the step
//     hurt, undo it.
//   - Throughput below paceCollapse of the best recent window: each room
//     takes half as long again as at the best pace (Little's law: latency
//     is rooms in flight over throughput), so Synapse is overloaded, by us
//     or by something else: a quarter fewer at once.
//   - A 429 (M_LIMIT_EXCEEDED) at any time: halve at once (multiplicative
//     decrease).
//   - Otherwise stay, and probe one higher after paceProbeAfter quiet
//     windows, in case the server has room again.
//
// Only those signals make it go down: on a shared machine the throughput of
// a window of a few rooms is noisy, and following noise downwards starves
// Synapse, while a few rooms too many in flight cost little (they wait in
// Synapse's queue). The best recent window decays (paceBestDecay a window),
// so a lasting change in load sets a new reference. It never goes below 1
// nor above the configured maximum (rooms.purge.max_concurrency, default
// DefaultMaxConcurrency).
const (
	DefaultMaxConcurrency = 8
	startConcurrency      = 4
	minPaceWindow         = 4
	paceGain              = 0.05
	paceCollapse          = 2.0 / 3
	paceBestDecay         = 0.9
	paceProbeAfter        = 3
)

// Pacing is what the purge's concurrency did, for the report.
type Pacing struct {
	Max         int   `json:"max"`          // the configured ceiling
	Peak        int   `json:"peak"`         // the most deletions in flight at once
	Limits      []int `json:"limits"`       // the limit at the start and after each change
	RateLimited int   `json:"rate_limited"` // 429 answers seen
	// Slowest is the longest a room Synapse deleted held its slot: from
	// the check before its delete request to its app references cleared.
	Slowest time.Duration `json:"slowest_ns"`
}

// pacer admits deletions up to its current limit and moves the limit by
// the rules above.
type pacer struct {
	mu       sync.Mutex
	max      int
	limit    int
	inFlight int
	wake     chan struct{} // closed and replaced whenever a slot may have opened
	now      func() time.Time

	// the window being measured
	winStart time.Time
	winDone  int
	limited  bool
	// what came before
	prevRate float64
	best     float64 // the best recent window's rate, decaying
	lastStep int     // +1 or -1: the step taken after the window before; 0 none
	quiet    int     // windows in a row without a step

	stats Pacing
}

func newPacer(max int) *pacer {
	if max <= 0 {
		max = DefaultMaxConcurrency
	}
	p := &pacer{max: max, limit: min(startConcurrency, max), wake: make(chan struct{}), now: time.Now}
	p.stats = Pacing{Max: max, Limits: []int{p.limit}}
	return p
}

// acquire waits for a free slot.
func (p *pacer) acquire(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.inFlight < p.limit {
			p.inFlight++
			if p.winStart.IsZero() {
				p.winStart = p.now()
			}
			p.stats.Peak = max(p.stats.Peak, p.inFlight)
			p.mu.Unlock()
			return nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

// release frees a slot. took is how long the slot was held by a room that
// Synapse deleted; 0 for one that tells nothing about Synapse's pace (a
// room skipped, resumed, failed).
func (p *pacer) release(took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight--
	if took > 0 {
		p.winDone++
		p.stats.Slowest = max(p.stats.Slowest, took)
		if p.winDone >= max(p.limit, minPaceWindow) {
			p.adjust(p.now())
		}
	}
	p.signal()
}

// rateLimited halves the limit: Synapse, or a proxy in front of it, said
// to slow down.
func (p *pacer) rateLimited(time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.RateLimited++
	if p.limited {
		return // once per window: a burst of 429s is one signal
	}
	p.limited = true
	p.setLimit(max(1, p.limit/2))
	p.prevRate, p.best = 0, 0 // what came before no longer compares
}

// adjust closes the window and moves the limit.
func (p *pacer) adjust(now time.Time) {
	elapsed := now.Sub(p.winStart)
	n, limited := p.winDone, p.limited
	p.winStart, p.winDone, p.limited = now, 0, false
	if limited || elapsed <= 0 {
		return // the halving was the move; measure afresh
	}
	rate := float64(n) / elapsed.Seconds()
	next := p.limit
	switch {
	case p.prevRate == 0: // the first window: start climbing
		next = p.limit + 1
	case rate > p.prevRate*(1+paceGain):
		next = p.limit + 1
	case rate < p.best*paceCollapse:
		next = p.limit - max(1, p.limit/4)
	case rate < p.prevRate*(1-paceGain) && p.lastStep > 0:
		next = p.limit - 1
	default:
		p.quiet++
		if p.quiet >= paceProbeAfter {
			next = p.limit + 1
		}
	}
	p.prevRate = rate
	p.best = max(rate, p.best*paceBestDecay)
	p.setLimit(next)
}

func (p *pacer) setLimit(next int) {
	next = min(max(next, 1), p.max)
	p.lastStep = 0
	switch {
	case next > p.limit:
		p.lastStep = +1
	case next < p.limit:
		p.lastStep = -1
	default:
		return
	}
	p.limit, p.quiet = next, 0
	p.stats.Limits = append(p.stats.Limits, next)
	p.signal()
}

func (p *pacer) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

func (p *pacer) report() Pacing {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.stats
	out.Limits = slices.Clone(out.Limits)
	return out
}
