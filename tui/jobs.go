package tui

import (
	"fmt"
	"strings"
	"time"
)

// JobState is where a long-running piece of work stands.
type JobState int

const (
	JobRunning JobState = iota
	JobDone
	JobFailed
)

// Job is one entry of the job list: a Synapse deletion, a dump, a diagnosis.
type Job struct {
	ID       int
	Title    string
	State    JobState
	Progress float64 // 0..1; negative when unknown
	Detail   string
	Started  time.Time
	Ended    time.Time
}

// Jobs is the job list. It lives in Common, so it survives pane switches;
// it is only touched from Update, on the event loop.
type Jobs struct {
	list []Job
	next int
	now  func() time.Time
}

// NewJobs makes an empty list.
func NewJobs(now func() time.Time) *Jobs { return &Jobs{now: now} }

// JobMsg reports progress of job ID; panes send it from their commands.
type JobMsg struct {
	ID       int
	State    JobState
	Progress float64
	Detail   string
}

// Start adds a running job and returns its ID.
func (j *Jobs) Start(title string) int {
	j.next++
	j.list = append(j.list, Job{ID: j.next, Title: title, Progress: -1, Started: j.now()})
	if len(j.list) > 50 {
		j.list = j.list[len(j.list)-50:]
	}
	return j.next
}

// Apply records a JobMsg.
func (j *Jobs) Apply(m JobMsg) {
	for i := range j.list {
		if j.list[i].ID == m.ID {
			j.list[i].State, j.list[i].Progress, j.list[i].Detail = m.State, m.Progress, m.Detail
			if m.State != JobRunning {
				j.list[i].Ended = j.now()
			}
		}
	}
}

// All returns the jobs, oldest first.
func (j *Jobs) All() []Job { return j.list }

// Visible is what the strip above the status bar shows: running jobs and
// those finished in the last 10 seconds.
func (j *Jobs) Visible() []Job {
	var out []Job
	for _, x := range j.list {
		if x.State == JobRunning || j.now().Sub(x.Ended) < 10*time.Second {
			out = append(out, x)
		}
	}
	return out
}

// Line renders one job on one line of width w.
func (x Job) Line(s *Styles, w int) string {
	var mark string
	switch x.State {
	case JobRunning:
		mark = s.Warn.Render("⟳")
	case JobDone:
		mark = s.OK.Render("✔")
	default:
		mark = s.Crit.Render("✘")
	}
	prog := ""
	if x.State == JobRunning && x.Progress >= 0 {
		n := int(x.Progress * 10)
		prog = " [" + strings.Repeat("█", n) + strings.Repeat("░", 10-n) + fmt.Sprintf("] %3.0f%%", x.Progress*100)
	}
	line := fmt.Sprintf("%s %s%s", mark, x.Title, prog)
	if x.Detail != "" {
		line += s.Muted.Render(" · " + x.Detail)
	}
	return cell(line, w)
}
