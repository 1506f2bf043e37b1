package reset

import (
	"strings"
	"testing"
)

func TestPublicName(t *testing.T) {
	tests := []struct {
		name   string
		public bool
	}{
		{"localhost", false}, {"localhost:8448", false}, {"matrix.test", false}, {"dev.local", false},
		{"synapse.internal", false}, {"example.org", false}, {"chat.example.com", false}, {"box", false},
		{"127.0.0.1", false}, {"10.1.2.3:8448", false}, {"[::1]:8448", false},
		{"openmeet.net", true}, {"matrix.openmeet.net:443", true}, {"8.8.8.8", true},
	}
	for _, tt := range tests {
		if got := publicName(tt.name) != ""; got != tt.public {
			t.Errorf("publicName(%q) = %q, want public %v", tt.name, publicName(tt.name), tt.public)
		}
	}
}

func TestShellJoin(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"docker", "compose", "-f", "/srv/m/docker-compose.yml", "stop", "synapse"}, "docker compose -f /srv/m/docker-compose.yml stop synapse"},
		{[]string{"sh", "-c", "echo it's $HOME"}, `sh -c 'echo it'\''s $HOME'`},
		{[]string{"printf", ""}, "printf ''"},
	}
	for _, tt := range tests {
		if got := shellJoin(tt.argv); got != tt.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}

// An item blocks only the steps it guards: once Synapse is stopped by the
// reset, an admin check that cannot pass and a notice that is old do not
// keep the rest from running; the backup is the gate's, never a block.
func TestBlocking(t *testing.T) {
	steps := []Step{{ID: StepStop, Guards: guardFirst}, {ID: StepDropDatabase, Guards: guardReset}, {ID: StepRegisterAdmin, Guards: guardAfter}, {ID: StepFinalCheck}}
	cl := Checklist{Items: []Item{
		{ID: ItemAdmin, Status: Fail}, {ID: ItemTeam, Status: Pending}, {ID: ItemBackup, Status: Fail, Waivable: true},
		{ID: ItemSecret, Status: OK}, {ID: ItemEnvironment, Status: Warn}, {ID: ItemApp, Status: OK}, {ID: ItemDeployment, Status: OK},
	}}
	ids := func(items []Item) string {
		var s []string
		for _, it := range items {
			s = append(s, it.ID)
		}
		return strings.Join(s, ",")
	}
	p := &Plan{Steps: steps, Checklist: cl}
	if got := ids(p.Blocking()); got != "admin,team" {
		t.Errorf("at the first step: blocked by %q, want admin,team", got)
	}
	p.First = 1
	if got := ids(p.Blocking()); got != "" {
		t.Errorf("resuming after the stop: blocked by %q, want nothing", got)
	}
	p.Checklist.Items[3].Status = Fail
	p.First = 3
	if got := ids(p.Blocking()); got != "" {
		t.Errorf("at the final check: blocked by %q, want nothing", got)
	}
	p.First = 2
	if got := ids(p.Blocking()); got != "secret" {
		t.Errorf("at the registration without a secret: blocked by %q, want secret", got)
	}
}

func TestSafeMediaPath(t *testing.T) {
	for _, p := range []string{"/", "/var", "/var/lib", "/srv", "relative/media", "/media", "/var/lib/../"} {
		if safeMediaPath(p) == nil {
			t.Errorf("safeMediaPath(%q) = nil, want a refusal", p)
		}
	}
	for _, p := range []string{"/var/lib/matrix-synapse/media", "/srv/matrix/media_store"} {
		if err := safeMediaPath(p); err != nil {
			t.Errorf("safeMediaPath(%q) = %v", p, err)
		}
	}
}

// A resumed run starts at the first step not done: a failed one, one a
// killed run left running, or (killed after the last step, before the
// reset was recorded as done) the final check, which only reads.
func TestMergeState(t *testing.T) {
	ids := []StepID{StepStop, StepDropDatabase, StepCreateDatabase, StepFinalCheck}
	plan := func() *Plan {
		p := &Plan{}
		for _, id := range ids {
			p.Steps = append(p.Steps, Step{ID: id, Status: StepPending})
		}
		return p
	}
	state := func(statuses ...StepStatus) *State {
		st := &State{ID: "r1"}
		for i, s := range statuses {
			st.Steps = append(st.Steps, StepState{ID: ids[i], Status: s})
		}
		return st
	}
	tests := []struct {
		st    *State
		first int
	}{
		{state(StepDone, StepDone, StepPending, StepPending), 2},
		{state(StepDone, StepRunning, StepPending, StepPending), 1},
		{state(StepDone, StepFailed, StepPending, StepPending), 1},
		{state(StepDone, StepDone, StepDone, StepDone), 3},
	}
	for _, tt := range tests {
		p := plan()
		if err := mergeState(p, tt.st); err != nil || p.First != tt.first || !p.Resume || p.Steps[p.First].Status == StepDone {
			t.Errorf("%+v: first %d (%s), %v; want %d, not done", tt.st.Steps, p.First, p.Steps[p.First].Status, err, tt.first)
		}
	}
	other := state(StepDone, StepPending, StepPending)
	if err := mergeState(plan(), other); err == nil || !strings.Contains(err.Error(), "move the state file aside") {
		t.Errorf("other steps than recorded: %v, want a refusal", err)
	}
}
