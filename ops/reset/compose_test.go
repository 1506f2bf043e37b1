package reset

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/dockertest"
	"synops/ops/pgtest"
	"synops/ops/testbed"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

const composePassword = "pw-for-the-container-only"

// composeDeployment is seed 000's docker compose setup for real: PostgreSQL
// with its data in a named volume and Synapse (the venv's, in a locally
// built image, host networking) with its media store in another, both
// started by compose.
type composeDeployment struct {
	p   *dockertest.Project
	pg  dockertest.Postgres
	syn *synapsetest.Server
	dsn string
}

func newComposeDeployment(t *testing.T, server string) *composeDeployment {
	t.Helper()
	dockertest.Images(t)
	dockertest.Use(t, dockertest.V2)
	bin, err := pgtest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	d := &composeDeployment{pg: dockertest.Postgres{Service: "postgres-matrix", Volume: "matrix-pg-data", Port: dockertest.FreePort(t),
		User: "synapse", Password: composePassword, BinDir: bin, Database: "synapse"}}
	d.dsn = (&url.URL{Scheme: "postgres", User: url.UserPassword("synapse", composePassword),
		Host: "127.0.0.1:" + strconv.Itoa(d.pg.Port), Path: "/synapse", RawQuery: "sslmode=disable"}).String()
	venv, err := synapsetest.FindVenv()
	if err != nil {
		t.Fatal(err)
	}
	synDir := t.TempDir()
	d.syn, err = synapsetest.Prepare(synapsetest.Options{Dir: synDir, ServerName: server, Extra: serverNotices(),
		DB: synapsetest.DB{Host: "127.0.0.1", Port: d.pg.Port, User: "synapse", Password: composePassword, Name: "synapse"}})
	if err != nil {
		t.Fatal(err)
	}
	python, _ := filepath.EvalSymlinks(filepath.Join(venv, "bin", "python"))
	mounts := []string{"/usr:/usr:ro", "/etc:/etc:ro", venv + ":" + venv + ":ro", synDir + ":" + synDir,
		"synapse-data:" + d.syn.MediaStore}
	if root := filepath.Dir(filepath.Dir(python)); !strings.HasPrefix(root, "/usr/") {
		mounts = append(mounts, root+":"+root+":ro")
	}
	// restart: on-failure: after a reset Synapse starts before the new
	// PostgreSQL accepts connections, fails, and is started again.
	yml := "version: \"3\"\nservices:\n" + d.pg.ServiceYAML(t, t.TempDir()) + fmt.Sprintf(`  synapse:
    image: %s
    network_mode: host
    restart: on-failure
    depends_on: [%s]
    entrypoint: [%q, "-m", "synapse.app.homeserver", "-c", %q]
    environment:
      GIT_DIR: /nonexistent
    volumes:
`, dockertest.HostRoot, d.pg.Service, filepath.Join(venv, "bin", "python"), d.syn.ConfigPath)
	for _, m := range mounts {
		yml += "      - " + m + "\n"
	}
	yml += "volumes:\n  " + d.pg.Volume + ": {}\n  synapse-data: {}\n"
	name := fmt.Sprintf("synopsreset%d", os.Getpid())
	d.p = dockertest.NewProject(t, name, yml)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containers:\n%s\nsynapse:\n%s", d.p.Logs(), d.syn.Diagnostics())
		}
	})
	d.p.Compose(t, dockertest.V2, "up", "-d")
	ctx := ctxT(t, 5*time.Minute)
	if err := d.syn.Attach(ctx); err != nil {
		t.Fatalf("%v\n%s", err, d.p.Logs())
	}
	return d
}

