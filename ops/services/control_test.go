package services_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/services/servicestest"
)

// composeV2 installs a docker stub that has the compose plugin.
func composeV2(t *testing.T) *servicestest.Stub {
	return servicestest.Install(t, "docker", `[ "$1 $2" = "compose version" ] && echo "Docker Compose version v2.24.7"; exit 0`)
}

func TestControllerCommands(t *testing.T) {
	compose := config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/matrix/docker-compose.yml", ComposeProject: "matrix",
		SynapseService: "synapse", PostgresService: "postgres-matrix", AppService: "openmeet-api"}
	systemd := config.Services{Kind: config.ServicesSystemd, SynapseUnit: "matrix-synapse", PostgresUnit: "postgresql@15-main", AppUnit: "openmeet"}
	custom := config.Services{Kind: config.ServicesCustom, Start: []string{"synctl", "start", "/etc/hs.yaml"},
		Stop: []string{"synctl", "stop", "/etc/hs.yaml"}, Status: []string{"pgrep", "-f", "synapse.app.homeserver"}}
	tests := []struct {
		name  string
		s     config.Services
		a     services.Action
		units []services.Unit
		want  []string
	}{
		{"compose stop two", compose, services.Stop, []services.Unit{services.Synapse, services.Postgres},
			[]string{"docker", "compose", "-f", "/srv/matrix/docker-compose.yml", "-p", "matrix", "stop", "synapse", "postgres-matrix"}},
		{"compose start app", compose, services.Start, []services.Unit{services.AppAPI},
			[]string{"docker", "compose", "-f", "/srv/matrix/docker-compose.yml", "-p", "matrix", "start", "openmeet-api"}},
		{"compose restart", compose, services.Restart, []services.Unit{services.Synapse},
			[]string{"docker", "compose", "-f", "/srv/matrix/docker-compose.yml", "-p", "matrix", "restart", "synapse"}},
		{"systemd stop", systemd, services.Stop, []services.Unit{services.Synapse, services.AppAPI},
			[]string{"systemctl", "stop", "matrix-synapse", "openmeet"}},
		{"systemd status", systemd, services.Status, []services.Unit{services.Postgres},
			[]string{"systemctl", "is-active", "postgresql@15-main"}},
		{"systemd default unit", config.Services{Kind: config.ServicesSystemd}, services.Start, []services.Unit{services.Synapse},
			[]string{"systemctl", "start", "matrix-synapse"}},
		{"custom start", custom, services.Start, []services.Unit{services.Synapse}, []string{"synctl", "start", "/etc/hs.yaml"}},
		{"custom stop", custom, services.Stop, []services.Unit{services.Synapse}, []string{"synctl", "stop", "/etc/hs.yaml"}},
		{"custom status", custom, services.Status, []services.Unit{services.Synapse}, []string{"pgrep", "-f", "synapse.app.homeserver"}},
	}
	composeV2(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &services.Controller{Services: tt.s}
			got, err := c.Command(ctxT(t, 10*time.Second), tt.a, tt.units...)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestControllerNotManaged(t *testing.T) {
	tests := []struct {
		name string
		s    config.Services
		u    services.Unit
		want string
	}{
		{"none", config.Services{Kind: config.ServicesNone}, services.Synapse, "no services section"},
		{"compose app not set", config.Services{Kind: config.ServicesCompose, ComposeProject: "m"}, services.AppAPI, "services.app_service"},
		{"systemd app not set", config.Services{Kind: config.ServicesSystemd}, services.AppAPI, "services.app_unit"},
		{"custom postgres", config.Services{Kind: config.ServicesCustom, Start: []string{"x"}}, services.Postgres, "Synapse alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &services.Controller{Services: tt.s}
			if c.Manages(tt.u) {
				t.Errorf("Manages(%s) = true, want false", tt.u)
			}
			err := c.Stop(context.Background(), tt.u)
			if !errors.Is(err, services.ErrNotManaged) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Stop: got %v, want ErrNotManaged naming %q", err, tt.want)
			}
		})
	}
}

