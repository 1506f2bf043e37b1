// Package testbed brings up the whole test bed in one call: a real PostgreSQL
// (ops/pgtest), a real Synapse on it (synapse/synapsetest) and an OpenMeet-style
// application database whose "events" and "chatRooms" reference Matrix rooms.
// Test packages start one in TestMain; the demo sandbox uses the same code.
package testbed

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops/pgtest"
	"synops/synapse/synapsetest"
)

// Bed is a running PostgreSQL + Synapse + application database.
type Bed struct {
	PG          *pgtest.Cluster
	Synapse     *synapsetest.Server
	SynapseDB   string // DSN of Synapse's database
	SynapseName string // its database name
	AppDB       string // DSN of the OpenMeet application database
	PGVersion   string
}

// Options shape a bed.
type Options struct {
	ServerName string
	Dir        string // where Synapse keeps config, media and logs (default: temp)
	Extra      map[string]any
	// AppServices are registered with Synapse (see synapsetest.AppService).
	AppServices []synapsetest.AppService
	// Settle waits until Synapse has finished the background updates of its
	// new database. Until then deleting a room can fail inside Synapse (a room
	// still queued for sliding-sync recalculation; element-hq/synapse#19822).
	Settle bool
}

// Start brings everything up; on error nothing is left running.
func Start(ctx context.Context, o Options) (*Bed, error) {
	pg, err := pgtest.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	b := &Bed{PG: pg}
	if b.PGVersion, err = pg.Version(ctx); err != nil {
		b.Close()
		return nil, err
	}
	b.SynapseName = pgtest.UniqueName("synapse")
	if b.SynapseDB, err = pg.CreateDatabase(ctx, b.SynapseName, pgtest.DBOptions{}); err != nil {
		b.Close()
		return nil, err
	}
	if b.AppDB, err = pg.CreateDatabase(ctx, pgtest.UniqueName("openmeet"), pgtest.DBOptions{}); err != nil {
		b.Close()
		return nil, err
	}
	if err := CreateAppSchema(ctx, b.AppDB); err != nil {
		b.Close()
		return nil, err
	}
	b.Synapse, err = synapsetest.Start(ctx, synapsetest.Options{
		ServerName: o.ServerName, Dir: o.Dir, Extra: o.Extra, AppServices: o.AppServices,
		DB: synapsetest.DB{Host: pg.Host(), Port: pg.Port(), User: pg.User(), Password: pg.Password(), Name: b.SynapseName},
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start Synapse: %w", err)
	}
	if o.Settle {
		if err := b.WaitSettled(ctx, 3*time.Minute); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// WaitSettled waits until Synapse has no background update left and no room
// queued for a sliding-sync recalculation.
func (b *Bed) WaitSettled(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	conn, err := pgx.Connect(ctx, b.SynapseDB)
	if err != nil {
		return fmt.Errorf("wait for Synapse's background updates: %w", err)
	}
	defer conn.Close(ctx)
	for {
		var n int
		err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM background_updates)
			+ (SELECT count(*) FROM sliding_sync_joined_rooms_to_recalculate)`).Scan(&n)
		switch {
		case err != nil:
			return fmt.Errorf("wait for Synapse's background updates: %w", err)
		case n == 0:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Synapse still has %d background updates or rooms to recalculate after %s", n, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops Synapse and PostgreSQL and removes their files.
func (b *Bed) Close() {
	if b.Synapse != nil {
		b.Synapse.Close()
	}
	b.PG.Stop()
}

// Main is a TestMain body: start a bed, hand it to setup (store it in a package
// variable), run the tests, tear everything down, exit. A bed that cannot
// start fails the package: integration tests are never skipped.
func Main(m *testing.M, o Options, setup func(*Bed)) {
	os.Exit(run(m, o, setup))
}

func run(m *testing.M, o Options, setup func(*Bed)) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b, err := Start(ctx, o)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "test bed: %v\n", err)
		return 1
	}
	defer b.Close()
	fmt.Printf("test bed: Synapse %s (%s), PostgreSQL %s\n", b.Synapse.Version, b.Synapse.BaseURL, b.PGVersion)
	setup(b)
	code := m.Run()
	if code != 0 {
		fmt.Printf("test bed: the tests failed; what Synapse wrote last:\n%s", b.Synapse.Diagnostics())
	}
	return code
}

// CreateAppSchema creates the part of OpenMeet's schema that references Matrix
// rooms: "events"."matrixRoomId" and "chatRooms".
func CreateAppSchema(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("app database: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
CREATE TABLE IF NOT EXISTS "events" (
  "id"           serial PRIMARY KEY,
  "slug"         text NOT NULL UNIQUE,
  "name"         text NOT NULL,
  "startDate"    timestamptz NOT NULL,
  "endDate"      timestamptz NOT NULL,
  "matrixRoomId" text
);
CREATE TABLE IF NOT EXISTS "chatRooms" (
  "id"           serial PRIMARY KEY,
  "name"         text NOT NULL,
  "matrixRoomId" text NOT NULL,
  "eventId"      integer REFERENCES "events"("id") ON DELETE CASCADE
);`)
	if err != nil {
		return fmt.Errorf("create app schema: %w", err)
	}
	return nil
}
