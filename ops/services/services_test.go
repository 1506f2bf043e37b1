package services_test

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"synops/ops/config"
	"synops/ops/services"
	"synops/ops/services/servicestest"
)

func TestLogsCommand(t *testing.T) {
	tests := []struct {
		name string
		s    config.Services
		tail int
		want []string
	}{
		{"compose file and project",
			config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/matrix/docker-compose.yml", ComposeProject: "matrix", SynapseService: "synapse"}, 200,
			[]string{"docker", "compose", "-f", "/srv/matrix/docker-compose.yml", "-p", "matrix", "logs", "-f", "--no-color", "--tail", "200", "synapse"}},
		{"compose file only, own service name",
			config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/dc.yml", SynapseService: "matrix-synapse"}, 0,
			[]string{"docker", "compose", "-f", "/srv/dc.yml", "logs", "-f", "--no-color", "--tail", "0", "matrix-synapse"}},
		{"compose project only, default service",
			config.Services{Kind: config.ServicesCompose, ComposeProject: "openmeet"}, -1,
			[]string{"docker", "compose", "-p", "openmeet", "logs", "-f", "--no-color", "--tail", "all", "synapse"}},
		{"systemd",
			config.Services{Kind: config.ServicesSystemd, SynapseUnit: "matrix-synapse"}, 500,
			[]string{"journalctl", "-f", "-u", "matrix-synapse", "-n", "500", "-o", "short-iso", "--no-pager"}},
		{"systemd default unit",
			config.Services{Kind: config.ServicesSystemd}, 10,
			[]string{"journalctl", "-f", "-u", "matrix-synapse", "-n", "10", "-o", "short-iso", "--no-pager"}},
		{"custom", config.Services{Kind: config.ServicesCustom, Start: []string{"x"}}, 10, nil},
		{"none", config.Services{Kind: config.ServicesNone}, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := services.LogsCommand(tt.s, tt.tail)
			if ok != (tt.want != nil) || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q (%v), want %q", got, ok, tt.want)
			}
		})
	}
}

