package backup

import (
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

	"synops/ops/config"
	"synops/ops/dockertest"
	"synops/ops/pgtest"
	"synops/ops/services"
	"synops/synapse"
	"synops/synapse/synapsetest"
)

// composeDeployment is a compose project like seed 004's: PostgreSQL with
// its data in a named volume, and Synapse on it, both real, both in
// containers on host networking.
type composeDeployment struct {
	p        *dockertest.Project
	spelling dockertest.Compose
	pg       dockertest.Postgres
	syn      *synapsetest.Server
	dsn      string
}

const composePassword = "pw-for-the-container-only"

func newComposeDeployment(t *testing.T, spelling dockertest.Compose) *composeDeployment {
	t.Helper()
	dockertest.Images(t)
	dockertest.Use(t, spelling)
	bin, err := pgtest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("synopsbk%d%s", os.Getpid(), strings.NewReplacer(" ", "", "-", "").Replace(string(spelling)))
	d := &composeDeployment{spelling: spelling,
		pg: dockertest.Postgres{Service: "postgres-matrix", Volume: "matrix-pg-data", Port: dockertest.FreePort(t), User: "synapse", Password: composePassword, BinDir: bin}}
	d.dsn = (&url.URL{Scheme: "postgres", User: url.UserPassword("synapse", composePassword),
		Host: "127.0.0.1:" + strconv.Itoa(d.pg.Port), Path: "/synapse", RawQuery: "sslmode=disable"}).String()

	venv, err := synapsetest.FindVenv()
	if err != nil {
		t.Fatal(err)
	}
	synDir := t.TempDir()
	d.syn, err = synapsetest.Prepare(synapsetest.Options{Dir: synDir, ServerName: "compose.test",
		DB: synapsetest.DB{Host: "127.0.0.1", Port: d.pg.Port, User: "synapse", Password: composePassword, Name: "synapse"}})
	if err != nil {
		t.Fatal(err)
	}
	python, _ := filepath.EvalSymlinks(filepath.Join(venv, "bin", "python"))
	mounts := []string{"/usr:/usr:ro", "/etc:/etc:ro", venv + ":" + venv + ":ro", synDir + ":" + synDir}
	if root := filepath.Dir(filepath.Dir(python)); !strings.HasPrefix(root, "/usr/") {
		mounts = append(mounts, root+":"+root+":ro") // a Python outside /usr (pyenv)
	}
	yml := "version: \"3\"\nservices:\n" + d.pg.ServiceYAML(t, t.TempDir()) + fmt.Sprintf(`  synapse:
    image: %s
    network_mode: host
    depends_on: [%s]
    entrypoint: [%q, "-m", "synapse.app.homeserver", "-c", %q]
    environment:
      GIT_DIR: /nonexistent
    volumes:
`, dockertest.HostRoot, d.pg.Service, filepath.Join(venv, "bin", "python"), d.syn.ConfigPath)
	for _, m := range mounts {
		yml += "      - " + m + "\n"
	}
	yml += "volumes:\n  " + d.pg.Volume + ": {}\n"
	d.p = dockertest.NewProject(t, name, yml)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containers:\n%s\nsynapse:\n%s", d.p.Logs(), d.syn.Diagnostics())
		}
	})

	d.p.Compose(t, spelling, "up", "-d", d.pg.Service)
	ctx := ctxT(t, 5*time.Minute)
	admin := strings.Replace(d.dsn, "/synapse?", "/postgres?", 1)
	dockertest.WaitFor(t, time.Minute, "PostgreSQL in its container", func() error {
		cn, err := pgx.Connect(ctx, admin)
		if err == nil {
			cn.Close(ctx)
		}
		return err
	})
	cn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := createDatabase(ctx, cn, "synapse", ""); err != nil {
		t.Fatal(err)
	}
	cn.Close(ctx)
	d.p.Compose(t, spelling, "up", "-d", "synapse")
	if err := d.syn.Attach(ctx); err != nil {
		t.Fatalf("%v\n%s", err, d.p.Logs())
	}
	return d
}

