package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"synops/ops/audit"
	"synops/ops/config"
	"synops/ops/security"
	"synops/ops/tokens"
	"synops/synapse"
	"synops/tui"
)

// securityDeps builds what the security audit reads for the resolved
// configuration, on b when there is one. A missing admin token is not fatal
// (b is then nil and berr says why): the token's age says why it is unknown,
// and every other check runs. The console's Security pane uses the same.
func (a *app) securityDeps(r *config.Resolved, b *opsBase, berr error) (security.Deps, error) {
	dir, err := audit.StateDir(a.getenv)
	if err != nil {
		return security.Deps{}, err
	}
	d := security.FromConfig(r, dir)
	if b != nil {
		svc := a.tokenService(b)
		d.Synapse = svc.Synapse
		d.Tokens = svc
	} else {
		d.TokensErr = berr
		if c, cerr := synapse.New(r.HomeserverURL, synapse.Secret{}, synapse.WithRetries(0)); cerr == nil {
			d.Synapse = c
		}
	}
	if r.Backup.Dir != "" {
		d.Backups = backupCatalog(r, a.getenv)
	}
	return d, nil
}

// securityConsole is the Security pane's view of the audit, the
// acknowledgements, the audit log and token rotation.
type securityConsole struct {
	deps   security.Deps
	acks   *security.Acks
	log    *audit.Log
	label  audit.Entry
	tokens *tokens.Service // nil without an admin token
}

func (a *app) securityConsole(r *config.Resolved, b *opsBase, berr error) (*securityConsole, error) {
	d, err := a.securityDeps(r, b, berr)
	if err != nil {
		return nil, err
	}
	path, err := audit.DefaultPath(a.getenv)
	if err != nil {
		return nil, err
	}
	log, err := audit.Open(path, nil)
	if err != nil {
		return nil, err
	}
	return &securityConsole{deps: d, acks: d.Acks, log: log, tokens: d.Tokens,
		label: audit.Entry{Profile: r.Profile, Server: r.ServerName, Environment: string(r.Environment)}}, nil
}

func (s *securityConsole) Audit(ctx context.Context) []security.Check {
	return security.Run(ctx, s.deps)
}

func (s *securityConsole) Acknowledge(item, note string) error {
	_, _, err := security.Acknowledge(s.acks, s.log, item, note, s.label)
	return err
}

func (s *securityConsole) AuditLog(f audit.Filter) ([]audit.Operation, error) {
	ops, _, err := audit.Query(s.log.Path(), f)
	return ops, err
}

func (s *securityConsole) Tokens() tui.TokenSource {
	if s.tokens == nil {
		return nil // not a typed nil: the pane turns the token actions off
	}
	return s.tokens
}

// runAudit is `synops audit`: seed 004's checklist with evidence. Exit 0
// when every machine check is ok, 1 with a warning, 2 with a failure
// (manual items do not count).
func runAudit(ctx context.Context, a *app, args []string) error {
	const usage = "audit [--json]"
	fs := a.flagSet("audit")
	asJSON := fs.Bool("json", false, `print {"server", "status", "checked_at", "checks"} as JSON`)
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	r, err := a.load(ctx)
	if err != nil {
		return err
	}
	b, berr := a.opsBase(ctx, r)
	d, err := a.securityDeps(r, b, berr)
	if err != nil {
		return err
	}
	checkedAt := time.Now()
	checks := security.Run(ctx, d)
	worst := security.Worst(checks)
	if *asJSON {
		if err := writeJSON(a, struct {
			Server    string           `json:"server"`
			Status    security.Status  `json:"status"`
			CheckedAt time.Time        `json:"checked_at"`
			Checks    []security.Check `json:"checks"`
		}{r.ServerName, worst, checkedAt.UTC(), checks}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "Security audit of %s at %s\n", orUnknown(r.ServerName), checkedAt.Format(time.RFC3339))
		counts := map[security.Status]int{}
		for _, c := range checks {
			counts[c.Status]++
			mark := map[security.Status]string{security.OK: "ok", security.Warn: "WARN", security.Fail: "FAIL", security.Manual: "manual"}[c.Status]
			fmt.Fprintf(a.stdout, "  %-6s  %s\n", mark, c.Title)
			for _, e := range c.Evidence {
				fmt.Fprintf(a.stdout, "          %s\n", e)
			}
			if c.Hint != "" && c.Status != security.OK {
				fmt.Fprintf(a.stdout, "          → %s\n", c.Hint)
			}
		}
		fmt.Fprintf(a.stdout, "\nstatus: %s (%d ok, %d warnings, %d failures; %d manual)\n", worst,
			counts[security.OK], counts[security.Warn], counts[security.Fail], counts[security.Manual])
	}
	switch worst {
	case security.Fail:
		return silentExit(2)
	case security.Warn:
		return silentExit(1)
	}
	return nil
}

