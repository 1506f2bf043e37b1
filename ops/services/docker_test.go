package services_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"synops/ops/config"
	"synops/ops/dockertest"
	"synops/ops/services"
)

// The compose controller against the real engine make test starts, with
// both spellings: the compose plugin, and Debian's docker-compose that the
// controller falls back to when the plugin is missing.
func TestComposeOnRealEngine(t *testing.T) {
	dockertest.Images(t)
	for _, spelling := range []dockertest.Compose{dockertest.V2, dockertest.V1} {
		t.Run(string(spelling), func(t *testing.T) {
			dockertest.Use(t, spelling)
			name := fmt.Sprintf("synopssvc%d%s", os.Getpid(), strings.ReplaceAll(string(spelling), " ", ""))
			p := dockertest.NewProject(t, name, fmt.Sprintf(`version: "3"
services:
  synapse:
    image: %[1]s
    network_mode: host
    stop_signal: SIGKILL
    command: ["sleep", "3600"]
  app:
    image: %[1]s
    network_mode: host
    stop_signal: SIGKILL
    command: ["sleep", "3600"]
`, dockertest.Busybox))
			p.Compose(t, spelling, "up", "-d")
			var log bytes.Buffer
			c := &services.Controller{Services: config.Services{Kind: config.ServicesCompose, ComposeFile: p.File, ComposeProject: p.Name,
				SynapseService: "synapse", AppService: "app", PostgresService: "postgres"}, Log: &log}
			ctx := ctxT(t, 2*time.Minute)
			status := func(u services.Unit) services.State {
				t.Helper()
				st, err := c.Status(ctx, u)
				if err != nil {
					t.Fatalf("status %s: %v\n%s", u, err, log.String())
				}
				return st
			}
			if st := status(services.Synapse); !st.Running || st.Detail != "running" {
				t.Fatalf("after up: %+v", st)
			}
			if err := c.Stop(ctx, services.Synapse, services.AppAPI); err != nil {
				t.Fatal(err)
			}
			for _, u := range []services.Unit{services.Synapse, services.AppAPI} {
				if st := status(u); st.Running || st.Detail != "exited" {
					t.Errorf("%s after stop: %+v", u, st)
				}
			}
			if err := c.Start(ctx, services.Synapse); err != nil {
				t.Fatal(err)
			}
			if err := c.Restart(ctx, services.Synapse); err != nil {
				t.Fatal(err)
			}
			if st := status(services.Synapse); !st.Running {
				t.Errorf("after start and restart: %+v", st)
			}
			if st := status(services.AppAPI); st.Running {
				t.Errorf("app started with synapse: %+v", st)
			}
			want := "$ " + string(spelling) + " -f " + p.File + " -p " + p.Name + " stop synapse app"
			if !strings.Contains(log.String(), want) {
				t.Errorf("job log lacks %q:\n%s", want, log.String())
			}

			// A secret reaches a program in the container through the
			// environment of docker itself, never argv: by `docker compose
			// exec -e NAME` and by `docker exec -e NAME`.
			ids := strings.Fields(dockertest.Run(t, "docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+p.Name, "--filter", "label=com.docker.compose.service=synapse"))
			if len(ids) != 1 {
				t.Fatalf("synapse containers: %v", ids)
			}
			c.Services.PostgresService, c.Services.PostgresContainer = "synapse", ids[0]
			for _, via := range []config.DumpVia{config.DumpCompose, config.DumpDocker} {
				argv, err := c.PGCommand(ctx, via, true, []string{"PGPASSWORD"}, "sh", "-c", `printf '%s|' "$PGPASSWORD"; cat`)
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				err = c.Exec.Stream(ctx, argv, services.Streams{Env: []string{"PGPASSWORD=pw-in-env-only"}, Stdin: strings.NewReader("stdin-through"), Stdout: &out})
				if err != nil || out.String() != "pw-in-env-only|stdin-through" {
					t.Errorf("%s: %q %v (argv %q)", via, out.String(), err, argv)
				}
				if strings.Contains(strings.Join(argv, " "), "pw-in-env-only") {
					t.Errorf("%s: the secret is in argv %q", via, argv)
				}
			}
		})
	}
}
