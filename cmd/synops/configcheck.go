package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"synops/ops/config"
	"synops/ops/health"
	"synops/synapse"
)

func runConfigCheck(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("config check")
	if err := a.parse(fs, args, "config check"); err != nil {
		return err
	}
	r, err := a.load(ctx)
	var verr *config.ValidationError
	if err != nil && !errors.As(err, &verr) {
		return err
	}
	fmt.Fprintln(a.stdout, "Configuration")
	var rows [][]string
	for _, row := range r.Rows() {
		rows = append(rows, []string{row.Key, row.Display, row.Origin})
	}
	a.tableAt("  ", nil, rows)
	for _, n := range r.Notes {
		fmt.Fprintln(a.stdout, "  note:", n)
	}
	if verr != nil {
		fmt.Fprintln(a.stdout)
		for _, p := range verr.Problems {
			fmt.Fprintln(a.stdout, "FAIL config:", p)
		}
		return silentExit(1)
	}

	token, tokErr := r.LoadToken(ctx)
	client, err := synapse.New(r.HomeserverURL, token, synapse.WithRetries(0))
	if err != nil {
		return err
	}
	results := health.ConnectionChecks(ctx, health.Target{
		Synapse: client, SynapseDB: r.SynapseDB.Raw, AppDB: r.AppDB.Raw,
	})
	if tokErr != nil {
		// Say why the token is missing rather than "no token configured".
		for i := range results {
			if results[i].ID == "synapse.token" && results[i].Status != health.OK {
				results[i].Status, results[i].Detail, results[i].Hint = health.Crit, tokErr.Error(), ""
			}
		}
	}
	fmt.Fprintln(a.stdout)
	fmt.Fprintln(a.stdout, "Checks")
	printResults(a, results)
	if health.Worst(results) >= health.Crit {
		return silentExit(1)
	}
	return nil
}

func printResults(a *app, results []health.Result) {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Group)+2+len(r.Name))
	}
	for _, r := range results {
		mark := map[health.Status]string{health.OK: "ok", health.Warn: "WARN", health.Crit: "FAIL", health.Unknown: "--"}[r.Status]
		val := ""
		if r.Status == health.OK {
			val = oneLine(r.Value)
		}
		line := fmt.Sprintf("  %-4s  %-*s  %s", mark, width, r.Group+": "+r.Name, val)
		if took := fmtTook(r); took != "" {
			line += "  (" + took + ")"
		}
		fmt.Fprintln(a.stdout, strings.TrimRight(line, " "))
		if r.Status != health.OK && r.Detail != "" {
			fmt.Fprintf(a.stdout, "        %s\n", oneLine(r.Detail))
		}
		if r.Hint != "" && r.Status >= health.Warn {
			fmt.Fprintf(a.stdout, "        → %s\n", r.Hint)
		}
	}
}

func fmtTook(r health.Result) string {
	if r.Took == 0 || r.Status == health.Unknown {
		return ""
	}
	return fmt.Sprintf("%d ms", r.Took.Milliseconds())
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
