// Package dockertest gives tests the real Docker engine that `make test`
// starts (.ci/with-dockerd), in the spirit of net/http/httptest: images
// built here without a registry, compose projects on host networking, and
// everything a test made removed when it ends. There is no registry to
// pull from, so two images are made with `docker import`: Busybox (the
// static busybox, for throwaway containers) and HostRoot (an almost empty
// root whose /bin, /lib and /sbin lead into /usr, run with the host's /usr
// and /etc mounted read-only, so the host's PostgreSQL 15 and Python run
// inside). A test that finds no engine fails: integration tests never skip.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The images Images makes.
const (
	Busybox  = "local/synops-busybox"
	HostRoot = "local/synops-hostroot"
)

// Require fails the test unless a Docker engine answers.
func Require(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		t.Fatalf("no Docker engine answers (DOCKER_HOST=%q): %v %s\n"+
			"run the tests with `make test`, which starts one (.ci/with-dockerd), or `.ci/with-dockerd go test ./...`",
			os.Getenv("DOCKER_HOST"), err, bytes.TrimSpace(out))
	}
}

// Run runs docker (or docker-compose) with args and fails the test on error.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := Output(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// Output runs a command and returns its combined output.
func Output(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

var images sync.Once
var imagesErr error

// Images makes Busybox and HostRoot once per test binary, when missing.
func Images(t testing.TB) {
	t.Helper()
	Require(t)
	images.Do(func() {
		if imagesErr = importImage(Busybox, `CMD ["/bin/sh"]`, busyboxRoot); imagesErr != nil {
			return
		}
		imagesErr = importImage(HostRoot, `CMD ["/bin/sh"]`, hostRoot)
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
}

func importImage(name, change string, root func(tw *tar.Writer) error) error {
	if _, err := Output("docker", "image", "inspect", name); err == nil {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := root(tw); err != nil {
		return fmt.Errorf("build %s: %w", name, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	cmd := exec.Command("docker", "import", "--change", change, "-", name)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker import %s: %v\n%s", name, err, out)
	}
	return nil
}

func dir(tw *tar.Writer, name string, mode int64) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: time.Now()})
}

func link(tw *tar.Writer, name, target string) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: time.Now()})
}

// busyboxRoot is /bin/busybox (Debian's busybox-static) and a link per applet.
func busyboxRoot(tw *tar.Writer) error {
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("%w (install busybox-static: make deps does)", err)
	}
	for _, d := range []string{"bin", "tmp", "data"} {
		if err := dir(tw, d, 0o1777); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			if err := link(tw, "bin/"+applet, "busybox"); err != nil {
				return err
			}
		}
	}
	return nil
}

// hostRoot is the skeleton the host's /usr and /etc are mounted into.
func hostRoot(tw *tar.Writer) error {
	for _, d := range []string{"usr", "etc", "run", "var", "var/lib", "var/lib/postgresql", "dev", "proc", "sys", "home", "root", "work"} {
		if err := dir(tw, d, 0o755); err != nil {
			return err
		}
	}
	if err := dir(tw, "tmp", 0o1777); err != nil {
		return err
	}
	for name, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64", "var/run": "../run"} {
		if err := link(tw, name, target); err != nil {
			return err
		}
	}
	return nil
}

// Compose names a compose spelling.
type Compose string

const (
	V2 Compose = "docker compose" // the CLI plugin, built by make compose-v2
	V1 Compose = "docker-compose" // Debian's docker-compose 1.29
)

// Use makes exactly spelling c available to the code under test: V2 points
// DOCKER_CONFIG at the directory holding the compose plugin, V1 at an empty
// one, so `docker compose` fails and the fallback to docker-compose runs.
func Use(t testing.TB, c Compose) {
	t.Helper()
	switch c {
	case V2:
		cfg, err := pluginConfig()
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", cfg)
		if out, err := Output("docker", "compose", "version"); err != nil {
			t.Fatalf("docker compose (plugin in %s): %v %s", cfg, err, out)
		}
	case V1:
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		if out, err := Output("docker-compose", "version"); err != nil {
			t.Fatalf("docker-compose (make deps installs it): %v %s", err, out)
		}
		if _, err := Output("docker", "compose", "version"); err == nil {
			t.Fatal("docker compose still works without the plugin directory: the fallback would not be tested")
		}
	}
}

// pluginConfig is <module>/.cache/docker-config, where make compose-v2
// puts cli-plugins/docker-compose.
func pluginConfig() (string, error) {
	if d := os.Getenv("SYNOPS_COMPOSE_V2_CONFIG"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			cfg := filepath.Join(d, ".cache", "docker-config")
			if _, err := os.Stat(filepath.Join(cfg, "cli-plugins", "docker-compose")); err != nil {
				return "", fmt.Errorf("no compose plugin at %s: run make compose-v2 (make test does)", cfg)
			}
			return cfg, nil
		}
		if d == filepath.Dir(d) {
			return "", errors.New("cannot find the module root to locate .cache/docker-config")
		}
	}
}

// Project is a compose project in a temporary directory.
type Project struct {
	Name string
	Dir  string
	File string
}

