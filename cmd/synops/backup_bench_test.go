package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"synops/ops/text"
)

// BenchmarkBackupCreate compares `synops backup create` with `pg_dump -Fc`
// and seed 004's `pg_dump | gzip` on the same generated Synapse database of
// a few hundred MB (SYNOPS_BENCH_EVENTS events, default 250000), in one
// run, and times `synops backup verify` of synops' backup. Each is run
// twice and the faster run counts. It measures once, whatever b.N is.
func BenchmarkBackupCreate(b *testing.B) {
	n := 250000
	if v, err := strconv.Atoi(os.Getenv("SYNOPS_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	dsn, dbSize := bed.GenerateSynapseDB(b, n)
	dir := b.TempDir()
	cfg, err := bed.WriteConfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"SYNOPS_CONFIG": cfg, "HOME": dir, "XDG_STATE_HOME": filepath.Join(dir, "state"), "SYNOPS_SYNAPSE_DB_DSN": dsn}
	out := b.TempDir()
	shell := func(script string) time.Duration {
		start := time.Now()
		if o, err := exec.Command("bash", "-c", "set -o pipefail; "+script).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", script, err, o)
		}
		return time.Since(start)
	}
	cli := func(args ...string) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		var o, e bytes.Buffer
		start := time.Now()
		err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &o, &e)
		took := time.Since(start)
		if code := exitCode(err, &e); code != 0 {
			b.Fatalf("synops %s: exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
		}
		return took
	}
	size := func(path string) int64 {
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return st.Size()
	}
	best := func(a, c time.Duration) time.Duration { return min(a, c) }

	shell("pg_dump -Fc -Z0 '" + dsn + "' >/dev/null") // warm the caches for everyone
	b.ResetTimer()
	var gz, fc, sy, ve time.Duration
	var syID string
	for round := range 2 {
		g := shell("pg_dump '" + dsn + "' | gzip > " + out + "/seed.sql.gz")
		f := shell("pg_dump -Fc -f " + out + "/fc.dump '" + dsn + "'")
		s := cli("backup", "create", "--media", "none")
		v := cli("backup", "verify", "--latest")
		if round == 0 {
			gz, fc, sy, ve = g, f, s, v
		} else {
			gz, fc, sy, ve = best(gz, g), best(fc, f), best(sy, s), best(ve, v)
		}
	}
	b.StopTimer()
	var list []backupListing
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	if err := run(ctx, []string{"backup", "list", "--json"}, func(k string) string { return env[k] }, strings.NewReader(""), &o, &e); err != nil || json.Unmarshal(o.Bytes(), &list) != nil || len(list) == 0 {
		b.Fatalf("backup list: %v %s", err, e.String())
	}
	syID = list[0].ID
	gzSize, fcSize, sySize := size(out+"/seed.sql.gz"), size(out+"/fc.dump"), list[0].Size

	var t bytes.Buffer
	fmt.Fprintf(&t, "database: %d events, %s (pg_database_size); backup %s\n", n, text.Bytes(dbSize), syID)
	fmt.Fprintf(&t, "%-36s %10s %12s %14s %14s\n", "", "wall", "size", "time / gzip", "size / gzip")
	row := func(name string, d time.Duration, sz int64) {
		fmt.Fprintf(&t, "%-36s %9.2fs %12s %14.2f %14.2f\n", name, d.Seconds(), text.Bytes(sz), d.Seconds()/gz.Seconds(), float64(sz)/float64(gzSize))
	}
	row("pg_dump | gzip (seed 004)", gz, gzSize)
	row("pg_dump -Fc", fc, fcSize)
	row("synops backup create", sy, sySize)
	fmt.Fprintf(&t, "%-36s %9.2fs %12s   %.2f× synops' dump, %.2f× pg_dump | gzip\n", "synops backup verify (restore test)", ve.Seconds(), "", ve.Seconds()/sy.Seconds(), ve.Seconds()/gz.Seconds())
	fmt.Fprintf(&t, "mark: backup ≤ 0.60× pg_dump | gzip at no larger size: %.2f×, size %.2f×\n", sy.Seconds()/gz.Seconds(), float64(sySize)/float64(gzSize))
	fmt.Fprintf(&t, "mark: verify ≤ 1.00× the time synops' dump took: %.2f×\n", ve.Seconds()/sy.Seconds())
	benchText("backup create and verify against the seed's dump:", t.String())
	b.Logf("RATIO backup create ÷ pg_dump | gzip = %.2f (goal ≤ 0.60), size %.2f", sy.Seconds()/gz.Seconds(), float64(sySize)/float64(gzSize))
	b.Logf("RATIO backup verify ÷ backup create = %.2f (goal ≤ 1.00); ÷ pg_dump | gzip = %.2f", ve.Seconds()/sy.Seconds(), ve.Seconds()/gz.Seconds())
	b.ReportMetric(sy.Seconds()/gz.Seconds(), "time/gzip")
	b.ReportMetric(float64(sySize)/float64(gzSize), "size/gzip")
	b.ReportMetric(ve.Seconds()/sy.Seconds(), "verify/dump")
	b.ReportMetric(ve.Seconds()/gz.Seconds(), "verify/gzip")
}