// service is a backup service for the deployment, dumping via where.
func (d *composeDeployment) service(t *testing.T, via config.DumpVia) *fixture {
	f := newFixture(t)
	s := f.svc
	s.SynapseDB, s.AppDB, s.DumpVia = config.NewDSN(d.dsn), config.DSN{}, via
	s.Files, s.Discovered = []string{d.syn.ConfigPath}, nil
	s.MediaStore, s.Media = d.syn.MediaStore, config.MediaLocal
	s.Server, s.Synapse = d.syn.ServerName, d.syn.Client()
	s.Services = &services.Controller{Log: f.log, Services: config.Services{Kind: config.ServicesCompose,
		ComposeFile: d.p.File, ComposeProject: d.p.Name, SynapseService: "synapse", PostgresService: d.pg.Service,
		PostgresContainer: d.container(t, d.pg.Service)}}
	s.VolumeImage = dockertest.Busybox
	return f
}

func (d *composeDeployment) container(t *testing.T, service string) string {
	ids := strings.Fields(dockertest.Run(t, "docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+d.p.Name,
		"--filter", "label=com.docker.compose.service="+service))
	if len(ids) != 1 {
		t.Fatalf("containers of %s: %v", service, ids)
	}
	return strings.TrimSpace(dockertest.Run(t, "docker", "inspect", "--format", "{{.Name}}", ids[0]))[1:]
}

