// Package backuptest gives tests of the backup gate a real verified
// backup, in the spirit of net/http/httptest: a hand-written manifest no
// longer counts, so a test that needs the gate open takes a backup of the
// test bed's database and restore-tests it, as an operator would.
package backuptest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/backup"
	"synops/ops/config"
)

// Verified backs up the Synapse database at dsn (database only) into a new
// catalog under t's temporary directory, verifies it and returns the
// catalog and the entry's ID.
func Verified(t testing.TB, dsn, server string) (*backup.Catalog, string) {
	t.Helper()
	dir := t.TempDir()
	cat := backup.NewCatalog(filepath.Join(dir, "backups"), filepath.Join(dir, "state", "backup.key"))
	return cat, Take(t, cat, dsn, server)
}

// Take adds a verified backup of the database at dsn to cat and returns
// its ID.
func Take(t testing.TB, cat *backup.Catalog, dsn, server string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	al, err := audit.Open(filepath.Join(t.TempDir(), "audit.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &backup.Service{Catalog: cat, Guard: &ops.Guard{Audit: al, Profile: "test"}, Server: server,
		Environment: "development", SynapseDB: config.NewDSN(dsn), Media: config.MediaNone}
	p, err := svc.PlanCreate(ctx, backup.CreateRequest{Verify: true})
	if err != nil {
		t.Fatalf("plan a backup: %v", err)
	}
	res, err := svc.ApplyCreate(ctx, p, ops.Approval{}, nil)
	if err != nil {
		t.Fatalf("take a verified backup: %v", err)
	}
	if !res.Entry.Verified() {
		t.Fatalf("backup %s is %s: %s", res.Entry.ID, res.Entry.State, res.Entry.Problem)
	}
	return res.Entry.ID
}
