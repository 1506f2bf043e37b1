package synapse

import (
	"context"
	"time"
)

// FirstPoll is the wait before the second status check of a server-side
// task (the first comes at once).
const FirstPoll = 20 * time.Millisecond

// Poller spaces the status checks of a task Synapse runs in the background
// (a room deletion, a history purge, a redaction): the first check comes at
// once, the second after FirstPoll, and each wait after that is half as long
// again as the one before, up to Max. A small room Synapse deletes in 50ms
// is seen gone within a few tens of milliseconds, and a deletion that runs
// for minutes costs one check every Max, not one every 20ms.
type Poller struct {
	Max  time.Duration // the longest wait; 1s if <= 0
	wait time.Duration
}

// Next returns how long to wait before the next check.
func (p *Poller) Next() time.Duration {
	ceiling := p.Max
	if ceiling <= 0 {
		ceiling = time.Second
	}
	switch {
	case p.wait == 0:
		p.wait = min(FirstPoll, ceiling)
	default:
		p.wait = min(p.wait+p.wait/2, ceiling)
	}
	return p.wait
}

// waitTask calls check until it reports done: at once, then on p's growing
// schedule with poll as its longest wait.
func waitTask[T any](ctx context.Context, poll time.Duration, check func() (T, bool, error)) (T, error) {
	p := Poller{Max: poll}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		v, done, err := check()
		if done || err != nil {
			return v, err
		}
		t.Reset(p.Next())
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-t.C:
		}
	}
}
