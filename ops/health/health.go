// Package health runs the checks that say whether the ops box is well: Synapse,
// its token, PostgreSQL and the application database. Every check has its own
// time limit and reports a Result; none of them changes anything.
package health

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status orders results from harmless to alarming.
type Status int

const (
	Unknown Status = iota // not configured or not run
	OK
	Warn
	Crit
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warning"
	case Crit:
		return "critical"
	}
	return "unknown"
}

// MarshalText makes Status read as a word in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the outcome of one check.
type Result struct {
	ID     string `json:"id"`    // stable key, e.g. "synapse.reachable"
	Group  string `json:"group"` // "Synapse", "PostgreSQL", …
	Name   string `json:"name"`
	Status Status `json:"status"`
	Value  string `json:"value,omitempty"`  // the figure: "1.163.2", "12 ms"
	Detail string `json:"detail,omitempty"` // what was found, when not ok
	Hint   string `json:"hint,omitempty"`   // what to do about it
	// Num is the figure as a number, for history and sparklines (HasNum says
	// whether there is one); Unit names it ("s", "bytes", "/s", "%").
	Num    float64       `json:"num,omitempty"`
	HasNum bool          `json:"-"`
	Unit   string        `json:"unit,omitempty"`
	Took   time.Duration `json:"-"`
}

// MarshalJSON adds the duration in milliseconds.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		TookMS float64 `json:"took_ms"`
	}{plain(r), float64(r.Took.Microseconds()) / 1000})
}

// Worst is the most alarming status among rs.
func Worst(rs []Result) Status {
	w := OK
	for _, r := range rs {
		if r.Status > w {
			w = r.Status
		}
	}
	return w
}

func ms(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
