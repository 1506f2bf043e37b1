package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// synops diagnose runs the guides' troubleshooting checks headless, with
// the exit status of synops health.
func TestDiagnoseCLI(t *testing.T) {
	env := map[string]string{"MATRIX_ADMIN_TOKEN": bed.Synapse.AdminToken.Reveal()}
	c := []string{"-c", bed.Synapse.ConfigPath}
	out, errs, code := cli(t, env, append(c, "diagnose", "--json", "--timeout", "3s")...)
	var all struct {
		Status   string `json:"status"`
		Verdicts []struct {
			Symptom struct{ ID string } `json:"symptom"`
			Status  string              `json:"status"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("diagnose --json: %v\n%s%s", err, out, errs)
	}
	want := map[string]int{"ok": 0, "unknown": 0, "warning": 1, "critical": 2}[all.Status]
	if code != want || len(all.Verdicts) != 5 {
		t.Errorf("diagnose: exit %d for %s, %d verdicts; want exit %d and the five symptoms that need no user", code, all.Status, len(all.Verdicts), want)
	}
	for _, v := range all.Verdicts {
		if v.Symptom.ID == "user-not-active" {
			t.Error("user-not-active ran without a user")
		}
	}

	out, errs, code = cli(t, env, append(c, "diagnose", "room-sync-failing", "--room", "!nosuchroom:"+bed.Synapse.ServerName)...)
	if !strings.Contains(out, "Room sync failing: ") || !strings.Contains(out, "room state") {
		t.Errorf("diagnose with a room: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = cli(t, env, append(c, "diagnose", "user-not-active")...)
	if code != 0 || !strings.Contains(out, "[unknown] application user status: no user given") {
		t.Errorf("user-not-active without --user: exit %d\n%s%s", code, out, errs)
	}
	for _, args := range [][]string{{"diagnose", "haunted"}, {"diagnose", "room-sync-failing", "--room", "general"}, {"diagnose", "a", "b"}} {
		out, errs, code := cli(t, env, append(c, args...)...)
		if code != 2 {
			t.Errorf("synops %v: exit %d, want 2 (usage)\n%s%s", args, code, out, errs)
		}
	}
	if _, errs, _ := cli(t, env, append(c, "diagnose", "haunted")...); !strings.Contains(errs, "connection-errors-after-reset") {
		t.Errorf("an unknown symptom does not list the known ones: %s", errs)
	}
}
