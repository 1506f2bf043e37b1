package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"synops/ops/audit"
	"synops/ops/security"
	"synops/ops/tokens"
)

// auditRecord is the Security pane's source for view tests: fixed checks and
// operations, and the acknowledgements it is asked to record.
type auditRecord struct {
	checks []security.Check
	ops    []audit.Operation
	acked  []string
	tokens TokenSource
}

func (a *auditRecord) Audit(context.Context) []security.Check { return a.checks }
func (a *auditRecord) Acknowledge(item, note string) error {
	a.acked = append(a.acked, item+": "+note)
	return nil
}
func (a *auditRecord) AuditLog(audit.Filter) ([]audit.Operation, error) { return a.ops, nil }
func (a *auditRecord) Tokens() TokenSource                              { return a.tokens }

func sampleChecks() []security.Check {
	return []security.Check{
		{ID: "token.age", Title: "Matrix admin token rotated within the last 90 days", Status: security.Fail,
			Evidence: []string{"token syt_…a1b2: 120 days old (rotated 2026-08-03)"}, Hint: "synops tokens rotate"},
		{ID: "backup.verified", Title: "Database backups verified (restore test)", Status: security.OK,
			Evidence: []string{"synapse-20261130: verified 2026-11-30 02:14"}},
		{ID: "logs.secrets", Title: "No plaintext secrets in logs", Status: security.Warn,
			Evidence: []string{"homeserver.log line 12: " + hostile}, Hint: "rotate what leaked"},
		{ID: "manual.firewall", Title: "Firewall rules restrict direct database access", Status: security.Manual,
			Evidence: []string{"check the firewall in front of the box"}},
	}
}

func securityRoot(t testing.TB, readOnly bool, w, h int) (*Model, *SecurityPane, *auditRecord) {
	c := testCommon(readOnly)
	src := &auditRecord{checks: sampleChecks(), ops: []audit.Operation{
		{Time: fixedNow.Add(-time.Hour), Action: "rooms.delete", Target: "!old:sandbox.local", Outcome: "ok", Profile: "sandbox"},
		{Time: fixedNow.Add(-time.Minute), Action: "users.erase", Target: "@mallory:sandbox.local", Outcome: "refused", Profile: "sandbox",
			Error: "no verified backup " + hostile},
	}}
	sp := NewSecurityPane(c, src)
	m := New(c, NewHealthPane(c, HealthDeps{Source: noSource{}}, 2*time.Second), sp)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(press("2"))
	drain(m, sp.load())
	return m, sp, src
}

func TestSecurityGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {140, 40}} {
		m, sp, _ := securityRoot(t, false, size[0], size[1])
		got := screen(m)
		golden(t, filepath.Join("testdata", fmt.Sprintf("security_%dx%d.golden", size[0], size[1])), got)
		checkRaw(t, "security pane", sp.View())
		// Worst first: the failed token check heads the list.
		if first := sp.table.rows[sp.table.view[0]]; first.ID != "token.age" {
			t.Errorf("%dx%d: first row %s, want the failure", size[0], size[1], first.ID)
		}
	}
}

// Acknowledging a manual item asks what was checked and records it, with the
// item's ID; in read-only mode the key does nothing.
func TestSecurityAcknowledge(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m, sp, src := securityRoot(t, ro, 120, 30)
		s := send(m)
		for sp.table.Selected().ID != "manual.firewall" {
			s(press("j"))
		}
		drain(m, s(press("a")))
		if (m.runner.ask != nil) == ro {
			t.Fatalf("read-only=%v: a asked = %v", ro, m.runner.ask != nil)
		}
		if ro {
			continue
		}
		typeText(t, s, "only 443 open")
		drain(m, s(press("enter")))
		if len(src.acked) != 1 || src.acked[0] != "manual.firewall: only 443 open" {
			t.Errorf("recorded %v", src.acked)
		}
	}
}

// The audit log opens newest first, filters, and shows an operation's
// error cleaned.
func TestSecurityAuditLog(t *testing.T) {
	m, sp, _ := securityRoot(t, false, 140, 30)
	s := send(m)
	s(press("L"))
	got := screen(m)
	if i, j := strings.Index(got, "users.erase"), strings.Index(got, "rooms.delete"); i < 0 || j < 0 || i > j {
		t.Errorf("not newest first:\n%s", got)
	}
	if !strings.Contains(got, "no verified backup ABCDEFG") {
		t.Errorf("the selected operation's error is not shown:\n%s", got)
	}
	checkRaw(t, "audit log", sp.View())
	s(press("/"))
	typeText(t, s, "rooms")
	if got := screen(m); strings.Contains(got, "users.erase") || !strings.Contains(got, "1 of 2 operations") {
		t.Errorf("filter:\n%s", got)
	}
	s(press("esc")) // clears the filter
	s(press("esc")) // closes the log
	if sp.sub.Showing() {
		t.Error("esc did not close the audit log")
	}
}

// An old admin token shows in the status bar.
func TestStatusBarTokenAge(t *testing.T) {
	m, _, _ := securityRoot(t, false, 140, 30)
	if strings.Contains(screen(m), "rotate") && strings.Contains(screen(m), "⚠") {
		t.Fatal("a warning before the age is known")
	}
	m.Update(TokenAgeMsg{Age: tokens.Age{Status: tokens.AgeOK, Age: 10 * 24 * time.Hour}})
	if strings.Contains(lastLine(screen(m)), "token") {
		t.Errorf("a young token shows in the status bar:\n%s", lastLine(screen(m)))
	}
	m.Update(TokenAgeMsg{Age: tokens.Age{Status: tokens.AgeOld, Age: 120 * 24 * time.Hour}})
	if bar := lastLine(screen(m)); !strings.Contains(bar, "⚠ token 120d: rotate") {
		t.Errorf("status bar: %s", bar)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