// runAuditAck is `synops audit ack ITEM`: the operator says they checked a
// manual item; the date is kept and shown by every audit after.
func runAuditAck(ctx context.Context, a *app, args []string) error {
	const usage = "audit ack ITEM [--note TEXT]"
	fs := a.flagSet("audit ack")
	note := fs.String("note", "", "what was checked, shown with the acknowledgement")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if len(fs.Args()) != 1 {
		var ids []string
		for _, m := range security.ManualItems {
			ids = append(ids, m.ID)
		}
		return usageError("name one manual item: %s (usage: synops %s)", strings.Join(ids, ", "), usage)
	}
	item, err := security.FindManual(fs.Args()[0])
	if err != nil {
		return usageError("%v", err)
	}
	dir, err := audit.StateDir(a.getenv)
	if err != nil {
		return err
	}
	auditPath, err := audit.DefaultPath(a.getenv)
	if err != nil {
		return err
	}
	log, err := audit.Open(auditPath, nil)
	if err != nil {
		return err
	}
	r, _ := a.load(ctx) // the profile and server name label the line; the ack works without them
	var label audit.Entry
	if r != nil {
		label = audit.Entry{Profile: r.Profile, Server: r.ServerName, Environment: string(r.Environment)}
	}
	_, ack, err := security.Acknowledge(security.StateAcks(dir), log, item.ID, *note, label)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "acknowledged %s (%s) at %s by %s\n", item.ID, item.Title, ack.At.Local().Format("2006-01-02 15:04"), ack.Operator)
	return nil
}

// runAuditLog is `synops audit log`: synops' audit log, one line a change,
// newest first.
func runAuditLog(ctx context.Context, a *app, args []string) error {
	const usage = "audit log [--json] [--since 7d|2026-11-01] [--action rooms|tokens.rotate] [--outcome ok|failed|refused|unfinished] [--search TEXT]"
	fs := a.flagSet("audit log")
	asJSON := fs.Bool("json", false, "print the operations as a JSON array")
	since := fs.String("since", "", "only changes since this age (7d, 12h) or date (2026-11-01)")
	action := fs.String("action", "", "only this action or area (rooms, rooms.delete, tokens)")
	outcome := fs.String("outcome", "", "only this outcome: ok, failed, partial, refused, unfinished")
	search := fs.String("search", "", "only changes whose target, profile, operator or error contains TEXT")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if err := noArgs(fs.Args(), usage); err != nil {
		return err
	}
	f := audit.Filter{Action: *action, Outcome: *outcome, Text: *search}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return usageError("--since: %v", err)
		}
		f.Since = t
	}
	path, err := audit.DefaultPath(a.getenv)
	if err != nil {
		return err
	}
	ops, skipped, err := audit.Query(path, f)
	if err != nil {
		return err
	}
	if *asJSON {
		if ops == nil {
			ops = []audit.Operation{}
		}
		return writeJSON(a, ops)
	}
	rows := make([][]string, 0, len(ops))
	for _, o := range ops {
		rows = append(rows, []string{o.Time.Local().Format("2006-01-02 15:04:05"), o.Profile, o.Action, o.Target, o.Outcome, oneLine(o.Error)})
	}
	a.table([]string{"WHEN", "PROFILE", "ACTION", "TARGET", "OUTCOME", "ERROR"}, rows)
	fmt.Fprintf(a.stdout, "%d changes in %s\n", len(ops), path)
	if skipped > 0 {
		fmt.Fprintf(a.stdout, "note: %d lines of the log are not JSON (a torn write?) and were skipped\n", skipped)
	}
	return nil
}

// parseSince reads an age (7d) or a date (2026-11-01, or RFC 3339).
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither an age (7d, 12h) nor a date (2026-11-01)", s)
}
