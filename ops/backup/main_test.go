package backup

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/config"
	"synops/ops/testbed"
)

// One bed for the package: a real PostgreSQL, a real Synapse on it and the
// OpenMeet-style application database.
var bed *testbed.Bed

func TestMain(m *testing.M) {
	testbed.Main(m, testbed.Options{Settle: true}, func(b *testbed.Bed) { bed = b })
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a job log tests can read while commands write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a backup service wired to the bed the way cmd/synops wires it,
// with its own backup directory, key, audit log and job log.
type fixture struct {
	svc       *Service
	guard     *ops.Guard
	auditPath string
	log       *syncBuffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	state := t.TempDir()
	auditPath := filepath.Join(state, "audit.log")
	al, err := audit.Open(auditPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := NewCatalog(filepath.Join(t.TempDir(), "backups"), filepath.Join(state, "backup.key"))
	g := &ops.Guard{Audit: al, Profile: "test", Backups: cat, FreshWithin: time.Hour}
	log := &syncBuffer{}
	s := bed.Synapse
	svc := &Service{
		Catalog: cat, Guard: g, Server: s.ServerName, Environment: "development",
		SynapseDB: config.NewDSN(bed.SynapseDB), AppDB: config.NewDSN(bed.AppDB),
		Files:      []string{s.ConfigPath},
		Discovered: []string{filepath.Join(s.Dir, s.ServerName+".signing.key"), filepath.Join(s.Dir, "log.yaml")},
		MediaStore: s.MediaStore, Media: config.MediaLocal,
		Synapse: s.Client(), JobLog: log,
		Retention: Retention{MaxAge: 30 * 24 * time.Hour, Keep: 1},
	}
	return &fixture{svc: svc, guard: g, auditPath: auditPath, log: log}
}

// create plans and applies a backup (no approval: it changes nothing).
func (f *fixture) create(t testing.TB, req CreateRequest) *CreateResult {
	t.Helper()
	ctx := ctxT(t, 5*time.Minute)
	p, err := f.svc.PlanCreate(ctx, req)
	if err != nil {
		t.Fatalf("plan backup: %v", err)
	}
	res, err := f.svc.ApplyCreate(ctx, p, ops.Approval{}, nil)
	if err != nil {
		t.Fatalf("backup: %v\njob log:\n%s", err, f.log.String())
	}
	return res
}

// verify plans and applies a verification.
func (f *fixture) verify(t testing.TB, id string) (*VerifyResult, error) {
	t.Helper()
	ctx := ctxT(t, 5*time.Minute)
	p, err := f.svc.PlanVerify(ctx, VerifyRequest{ID: id})
	if err != nil {
		return nil, err
	}
	return f.svc.ApplyVerify(ctx, p, ops.Approval{}, nil)
}

// databases lists the cluster's databases whose name contains part.
func databases(t testing.TB, part string) []string {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	cn, err := pgx.Connect(ctx, bed.PG.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	rows, err := cn.Query(ctx, "SELECT datname FROM pg_database WHERE strpos(datname, $1) > 0", part)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func auditActions(t testing.TB, path string) string {
	t.Helper()
	es, err := audit.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Action + " " + e.Phase + " " + e.Outcome + "\n")
	}
	return b.String()
}
