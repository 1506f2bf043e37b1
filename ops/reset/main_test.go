package reset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/backup"
	"synops/ops/config"
	"synops/ops/pg"
	"synops/ops/services"
	"synops/ops/testbed"
	"synops/ops/tokens"
	"synops/synapse"
)

// One bed for the package: a real PostgreSQL and a real Synapse (with
// server notices, which the reset notice sends). Tests that reset a server
// start a Synapse of their own on it; the bed's is never reset.
var bed *testbed.Bed

// helperEnv makes the test binary a walk that kills itself (see
// killedRun): TestMain runs it instead of the tests, without a bed.
const helperEnv = "SYNOPS_RESET_TEST_HELPER"

func TestMain(m *testing.M) {
	if raw := os.Getenv(helperEnv); raw != "" {
		os.Exit(killedRun(raw))
	}
	testbed.Main(m, testbed.Options{Extra: serverNotices()}, func(b *testbed.Bed) { bed = b })
}

func serverNotices() map[string]any {
	return map[string]any{"server_notices": map[string]any{
		"system_mxid_localpart": "notices", "system_mxid_display_name": "Server Notices", "room_name": "Server Notices",
	}}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a job log tests read while commands write to it.
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

// spec is a reset service wired the way cmd/synops wires it, as data: the
// parent test and the child it kills build the same service from it.
type spec struct {
	Server      string
	Environment string
	ReadOnly    bool
	BaseURL     string
	Token       string // synops' token before the reset (the child's environment only)
	Secret      string // the registration shared secret
	SynapseDB   string
	AppDB       string
	MediaStore  string
	Services    config.Services
	Reset       config.Reset
	StateDir    string
	AuditPath   string
	BackupDir   string
	JobLog      string
	OwnToken    string // synops' own token file
	EnvFile     string // the application's env file
	Check       []string
	FreshWithin time.Duration
}

// env is a built spec.
type env struct {
	svc     *Service
	guard   *ops.Guard
	backups *backup.Service
	app     *pgxpool.Pool
	close   func()
}

func (sp spec) build(ctx context.Context) (*env, error) {
	al, err := audit.Open(sp.AuditPath, nil)
	if err != nil {
		return nil, err
	}
	cat := backup.NewCatalog(sp.BackupDir, filepath.Join(sp.StateDir, "backup.key"))
	g := &ops.Guard{ReadOnly: sp.ReadOnly, Audit: al, Profile: "test", Backups: cat, FreshWithin: sp.FreshWithin}
	job, err := os.OpenFile(sp.JobLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	client, err := synapse.New(sp.BaseURL, synapse.NewSecret(sp.Token))
	if err != nil {
		return nil, err
	}
	tok := &tokens.Service{Synapse: client, Guard: g, Own: config.TokenSource{File: sp.OwnToken},
		Config: config.Tokens{Check: sp.Check, CheckEnv: config.DefaultTokenEnv}, Server: sp.Server}
	if sp.EnvFile != "" {
		tok.Config.WriteTo = []config.TokenTarget{{File: sp.EnvFile, EnvVar: "MATRIX_ADMIN_TOKEN"}}
	}
	e := &env{guard: g, close: func() { job.Close() }}
	svc := &Service{
		Synapse: client, Guard: g, StateDir: sp.StateDir, Server: sp.Server,
		Environment: config.Environment(sp.Environment), Config: sp.Reset,
		Services:  &services.Controller{Services: sp.Services, Log: job},
		SynapseDB: config.NewDSN(sp.SynapseDB), MediaStore: sp.MediaStore,
		SharedSecret: synapse.NewSecret(sp.Secret), Tokens: tok, Log: job,
	}
	e.backups = &backup.Service{Catalog: cat, Guard: g, Server: sp.Server, Environment: sp.Environment,
		SynapseDB: config.NewDSN(sp.SynapseDB), AppDB: config.NewDSN(sp.AppDB), MediaStore: sp.MediaStore,
		Media: config.MediaLocal, JobLog: job}
	svc.Backups = e.backups
	if sp.AppDB != "" {
		pool, err := pg.Open(ctx, "application database", synapse.NewSecret(sp.AppDB), nil)
		if err != nil {
			job.Close()
			return nil, err
		}
		svc.AppDB, e.app = pool, pool
		e.close = func() { pool.Close(); job.Close() }
	}
	e.svc = svc
	return e, nil
}

func (sp spec) mustBuild(t testing.TB) *env {
	t.Helper()
	e, err := sp.build(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

// approveAll approves a plan by typing the server name, with the backup
// waiver when the gate asks for it and waive is set.
func approveAll(ctx context.Context, g *ops.Guard, p *ops.Plan, server string, waive bool) (ops.Approval, error) {
	req := g.Request(ctx, p)
	typed := server
	if req.NeedsWaiver() && waive {
		typed += ops.WaiverSuffix
	}
	return req.Approve(typed, time.Now())
}

// killedRun is the child of TestStandaloneResetEndToEnd: it plans and
// starts the reset, walks it, and kills itself with SIGKILL the moment the
// database has been dropped, as a lost SSH session or a kill -9 would end
// a run. It returns only when it did not get there.
func killedRun(raw string) int {
	var sp spec
	if err := json.Unmarshal([]byte(raw), &sp); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	ctx := context.Background()
	e, err := sp.build(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: plan:", err)
		return 2
	}
	a, err := approveAll(ctx, e.guard, p.Op, sp.Server, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: approve:", err)
		return 2
	}
	w, err := e.svc.Start(ctx, p, a)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: start:", err)
		return 2
	}
	confirm := func(ctx context.Context, p *ops.Plan) (ops.Approval, error) {
		return approveAll(ctx, e.guard, p, sp.Server, false)
	}
	err = w.Run(ctx, confirm, func(pr ops.Progress) {
		fmt.Fprintf(os.Stderr, "helper: %s %s %s\n", pr.Item, pr.Stage, pr.Detail)
		if pr.Stage == StageDone && strings.HasPrefix(pr.Item, "Drop the database") {
			_ = killSelf()
		}
	})
	fmt.Fprintln(os.Stderr, "helper: the walk ended without being killed:", err)
	return 3
}

// appRefs counts the application's rows that point at Matrix rooms.
func appRefs(t testing.TB, dsn string) (events, chatRooms int) {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	cn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	if err := cn.QueryRow(ctx, `SELECT (SELECT count(*) FROM "events" WHERE "matrixRoomId" IS NOT NULL), (SELECT count(*) FROM "chatRooms")`).Scan(&events, &chatRooms); err != nil {
		t.Fatal(err)
	}
	return events, chatRooms
}

// auditLines is "action phase outcome" per line of the audit log.
func auditLines(t testing.TB, path string) []audit.Entry {
	t.Helper()
	es, err := audit.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return es
}