// TestComposeResetEndToEnd runs seed 000's docker compose procedure through
// synops against a real Docker engine: stop, rm, docker volume rm, up. A
// container that still uses the database volume makes the volume step fail:
// the walk stops there and says what to do; once it is gone, the next run
// resumes at that step and completes. Afterwards the server is fresh, the
// new admin works, and the application's references are cleared.
func TestComposeResetEndToEnd(t *testing.T) {
	const server = "compose-reset.test"
	d := newComposeDeployment(t, server)
	ctx := ctxT(t, 10*time.Minute)
	users, err := d.syn.SeedUsers(ctx, "member", 2)
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := d.syn.SeedRooms(ctx, []synapsetest.RoomSpec{{Name: "Event: compose night", Members: users, Messages: 2}})
	if err != nil {
		t.Fatal(err)
	}
	appDSN, err := bed.PG.CreateDatabase(ctx, pgtest.UniqueName("composeapp"), pgtest.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := testbed.CreateAppSchema(ctx, appDSN); err != nil {
		t.Fatal(err)
	}
	seedAppRefs(t, appDSN, rooms)

	state, app := t.TempDir(), t.TempDir()
	own := filepath.Join(state, "admin.token")
	envFile := filepath.Join(app, ".env")
	for path, data := range map[string]string{own: d.syn.AdminToken.Reveal() + "\n", envFile: "MATRIX_ADMIN_TOKEN=" + d.syn.AdminToken.Reveal() + "\n"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sp := spec{
		Server: server, Environment: "development", BaseURL: d.syn.BaseURL, Token: d.syn.AdminToken.Reveal(),
		Secret: d.syn.SharedSecret.Reveal(), SynapseDB: d.dsn, AppDB: appDSN,
		Services: config.Services{Kind: config.ServicesCompose, ComposeFile: d.p.File, ComposeProject: d.p.Name,
			SynapseService: "synapse", PostgresService: d.pg.Service},
		Reset:    config.Reset{Path: config.ResetCompose, StartTimeout: 3 * time.Minute},
		StateDir: state, AuditPath: filepath.Join(state, "audit.log"), BackupDir: filepath.Join(t.TempDir(), "backups"),
		JobLog: filepath.Join(state, "reset-jobs.log"), OwnToken: own, EnvFile: envFile, FreshWithin: time.Hour,
	}
	e := sp.mustBuild(t)
	if _, err := e.svc.ConfirmTold(ctx, "compose test"); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	base := "docker compose -f " + d.p.File + " -p " + d.p.Name
	pgVol, synVol := d.p.Name+"_"+d.pg.Volume, d.p.Name+"_synapse-data"
	want := map[StepID]string{
		StepStop:             base + " stop synapse postgres-matrix",
		StepRemoveContainers: base + " rm -f synapse postgres-matrix",
		StepRemoveVolumes:    "docker volume rm " + pgVol + " " + synVol,
		StepStart:            base + " up -d synapse postgres-matrix",
	}
	for _, st := range p.Steps[:4] {
		if len(st.Commands) != 1 || st.Commands[0] != want[st.ID] {
			t.Errorf("step %s shows %q, want %q", st.ID, st.Commands, want[st.ID])
		}
	}
	if it := p.Checklist.Item(ItemDeployment); it.Status != OK || !strings.Contains(it.Evidence, pgVol+" ("+d.pg.Service+":/var/lib/postgresql/data)") {
		t.Errorf("deployment item: %+v", it)
	}

	// A container outside the project still holds the database volume.
	blocker := d.p.Name + "-blocker"
	dockertest.Run(t, "docker", "run", "-d", "--name", blocker, "--network", "host", "-v", pgVol+":/held", dockertest.Busybox, "sleep", "3600")
	t.Cleanup(func() { _, _ = dockertest.Output("docker", "rm", "-f", blocker) })
	run := func(p *Plan) (*Walk, error) {
		t.Helper()
		a, err := approveAll(ctx, e.guard, p.Op, server, true)
		if err != nil {
			t.Fatal(err)
		}
		w, err := e.svc.Start(ctx, p, a)
		if err != nil {
			t.Fatal(err)
		}
		return w, w.Run(ctx, func(ctx context.Context, p *ops.Plan) (ops.Approval, error) {
			return approveAll(ctx, e.guard, p, server, true)
		}, func(pr ops.Progress) { t.Log(pr.String()) })
	}
	w, err := run(p)
	var se *StepError
	if !errors.As(err, &se) || se.Step != StepRemoveVolumes || !strings.Contains(err.Error(), "in use") ||
		!strings.Contains(se.Next, "docker ps -a --filter volume=NAME") || !strings.Contains(se.Next, "resumes at this step") {
		t.Fatalf("first run: %v, want the volume step to fail on the volume in use and say what to do", err)
	}
	if st := w.State(); st.Phase != Stopped || !st.done(StepStop) || !st.done(StepRemoveContainers) {
		t.Errorf("state after the failure: %+v", st)
	}

	dockertest.Run(t, "docker", "rm", "-f", blocker)
	p, err = e.svc.Plan(ctx, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Resume || p.Current().ID != StepRemoveVolumes || p.Current().Status != StepFailed {
		t.Fatalf("second plan: resume %v at %s (%s), want the failed volume step", p.Resume, p.Current().ID, p.Current().Status)
	}
	if _, err := run(p); err != nil {
		t.Fatalf("second run: %v\njob log:\n%s", err, readFile(t, sp.JobLog))
	}

	// The server is fresh and the new admin works.
	tok := readEnvToken(t, envFile)
	c := d.syn.Client().WithToken(tok)
	all, err := c.AllUsers(ctx, synapse.ListUsersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Name != "@admin:"+server || !all[0].Admin {
		t.Errorf("users after the reset: %+v, want only the new admin", all)
	}
	if rl, err := c.ListRoomsPage(ctx, synapse.ListRoomsOptions{}, 0); err != nil || rl.Total != 0 {
		t.Errorf("rooms after the reset: %+v %v", rl, err)
	}
	if _, err := c.WithToken(d.syn.AdminToken).Whoami(ctx); !errors.Is(err, synapse.ErrUnknownToken) {
		t.Errorf("the old token: %v, want unknown", err)
	}
	if ev, cr := appRefs(t, appDSN); ev != 0 || cr != 0 {
		t.Errorf("app references: %d events, %d chat rooms", ev, cr)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file: %v %v", fi, err)
	}
	cn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	var created time.Time
	if err := cn.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&created); err != nil || time.Since(created) > 5*time.Minute {
		t.Errorf("PostgreSQL started %v (%v): want the container recreated by the reset", created, err)
	}
	job := readFile(t, sp.JobLog)
	for _, w := range want {
		if !strings.Contains(job, "$ "+w) {
			t.Errorf("the job log lacks %q", w)
		}
	}
	if strings.Contains(job, composePassword) || strings.Contains(job, tok.Reveal()) {
		t.Error("the job log holds a secret")
	}
}

func seedAppRefs(t *testing.T, dsn string, rooms []string) {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	cn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close(ctx)
	for i, r := range rooms {
		var id int
		if err := cn.QueryRow(ctx, `INSERT INTO "events" ("slug","name","startDate","endDate","matrixRoomId") VALUES ($1,'e',now(),now(),$2) RETURNING "id"`,
			fmt.Sprintf("ev-%d", i), r).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := cn.Exec(ctx, `INSERT INTO "chatRooms" ("name","matrixRoomId","eventId") VALUES ('chat',$1,$2)`, r, id); err != nil {
			t.Fatal(err)
		}
	}
}
