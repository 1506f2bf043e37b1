package ops

import "fmt"

// Progress is one report from an operation under way: a room of a purge, the
// bytes of a dump. The console draws it as a bar in the job list, the CLI as
// a line on stderr. Callers may drop reports (a slow screen), so each one
// carries the whole state, never a delta.
type Progress struct {
	Item       string // what is being worked on: a room ID, a file, a step
	Stage      string // "deleting", "dumping", "done", "failed"
	Detail     string
	Done       int // items finished, of Total (0: not counted)
	Total      int
	Bytes      int64 // bytes done, of TotalBytes (0: unknown)
	TotalBytes int64
}

// Fraction is how far along the work is, 0..1, or -1 when that is unknown.
func (p Progress) Fraction() float64 {
	switch {
	case p.TotalBytes > 0:
		return min(float64(p.Bytes)/float64(p.TotalBytes), 1)
	case p.Total > 1:
		return float64(p.Done) / float64(p.Total)
	}
	return -1
}

// String is the report as one line: "3/10 !room:hs deleting: delete 5f2".
func (p Progress) String() string {
	s := p.Item
	if p.Stage != "" {
		s += " " + p.Stage
	}
	if p.Total > 1 {
		s = fmt.Sprintf("%d/%d %s", p.Done, p.Total, s)
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}