func TestStatsCommand(t *testing.T) {
	tests := []struct {
		name string
		s    config.Services
		want []string
	}{
		{"compose",
			config.Services{Kind: config.ServicesCompose, ComposeFile: "/srv/dc.yml", ComposeProject: "matrix", SynapseService: "synapse"},
			[]string{"docker", "compose", "-f", "/srv/dc.yml", "-p", "matrix", "stats", "--no-stream", "--format", "json", "synapse"}},
		{"systemd",
			config.Services{Kind: config.ServicesSystemd, SynapseUnit: "synapse.service"},
			[]string{"systemctl", "show", "synapse.service", "-p", "MemoryCurrent", "-p", "CPUUsageNSec", "-p", "ActiveState", "-p", "MainPID"}},
		{"custom", config.Services{Kind: config.ServicesCustom}, nil},
		{"none", config.Services{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := services.StatsCommand(tt.s)
			if ok != (tt.want != nil) || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q (%v), want %q", got, ok, tt.want)
			}
		})
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestRunOK(t *testing.T) {
	stub := servicestest.Install(t, "docker", `echo "hello $1"; echo "noise" >&2`)
	out, err := services.Exec{}.Run(ctxT(t, 10*time.Second), []string{"docker", "ps", "--all args"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "hello ps\n" {
		t.Errorf("got stdout %q, want %q", out, "hello ps\n")
	}
	if got, want := stub.Calls(t), [][]string{{"ps", "--all args"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("stub got %q, want %q", got, want)
	}
}

func TestRunFailure(t *testing.T) {
	// stdout carries a "secret"; stderr is long and carries escape sequences.
	servicestest.Install(t, "docker", `echo "token syt_SECRET_in_stdout"
printf '\033[31mError\033[0m: no such service: synapse\033]0;pwned\007 ' >&2
i=0; while [ $i -lt 100 ]; do printf 'more-detail ' >&2; i=$((i+1)); done
exit 3`)
	_, err := services.Exec{}.Run(ctxT(t, 10*time.Second), []string{"docker", "compose", "logs"})
	var ee *services.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got %T %v, want *services.ExitError", err, err)
	}
	if ee.Code != 3 || ee.Name != "docker" {
		t.Errorf("got code %d name %q, want 3 docker", ee.Code, ee.Name)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "docker: exit status 3: Error: no such service: synapse") {
		t.Errorf("got %q, want it to start with the cleaned stderr", msg)
	}
	if strings.Contains(msg, "SECRET") {
		t.Errorf("error %q carries stdout", msg)
	}
	if strings.ContainsAny(msg, "\x1b\x07") || strings.Contains(msg, "pwned") {
		t.Errorf("error %q carries escape sequences", msg)
	}
	if len(ee.Stderr) > 310 {
		t.Errorf("got %d bytes of stderr in the error, want about 300", len(ee.Stderr))
	}
}

func TestRunNotFound(t *testing.T) {
	_, err := services.Exec{}.Run(ctxT(t, 10*time.Second), []string{"synops-no-such-command-here"})
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("got %v, want exec.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "synops-no-such-command-here") {
		t.Errorf("got %q, want the command named", err)
	}
	if _, err := (services.Exec{}).Run(context.Background(), nil); err == nil {
		t.Error("empty argv: got no error")
	}
}

func TestRunCancelKillsChildren(t *testing.T) {
	// The stub's own child (sleep) holds stdout: only killing the group ends Run.
	servicestest.Install(t, "docker", `sleep 30 & wait`)
	ctx := ctxT(t, 300*time.Millisecond)
	start := time.Now()
	_, err := services.Exec{}.Run(ctx, []string{"docker", "stats"})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %s after cancel, want it to return promptly", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestEnv(t *testing.T) {
	stub := servicestest.Install(t, "docker", `echo "$SERVICES_TEST_VAR"`)
	env := []string{"SERVICES_TEST_VAR=set", "PATH=" + filepath.Dir(stub.Path)}
	out, err := services.Exec{Env: env}.Run(ctxT(t, 10*time.Second), []string{"docker"})
	if err != nil || strings.TrimSpace(string(out)) != "set" {
		t.Errorf("got %q, %v; want set", out, err)
	}
}

// docker, journalctl and systemctl run with synops' environment minus the
// secrets it holds: a real child prints what it got.
func TestChildEnvironmentHidesSecrets(t *testing.T) {
	t.Setenv("MATRIX_ADMIN_TOKEN", "syt_parent_token_0002")
	t.Setenv("PGPASSWORD", "pg-parent-secret")
	t.Setenv("SYNOPS_SYNAPSE_DB_DSN", "postgres://u:dsn-parent-secret@h/db")
	t.Setenv("DOCKER_HOST", "unix:///run/docker.sock")
	servicestest.Install(t, "docker", `env`)
	servicestest.Install(t, "journalctl", `env`)
	check := func(what, env string, hidden, kept []string) {
		t.Helper()
		for _, h := range hidden {
			if strings.Contains(env, h) {
				t.Errorf("%s saw %q:\n%s", what, h, env)
			}
		}
		for _, k := range kept {
			if !strings.Contains(env, k) {
				t.Errorf("%s lacks %q:\n%s", what, k, env)
			}
		}
	}
	out, err := services.Exec{}.Run(ctxT(t, 10*time.Second), []string{"docker", "stats"})
	if err != nil {
		t.Fatal(err)
	}
	check("docker (Run)", string(out), []string{"MATRIX_ADMIN_TOKEN", "syt_parent", "PGPASSWORD", "SYNOPS_"}, []string{"DOCKER_HOST=unix:///run/docker.sock", "PATH="})

	rc, wait, err := services.Exec{}.Start(ctxT(t, 10*time.Second), []string{"journalctl", "-f"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	_ = wait()
	check("journalctl (Start)", string(data), []string{"MATRIX_ADMIN_TOKEN", "PGPASSWORD", "SYNOPS_"}, []string{"PATH="})

	out, err = services.Exec{Pass: []string{"PGPASSWORD"}}.Run(ctxT(t, 10*time.Second), []string{"docker"})
	if err != nil {
		t.Fatal(err)
	}
	check("docker with Pass", string(out), []string{"MATRIX_ADMIN_TOKEN"}, []string{"PGPASSWORD=pg-parent-secret"})
}

func TestStartMergesOutput(t *testing.T) {
	servicestest.Install(t, "journalctl", `echo out1; echo err1 >&2; echo out2; exit 1`)
	rc, wait, err := services.Exec{}.Start(ctxT(t, 10*time.Second), []string{"journalctl", "-f"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"out1\n", "err1\n", "out2\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("got %q, want it to contain %q", data, want)
		}
	}
	werr := wait()
	var ee *services.ExitError
	if !errors.As(werr, &ee) || ee.Code != 1 {
		t.Errorf("got %v, want exit status 1", werr)
	}
}

func TestStartCancel(t *testing.T) {
	servicestest.Install(t, "docker", `while true; do echo tick; sleep 0.05; done`)
	ctx, cancel := context.WithCancel(context.Background())
	rc, wait, err := services.Exec{}.Start(ctx, []string{"docker", "compose", "logs", "-f"})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "tick\n" {
		t.Fatalf("got %q, %v", buf, err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { _, _ = io.Copy(io.Discard, rc); done <- wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("wait after cancel: got nil, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the command kept running after cancel")
	}
	rc.Close()
}
