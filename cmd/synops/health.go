package main

import (
	"context"
	"fmt"
	"time"

	"synops/ops/config"
	"synops/ops/health"
	"synops/synapse"
)

// runHealth is `synops health`: every dashboard check once. The exit status
// is 0 when all is well, 1 with a warning, 2 with a critical result (unknown
// counts as well), so cron and monitoring can act on it.
func runHealth(ctx context.Context, a *app, args []string) error {
	const usage = "health [--json] [--sample 2s] [--timeout 5s] [--livekit-url URL]"
	fs := a.flagSet("health")
	asJSON := fs.Bool("json", false, `print {"status", "checked_at", "results"} as JSON`)
	sample, timeout := new(time.Duration), new(time.Duration)
	fs.Var(config.NewDurationValue(sample, 2*time.Second), "sample", "scrape metrics twice this far apart to compute rates (0: once, rates unknown)")
	fs.Var(config.NewDurationValue(timeout, 5*time.Second), "timeout", "time limit of each check")
	liveKit := fs.String("livekit-url", "", "LiveKit's HTTP URL, e.g. http://127.0.0.1:7880 (overrides livekit_url in the profile)")
	if err := a.parse(fs, args, usage); err != nil {
		return err
	}
	if len(fs.Args()) > 0 {
		return usageError("unexpected argument %q (usage: synops %s)", fs.Args()[0], usage)
	}
	if *sample < 0 || *timeout <= 0 {
		return usageError("--sample must be 0 or more and --timeout more than 0 (usage: synops %s)", usage)
	}
	r, err := a.load(ctx)
	if err != nil {
		return err
	}
	token, tokErr := r.LoadToken(ctx)
	client, err := synapse.New(r.HomeserverURL, token, synapse.WithRetries(0))
	if err != nil {
		return err
	}
	cfg := healthConfig(r, client, a.getenv)
	cfg.Timeout = *timeout
	if *liveKit != "" {
		cfg.LiveKitURL = *liveKit
	}
	checker := health.NewChecker(cfg)
	defer checker.Close()

	if *sample > 0 && len(r.MetricsURLs) > 0 {
		checker.Prime(ctx)
		t := time.NewTimer(*sample)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	checkedAt := time.Now()
	results := checker.RunAll(ctx)
	if tokErr != nil {
		// Say why there is no token rather than "no admin token configured".
		for i := range results {
			if results[i].ID == "synapse.token" && results[i].Status != health.OK {
				results[i].Status, results[i].Detail, results[i].Hint = health.Crit, tokErr.Error(), ""
			}
		}
	}
	worst := health.Worst(results)

	if *asJSON {
		if err := writeJSON(a, struct {
			Status    health.Status   `json:"status"`
			CheckedAt time.Time       `json:"checked_at"`
			Results   []health.Result `json:"results"`
		}{worst, checkedAt.UTC(), results}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "Health of %s (%s) at %s\n", orUnknown(r.ServerName), r.HomeserverURL, checkedAt.Format(time.RFC3339))
		shown := make([]health.Result, len(results))
		for i, res := range results {
			if res.HasNum && res.Unit == "s" && res.Num == res.Took.Seconds() {
				res.Took = 0 // the figure is the check's own time, already in the value
			}
			shown[i] = res
		}
		printResults(a, shown)
		fmt.Fprintf(a.stdout, "\nstatus: %s%s\n", worst, tally(results))
	}
	switch worst {
	case health.Crit:
		return silentExit(2)
	case health.Warn:
		return silentExit(1)
	}
	return nil
}

func tally(results []health.Result) string {
	var warn, crit int
	for _, r := range results {
		switch r.Status {
		case health.Warn:
			warn++
		case health.Crit:
			crit++
		}
	}
	if warn+crit == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d critical, %d warning)", crit, warn)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown server)"
	}
	return s
}
