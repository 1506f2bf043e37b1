package audit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	clock := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	log, err := Open(path, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration, e Entry) {
		t.Helper()
		e.Time = clock.Add(d)
		if err := log.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	at(0, Entry{Phase: "start", Profile: "prod", Action: "rooms.delete", Target: "!old:hs", PlanID: "p1"})
	at(time.Minute, Entry{Phase: "end", Profile: "prod", Action: "rooms.delete", Target: "!old:hs", PlanID: "p1", Outcome: "ok"})
	at(5*day, Entry{Phase: "refused", Profile: "prod", Action: "rooms.purge", Target: "hs", PlanID: "p2", Error: "not approved: type hs"})
	at(8*day, Entry{Phase: "start", Profile: "dev", Action: "tokens.rotate", Target: "hs", PlanID: "p3"})
	at(9*day, Entry{Phase: "start", Profile: "prod", Action: "tokens.finish", Target: "@admin:hs", PlanID: "p4"})
	at(9*day+time.Second, Entry{Phase: "end", Profile: "prod", Action: "tokens.finish", Target: "@admin:hs", PlanID: "p4", Outcome: "failed", Error: "log out: M_UNKNOWN_TOKEN"})
	// A torn line must not hide the rest.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString("{\"time\": \"2026-11-\n")
	f.Close()
	at(10*day, Entry{Phase: "start", Action: "rooms.block", Target: "!x:hs", PlanID: "p5"})
	at(10*day+time.Second, Entry{Phase: "end", Action: "rooms.block", Target: "!x:hs", PlanID: "p5", Outcome: "ok"})

	all, skipped, err := Query(path, Filter{})
	if err != nil || skipped != 1 {
		t.Fatalf("Query: %v, skipped %d (want 1)", err, skipped)
	}
	var got []string
	for _, o := range all {
		got = append(got, o.PlanID+":"+o.Outcome)
	}
	want := []string{"p5:ok", "p4:failed", "p3:unfinished", "p2:refused", "p1:ok"}
	if len(got) != len(want) {
		t.Fatalf("operations %v, want %v (newest first, start and end paired)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("operation %d = %s, want %s", i, got[i], want[i])
		}
	}
	if o := all[len(all)-1]; !o.Ended.Equal(clock.Add(time.Minute)) || !o.Time.Equal(clock) {
		t.Errorf("p1 times %s..%s", o.Time, o.Ended)
	}
	if all[1].Error != "log out: M_UNKNOWN_TOKEN" {
		t.Errorf("p4 error %q, want the end line's", all[1].Error)
	}

	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"since", Filter{Since: clock.Add(8 * day)}, []string{"p5", "p4", "p3"}},
		{"area", Filter{Action: "tokens"}, []string{"p4", "p3"}},
		{"exact action", Filter{Action: "rooms.delete"}, []string{"p1"}},
		{"no partial word", Filter{Action: "room"}, nil},
		{"outcome", Filter{Outcome: "refused"}, []string{"p2"}},
		{"text in target", Filter{Text: "!OLD"}, []string{"p1"}},
		{"text in error", Filter{Text: "unknown_token"}, []string{"p4"}},
		{"text in profile", Filter{Text: "dev", Action: "tokens"}, []string{"p3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, _, err := Query(path, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, o := range ops {
				ids = append(ids, o.PlanID)
			}
			if len(ids) != len(tt.want) {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
			for i := range ids {
				if ids[i] != tt.want[i] {
					t.Errorf("got %v, want %v", ids, tt.want)
				}
			}
		})
	}

	if ops, _, err := Query(filepath.Join(t.TempDir(), "none.log"), Filter{}); err != nil || len(ops) != 0 {
		t.Errorf("a log not written yet: %v, %v", ops, err)
	}
}