// Debian bookworm has docker-compose v1 and no compose plugin: the
// controller must notice and use docker-compose.
func TestComposeFallsBackToDockerCompose(t *testing.T) {
	docker := servicestest.Install(t, "docker", `echo "docker: 'compose' is not a docker command." >&2; exit 1`)
	v1 := servicestest.Install(t, "docker-compose", `echo "docker-compose version 1.29.2"`)
	c := &services.Controller{Services: config.Services{Kind: config.ServicesCompose, ComposeProject: "matrix"}}
	if err := c.Stop(ctxT(t, 10*time.Second), services.Synapse); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctxT(t, 10*time.Second), services.Synapse); err != nil {
		t.Fatal(err)
	}
	if got, want := docker.Calls(t), [][]string{{"compose", "version"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("docker got %q, want only the plugin probe %q", got, want)
	}
	want := [][]string{{"version"}, {"-p", "matrix", "stop", "synapse"}, {"-p", "matrix", "start", "synapse"}}
	if got := v1.Calls(t); !reflect.DeepEqual(got, want) {
		t.Errorf("docker-compose got %q, want %q (probed once, then used)", got, want)
	}
}

func TestComposeNeitherSpelling(t *testing.T) {
	servicestest.Install(t, "docker", `exit 1`)
	servicestest.Install(t, "docker-compose", `exit 127`)
	c := &services.Controller{Services: config.Services{Kind: config.ServicesCompose, ComposeProject: "matrix"}}
	err := c.Stop(ctxT(t, 10*time.Second), services.Synapse)
	if err == nil || !strings.Contains(err.Error(), "install the compose plugin or docker-compose") {
		t.Errorf("got %v, want advice to install compose", err)
	}
}

// systemd cannot run here: these tests check the exact commands a stub
// systemctl receives, and how its answers and failures are read.
func TestSystemdCommandsToStub(t *testing.T) {
	stub := servicestest.Install(t, "systemctl", `
case "$1 $2" in
  "is-active matrix-synapse") echo active ;;
  "is-active openmeet") echo inactive; exit 3 ;;
  "is-active postgresql") echo failed; exit 3 ;;
esac
exit 0`)
	var log bytes.Buffer
	c := &services.Controller{Services: config.Services{Kind: config.ServicesSystemd, AppUnit: "openmeet"}, Log: &log}
	ctx := ctxT(t, 10*time.Second)
	if err := c.Stop(ctx, services.Synapse, services.AppAPI); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, services.AppAPI, services.Synapse); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, services.Postgres); err != nil {
		t.Fatal(err)
	}
	states := map[services.Unit]services.State{}
	for _, u := range []services.Unit{services.Synapse, services.AppAPI, services.Postgres} {
		st, err := c.Status(ctx, u)
		if err != nil {
			t.Fatalf("status %s: %v", u, err)
		}
		states[u] = st
	}
	want := [][]string{
		{"stop", "matrix-synapse", "openmeet"},
		{"start", "openmeet", "matrix-synapse"},
		{"restart", "postgresql"},
		{"is-active", "matrix-synapse"},
		{"is-active", "openmeet"},
		{"is-active", "postgresql"},
	}
	if got := stub.Calls(t); !reflect.DeepEqual(got, want) {
		t.Errorf("systemctl got\n%q\nwant\n%q", got, want)
	}
	if s := states[services.Synapse]; !s.Running || s.Detail != "active" {
		t.Errorf("synapse: got %+v, want running (active)", s)
	}
	if s := states[services.AppAPI]; s.Running || s.Detail != "inactive" {
		t.Errorf("app: got %+v, want not running (inactive)", s)
	}
	if s := states[services.Postgres]; s.Running || s.Detail != "failed" {
		t.Errorf("postgres: got %+v, want not running (failed)", s)
	}
	if !strings.Contains(log.String(), "$ systemctl stop matrix-synapse openmeet\n") {
		t.Errorf("job log lacks the stop command:\n%s", log.String())
	}
}

func TestSystemdFailureIsReported(t *testing.T) {
	servicestest.Install(t, "systemctl", `echo "Failed to stop matrix-synapse.service: Access denied" >&2; exit 4`)
	var log bytes.Buffer
	c := &services.Controller{Services: config.Services{Kind: config.ServicesSystemd}, Log: &log}
	err := c.Stop(ctxT(t, 10*time.Second), services.Synapse)
	var ee *services.ExitError
	if !errors.As(err, &ee) || ee.Code != 4 {
		t.Fatalf("got %v, want exit status 4", err)
	}
	if !strings.Contains(err.Error(), "Access denied") || !strings.Contains(err.Error(), "stop [synapse]") {
		t.Errorf("error %q should say what was being done and what systemctl said", err)
	}
	if !strings.Contains(log.String(), "Access denied") {
		t.Errorf("job log lacks systemctl's message:\n%s", log.String())
	}
	// A status command that cannot run at all is an error, not "stopped".
	servicestest.Install(t, "systemctl", `echo "System has not been booted with systemd" >&2; exit 1`)
	if st, err := c.Status(ctxT(t, 10*time.Second), services.Synapse); err == nil {
		t.Errorf("status: got %+v and no error, want the failure", st)
	}
}

