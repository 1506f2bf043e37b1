package pgtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestClusterLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := c.dir
	v, err := c.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s at %s", v, c.Redacted())

	dsn, err := c.CreateDatabase(ctx, UniqueName("pgtest"), DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var enc, collate, ctype string
	err = conn.QueryRow(ctx, `SELECT pg_encoding_to_char(encoding), datcollate, datctype
		FROM pg_database WHERE datname = current_database()`).Scan(&enc, &collate, &ctype)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if enc != "UTF8" || collate != "C" || ctype != "C" {
		t.Errorf("got encoding %s collate %s ctype %s, want UTF8 C C (what Synapse requires)", enc, collate, ctype)
	}

	c.Stop()
	if dir != "" {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cluster directory %s still exists after Stop (err %v)", dir, err)
		}
		if _, err := pgx.Connect(ctx, dsn); err == nil {
			t.Error("server still accepts connections after Stop")
		}
	}
	c.Stop() // twice is harmless
}

func TestStartLocalListenAddresses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartLocal(ctx, Options{ListenAddresses: "*"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var listen string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil {
		t.Fatal(err)
	}
	if listen != "*" {
		t.Errorf("listen_addresses = %q, want *", listen)
	}
}
