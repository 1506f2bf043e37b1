package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"
)

// Operation is one change as the log tells it: the start line and the end
// line of one plan together, or a refusal. It is what the console's audit
// view and `synops audit log` list.
type Operation struct {
	Time        time.Time `json:"time"`           // when it started (or was refused)
	Ended       time.Time `json:"ended,omitzero"` // zero while unfinished
	Operator    string    `json:"operator"`
	Profile     string    `json:"profile,omitempty"`
	Server      string    `json:"server,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Action      string    `json:"action"`
	Target      string    `json:"target,omitempty"`
	PlanID      string    `json:"plan_id,omitempty"`
	Risk        string    `json:"risk,omitempty"`
	// Outcome is "ok", "failed", "partial", "refused", or "unfinished" for a
	// start with no end (under way, or synops stopped).
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
	Detail  any    `json:"detail,omitempty"`
}

// Outcomes an Operation can have beyond the end line's.
const (
	OutcomeRefused    = "refused"
	OutcomeUnfinished = "unfinished"
)

// Filter selects operations. Zero fields select everything.
type Filter struct {
	Since   time.Time // started at or after
	Action  string    // the action or its area: "rooms" matches rooms.delete
	Outcome string    // ok, failed, partial, refused, unfinished
	// Text is looked for, case-insensitively, in the target, the profile,
	// the server, the operator, the action and the error.
	Text string
}

// Match reports whether o is selected.
func (f Filter) Match(o Operation) bool {
	if !f.Since.IsZero() && o.Time.Before(f.Since) {
		return false
	}
	if f.Action != "" && o.Action != f.Action && !strings.HasPrefix(o.Action, f.Action+".") {
		return false
	}
	if f.Outcome != "" && o.Outcome != f.Outcome {
		return false
	}
	if f.Text != "" {
		t := strings.ToLower(f.Text)
		hay := strings.ToLower(strings.Join([]string{o.Target, o.Profile, o.Server, o.Operator, o.Action, o.Error}, "\x00"))
		if !strings.Contains(hay, t) {
			return false
		}
	}
	return true
}

// Operations pairs start and end lines by plan and returns the operations
// newest first.
func Operations(entries []Entry) []Operation {
	var ops []Operation
	open := map[string]int{} // plan ID → index of its unfinished operation
	for _, e := range entries {
		o := Operation{Time: e.Time, Operator: e.Operator, Profile: e.Profile, Server: e.Server, Environment: e.Environment,
			Action: e.Action, Target: e.Target, PlanID: e.PlanID, Risk: e.Risk, Outcome: e.Outcome, Error: e.Error, Detail: e.Detail}
		switch e.Phase {
		case "start":
			o.Outcome = OutcomeUnfinished
			ops = append(ops, o)
			if e.PlanID != "" {
				open[e.PlanID] = len(ops) - 1
			}
		case "end":
			if i, ok := open[e.PlanID]; ok && e.PlanID != "" {
				delete(open, e.PlanID)
				ops[i].Ended, ops[i].Outcome, ops[i].Error, ops[i].Detail = e.Time, e.Outcome, e.Error, e.Detail
				continue
			}
			o.Ended = e.Time // an end whose start is not in the log
			ops = append(ops, o)
		case "refused":
			o.Outcome = OutcomeRefused
			ops = append(ops, o)
		default:
			if o.Outcome == "" {
				o.Outcome = e.Phase
			}
			ops = append(ops, o)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Time.After(ops[j].Time) })
	return ops
}

// Query reads the log at path and returns the operations f selects, newest
// first. A line that is not JSON (a torn write) is skipped and counted in
// skipped rather than hiding the rest of the log. A log that does not exist
// yet has no operations.
func Query(path string, f Filter) (ops []Operation, skipped int, err error) {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", err)
	}
	defer file.Close()
	var entries []Entry
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			skipped++
			continue
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, skipped, fmt.Errorf("audit log %s: %w", path, err)
	}
	for _, o := range Operations(entries) {
		if f.Match(o) {
			ops = append(ops, o)
		}
	}
	return ops, skipped, nil
}
