package users_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/users"
)

var listBench struct {
	once   sync.Once
	n      int
	prefix string
	err    error
}

// benchUsers is how many accounts BenchmarkList seeds: 100000, the size
// the Users pane is measured at, unless SYNOPS_BENCH_USERS says otherwise.
func benchUsers() int {
	if n, err := strconv.Atoi(os.Getenv("SYNOPS_BENCH_USERS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// seedUsers writes n accounts straight into Synapse's users and profiles
// tables (registering 100k through the API would take most of an hour):
// what the admin user list reads. Every 50th is deactivated, every 97th
// locked. They have no devices, so the list's last-seen joins are light
// here; a real server's devices and user_ips tables make each page slower.
func seedUsers(ctx context.Context, n int, prefix string) error {
	conn, err := pgx.Connect(ctx, bed.SynapseDB)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	server := bed.Synapse.ServerName
	if _, err := conn.Exec(ctx, `
INSERT INTO users (name, creation_ts, admin, is_guest, deactivated, shadow_banned, approved, locked, suspended)
SELECT '@' || $1 || lpad(i::text, 6, '0') || ':' || $2, extract(epoch FROM now())::bigint - i, 0, 0,
       CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END, false, true, i % 97 = 0, false
FROM generate_series(1, $3::int) AS i`, prefix, server, n); err != nil {
		return fmt.Errorf("seed users: %w", err)
	}
	if _, err := conn.Exec(ctx, `
INSERT INTO profiles (user_id, full_user_id, displayname)
SELECT $1 || lpad(i::text, 6, '0'), '@' || $1 || lpad(i::text, 6, '0') || ':' || $2, 'Bench User ' || i
FROM generate_series(1, $3::int) AS i`, prefix, server, n); err != nil {
		return fmt.Errorf("seed profiles: %w", err)
	}
	_, err = conn.Exec(ctx, `ANALYZE users; ANALYZE profiles`)
	return err
}

// BenchmarkList times users.Service.List over a server with 100k accounts:
// every page of Synapse's user list (1000 a page), what the Users pane
// loads. ns/op is one whole list; users/op is how many it returned.
func BenchmarkList(b *testing.B) {
	listBench.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		listBench.n, listBench.prefix = benchUsers(), "benchu"+randHex(2)+"_"
		listBench.err = seedUsers(ctx, listBench.n, listBench.prefix)
	})
	if listBench.err != nil {
		b.Fatal(listBench.err)
	}
	f := newFixture(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	got := 0
	for b.Loop() {
		us, err := f.svc.List(ctx, users.Filter{All: true})
		if err != nil {
			b.Fatal(err)
		}
		got = len(us)
	}
	if got < listBench.n {
		b.Fatalf("listed %d accounts, want at least the %d seeded", got, listBench.n)
	}
	b.ReportMetric(float64(got), "users/op")
}