// NewProject writes compose (the file's text) into a new directory and
// removes the project's containers and volumes when the test ends.
func NewProject(t testing.TB, name, compose string) *Project {
	t.Helper()
	p := &Project{Name: name, Dir: t.TempDir()}
	p.File = filepath.Join(p.Dir, "docker-compose.yml")
	if err := os.WriteFile(p.File, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Remove(t, p.Name) })
	return p
}

// Remove deletes every container and volume of compose project name.
func Remove(t testing.TB, name string) {
	label := "label=com.docker.compose.project=" + name
	if out, _ := Output("docker", "ps", "-aq", "--filter", label); strings.TrimSpace(out) != "" {
		if out, err := Output("docker", append([]string{"rm", "-f", "-v"}, strings.Fields(out)...)...); err != nil {
			t.Errorf("remove containers of %s: %v %s", name, err, out)
		}
	}
	if out, _ := Output("docker", "volume", "ls", "-q", "--filter", label); strings.TrimSpace(out) != "" {
		if out, err := Output("docker", append([]string{"volume", "rm", "-f"}, strings.Fields(out)...)...); err != nil {
			t.Errorf("remove volumes of %s: %v %s", name, err, out)
		}
	}
}

// Compose runs the project's compose command with spelling c.
func (p *Project) Compose(t testing.TB, c Compose, args ...string) string {
	t.Helper()
	base := []string{"-f", p.File, "-p", p.Name}
	if c == V2 {
		return Run(t, "docker", append(append([]string{"compose"}, base...), args...)...)
	}
	return Run(t, "docker-compose", append(base, args...)...)
}

// FreePort returns a loopback port nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Logs is the output of the project's containers, for a failing test.
func (p *Project) Logs() string {
	ids, _ := Output("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+p.Name)
	var b strings.Builder
	for _, id := range strings.Fields(ids) {
		name, _ := Output("docker", "inspect", "--format", "{{.Name}}", id)
		out, _ := Output("docker", "logs", "--tail", "40", id)
		fmt.Fprintf(&b, "--- %s%s\n", strings.TrimSpace(name), out)
	}
	return b.String()
}

// WaitFor polls ok until it returns nil or limit passes.
func WaitFor(t testing.TB, limit time.Duration, what string, ok func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := ok()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready after %s: %v", what, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pgEntrypoint starts PostgreSQL in HostRoot as the postgres user: initdb
// on first start (superuser $POSTGRES_USER with $POSTGRES_PASSWORD; local
// socket trusted, TCP by password; $POSTGRES_DB created, as the official
// image does, when set), then postgres on $PGPORT. Docker reads
// the image's /etc/passwd for `user:`, and HostRoot has none of its own,
// so the switch happens here with setpriv.
const pgEntrypoint = `#!/bin/sh
set -e
D=/var/lib/postgresql/data
mkdir -p "$D" /run/postgresql
chown postgres:postgres "$D" /run/postgresql
chmod 700 "$D"
if [ ! -s "$D/PG_VERSION" ]; then
  printf '%s\n' "$POSTGRES_PASSWORD" > /run/postgresql/pw
  chown postgres /run/postgresql/pw
  setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/initdb" -D "$D" -U "$POSTGRES_USER" \
    --pwfile=/run/postgresql/pw --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >/dev/null
  rm /run/postgresql/pw
  if [ -n "$POSTGRES_DB" ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" |
      setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" --single -D "$D" postgres >/dev/null
  fi
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" -D "$D" -p "$PGPORT" \
  -k /run/postgresql -c listen_addresses=127.0.0.1 -c fsync=off
`

// Postgres describes a PostgreSQL service for a compose file.
type Postgres struct {
	Service  string // compose service name
	Volume   string // the named volume for its data
	Port     int
	User     string // a superuser, made by initdb
	Password string
	BinDir   string // the host's PostgreSQL binaries (pgtest.BinDir)
	// Database is created (UTF8, C, owned by User) when the data volume is
	// new, as the official image's POSTGRES_DB: a Synapse in the project
	// finds its database again after its volume was removed.
	Database string
}

// ServiceYAML writes the entry point into dir and returns the service's
// lines of a compose file (indented for "services:"). Inside the container
// PGHOST and PGPORT point the client programs at the server over TCP, so
// they need the password: a test of passing it by environment means
// something.
func (pg Postgres) ServiceYAML(t testing.TB, dir string) string {
	t.Helper()
	ep := filepath.Join(dir, "pg-entrypoint.sh")
	if err := os.WriteFile(ep, []byte(pgEntrypoint), 0o755); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`  %s:
    image: %s
    network_mode: host
    stop_signal: SIGINT
    entrypoint: ["/bin/sh", "/entrypoint.sh"]
    environment:
      POSTGRES_USER: %q
      POSTGRES_PASSWORD: %q
      POSTGRES_DB: %q
      PGPORT: "%d"
      PGHOST: 127.0.0.1
      PGBIN: %q
      PATH: %q
    volumes:
      - /usr:/usr:ro
      - /etc:/etc:ro
      - %s:/entrypoint.sh:ro
      - %s:/var/lib/postgresql/data
`, pg.Service, HostRoot, pg.User, pg.Password, pg.Database, pg.Port, pg.BinDir, pg.BinDir+":/usr/bin:/bin", ep, pg.Volume)
}