func (d *composeDeployment) userExists(t *testing.T, id string) bool {
	t.Helper()
	_, err := d.syn.Client().User(ctxT(t, time.Minute), id)
	if err != nil && !errors.Is(err, synapse.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// Seed 004's deployment, for real: backups through `docker compose exec`
// and `docker exec` pg_dump, verified and restored through the container,
// the volume backup with a throwaway container, each checked by the data
// it brings back, with both compose spellings.
func TestComposeDeployment(t *testing.T) {
	for _, spelling := range []dockertest.Compose{dockertest.V2, dockertest.V1} {
		t.Run(string(spelling), func(t *testing.T) {
			d := newComposeDeployment(t, spelling)
			ctx := ctxT(t, 10*time.Minute)
			early, err := d.syn.Register(ctx, "early", false)
			if err != nil {
				t.Fatal(err)
			}

			// backup create through docker compose exec pg_dump, verified by
			// pg_restore in the container.
			f := d.service(t, config.DumpCompose)
			res := f.create(t, CreateRequest{Verify: true})
			if !res.Entry.Verified() {
				t.Fatalf("compose exec backup: %s %s\n%s", res.Entry.State, res.Entry.Problem, f.log.String())
			}
			execLine := string(spelling) + " -f " + d.p.File + " -p " + d.p.Name + " exec -T -e PGPASSWORD " + d.pg.Service + " pg_dump"
			if log := f.log.String(); !strings.Contains(log, execLine) || !strings.Contains(log, "exec -T -e PGPASSWORD "+d.pg.Service+" pg_restore") {
				t.Errorf("job log lacks %q and the pg_restore through the container:\n%s", execLine, log)
			}
			if strings.Contains(f.log.String(), composePassword) {
				t.Error("the database password is in the job log")
			}

			// docker exec <container> pg_dump, as seed 004 writes it.
			fd := d.service(t, config.DumpDocker)
			byExec := fd.create(t, CreateRequest{Verify: true, Media: config.MediaNone})
			if !byExec.Entry.Verified() || !strings.Contains(fd.log.String(), "docker exec -e PGPASSWORD "+d.container(t, d.pg.Service)+" pg_dump") {
				t.Errorf("docker exec backup: %s %s\n%s", byExec.Entry.State, byExec.Entry.Problem, fd.log.String())
			}

			// Written after the backup, gone after the restore through the container.
			late, err := d.syn.Register(ctx, "late", false)
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.svc.PlanRestore(ctx, RestoreRequest{ID: res.Entry.ID})
			if err != nil {
				t.Fatal(err)
			}
			a, err := f.guard.Request(ctx, p).Approve(d.syn.ServerName, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.ApplyRestore(ctx, p, a, nil); err != nil {
				t.Fatalf("restore: %v\n%s", err, f.log.String())
			}
			if !d.userExists(t, early.UserID) || d.userExists(t, late.UserID) {
				t.Errorf("after restore: want %s back and %s gone", early.UserID, late.UserID)
			}
			for _, want := range []string{"stop synapse", "start synapse", "exec -T -e PGPASSWORD " + d.pg.Service + " pg_restore"} {
				if !strings.Contains(f.log.String(), want) {
					t.Errorf("restore job log lacks %q", want)
				}
			}

			// The volume backup: services stopped, the volume archived by a
			// throwaway container, services started again.
			vp, err := f.svc.PlanVolumes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			va, err := f.guard.Request(ctx, vp).Approve(d.syn.ServerName, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			vol, err := f.svc.ApplyVolumes(ctx, vp, va, nil)
			if err != nil {
				t.Fatalf("volume backup: %v\n%s", err, f.log.String())
			}
			full := d.p.Name + "_" + d.pg.Volume
			part := vol.Manifest.Part("volume:" + full)
			if part == nil || part.Files == 0 {
				t.Fatalf("volume backup %+v: want %s archived", vol.Manifest.Parts, full)
			}
			if err := waitFor(ctx, 2*time.Minute, "synapse after the volume backup", d.syn.Client().Health); err != nil {
				t.Fatal(err)
			}
			if v, err := f.verify(t, vol.ID); err != nil || !v.Passed {
				t.Errorf("volume backup verification: %+v %v", v, err)
			}
			// What it brings back: the volume unpacked into a new one, a
			// PostgreSQL started on it, early there and late not.
			into := d.p.Name + "_restored"
			rp, err := f.svc.PlanVolumeRestore(ctx, VolumeRestoreRequest{ID: vol.ID, Volume: full, Into: into})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = dockertest.Output("docker", "volume", "rm", "-f", into) })
			ra, _ := f.guard.Request(ctx, rp).Approve(d.syn.ServerName, time.Now())
			if err := f.svc.ApplyVolumeRestore(ctx, rp, ra, nil); err != nil {
				t.Fatalf("volume restore: %v\n%s", err, f.log.String())
			}
			if _, err := f.svc.PlanVolumeRestore(ctx, VolumeRestoreRequest{ID: vol.ID, Volume: full, Into: into}); err == nil || !strings.Contains(err.Error(), "exists") {
				t.Errorf("a second restore into %s: %v, want refused", into, err)
			}
			users := d.usersOnVolume(t, into)
			if !strings.Contains(users, early.UserID) || strings.Contains(users, late.UserID) {
				t.Errorf("users in the restored volume: %q; want %s and not %s", users, early.UserID, late.UserID)
			}
		})
	}
}

// usersOnVolume starts a throwaway PostgreSQL on a copy of a data volume
// and lists Synapse's users.
func (d *composeDeployment) usersOnVolume(t *testing.T, vol string) string {
	t.Helper()
	port := dockertest.FreePort(t)
	ep := filepath.Join(t.TempDir(), "ep.sh")
	_ = os.WriteFile(ep, []byte("#!/bin/sh\nexec setpriv --reuid=postgres --regid=postgres --init-groups "+d.pg.BinDir+"/postgres -D /var/lib/postgresql/data -p "+strconv.Itoa(port)+" -k /tmp -c listen_addresses=127.0.0.1\n"), 0o755)
	name := d.p.Name + "_check"
	dockertest.Run(t, "docker", "run", "-d", "--name", name, "--network", "host", "-v", "/usr:/usr:ro", "-v", "/etc:/etc:ro",
		"-v", ep+":/ep.sh:ro", "-v", vol+":/var/lib/postgresql/data", "--entrypoint", "/bin/sh", dockertest.HostRoot, "/ep.sh")
	defer dockertest.Output("docker", "rm", "-f", name)
	ctx := ctxT(t, 2*time.Minute)
	dsn := strings.Replace(d.dsn, ":"+strconv.Itoa(d.pg.Port)+"/", ":"+strconv.Itoa(port)+"/", 1)
	var users []string
	dockertest.WaitFor(t, time.Minute, "PostgreSQL on the restored volume", func() error {
		cn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer cn.Close(ctx)
		rows, err := cn.Query(ctx, "SELECT name FROM users ORDER BY name")
		if err != nil {
			return err
		}
		users, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return strings.Join(users, " ")
}