func TestCustomCommands(t *testing.T) {
	stop := servicestest.Install(t, "hs-stop", `exit 0`)
	start := servicestest.Install(t, "hs-start", `exit 0`)
	status := servicestest.Install(t, "hs-status", `[ -e "$0.up" ] && { echo "up since 12:00"; exit 0; }; echo "down"; exit 1`)
	c := &services.Controller{Services: config.Services{Kind: config.ServicesCustom,
		Start: []string{"hs-start", "--config", "/etc/hs.yaml"}, Stop: []string{"hs-stop"}, Status: []string{"hs-status"}}}
	ctx := ctxT(t, 10*time.Second)
	if err := c.Restart(ctx, services.Synapse); err != nil {
		t.Fatal(err)
	}
	if got := start.Calls(t); !reflect.DeepEqual(got, [][]string{{"--config", "/etc/hs.yaml"}}) {
		t.Errorf("start got %q", got)
	}
	if got := stop.Calls(t); len(got) != 1 {
		t.Errorf("stop got %q, want one call", got)
	}
	st, err := c.Status(ctx, services.Synapse)
	if err != nil || st.Running || st.Detail != "down" {
		t.Errorf("got %+v, %v; want not running, detail down", st, err)
	}
	touch(t, status.Path+".up")
	st, err = c.Status(ctx, services.Synapse)
	if err != nil || !st.Running || st.Detail != "up since 12:00" {
		t.Errorf("got %+v, %v; want running", st, err)
	}
	servicestest.Install(t, "hs-start", `echo "port 8008 in use" >&2; exit 2`)
	if err := c.Start(ctx, services.Synapse); err == nil || !strings.Contains(err.Error(), "port 8008 in use") {
		t.Errorf("failing start: got %v", err)
	}
}

func TestPGCommand(t *testing.T) {
	composeV2(t)
	s := config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/dc.yml", PostgresService: "postgres-matrix", PostgresContainer: "postgres-matrix"}
	tests := []struct {
		name  string
		via   config.DumpVia
		stdin bool
		env   []string
		want  []string
	}{
		{"host", config.DumpHost, false, []string{"PGPASSWORD"}, []string{"pg_dump", "-Fc", "synapse"}},
		{"docker exec", config.DumpDocker, false, []string{"PGPASSWORD"},
			[]string{"docker", "exec", "-e", "PGPASSWORD", "postgres-matrix", "pg_dump", "-Fc", "synapse"}},
		{"docker exec with input", config.DumpDocker, true, nil,
			[]string{"docker", "exec", "-i", "postgres-matrix", "pg_dump", "-Fc", "synapse"}},
		{"compose exec", config.DumpCompose, true, []string{"PGPASSWORD"},
			[]string{"docker", "compose", "-f", "/srv/dc.yml", "exec", "-T", "-e", "PGPASSWORD", "postgres-matrix", "pg_dump", "-Fc", "synapse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &services.Controller{Services: s}
			got, err := c.PGCommand(ctxT(t, 10*time.Second), tt.via, tt.stdin, tt.env, "pg_dump", "-Fc", "synapse")
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	c := &services.Controller{Services: config.Services{Kind: config.ServicesCompose}}
	if _, err := c.PGCommand(context.Background(), config.DumpDocker, false, nil, "pg_dump"); err == nil || !strings.Contains(err.Error(), "services.postgres_container") {
		t.Errorf("docker without a container: got %v", err)
	}
}

func TestStream(t *testing.T) {
	servicestest.Install(t, "pg_dump", `echo "pw=$PGPASSWORD args=$*"; cat; echo "pg_dump: dumping" >&2`)
	var out, log bytes.Buffer
	err := services.Exec{}.Stream(ctxT(t, 10*time.Second), []string{"pg_dump", "-Fc"}, services.Streams{
		Env: []string{"PGPASSWORD=s3cret"}, Stdin: strings.NewReader("input\n"), Stdout: &out, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "pw=s3cret args=-Fc\ninput\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if log.String() != "pg_dump: dumping\n" {
		t.Errorf("log %q, want the standard error", log.String())
	}
	servicestest.Install(t, "pg_dump", `echo "pg_dump: error: connection refused" >&2; exit 1`)
	err = services.Exec{}.Stream(ctxT(t, 10*time.Second), []string{"pg_dump"}, services.Streams{Stdout: &out})
	var ee *services.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("got %v, want exit status 1 with pg_dump's message", err)
	}
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}
