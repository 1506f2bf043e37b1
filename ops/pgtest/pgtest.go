// Package pgtest gives tests a real PostgreSQL: a throwaway cluster started
// from the machine's PostgreSQL binaries, or the server named by
// TEST_DATABASE_URL. It creates databases the way Synapse needs them and
// removes everything it made when stopped.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running PostgreSQL server that the tests may use freely.
type Cluster struct {
	host     string
	port     int
	user     string
	password string
	adminDB  string
	bindir   string
	listen   string // listen_addresses of a cluster we started

	dir  string    // data directory of a cluster we started; "" for TEST_DATABASE_URL
	cmd  *exec.Cmd // the postmaster we started
	done chan struct{}
	cred *syscall.Credential // whom the postmaster runs as

	mu      sync.Mutex
	created []string // databases to drop on Stop when the server is not ours
}

// Start returns a cluster: the one in TEST_DATABASE_URL if set, else a new one.
func Start(ctx context.Context) (*Cluster, error) {
	if raw := os.Getenv("TEST_DATABASE_URL"); raw != "" {
		return external(ctx, raw)
	}
	return startLocal(ctx, Options{})
}

// Options shape a cluster this package starts.
type Options struct {
	// ListenAddresses is the server's listen_addresses (default
	// 127.0.0.1). "*" binds every interface: the security audit's tests
	// need a server that does, to see it found.
	ListenAddresses string
}

// StartLocal starts a new throwaway cluster with o, whatever
// TEST_DATABASE_URL says. Its address for clients is still 127.0.0.1.
func StartLocal(ctx context.Context, o Options) (*Cluster, error) {
	return startLocal(ctx, o)
}

func external(ctx context.Context, raw string) (*Cluster, error) {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, errors.New("TEST_DATABASE_URL is not a valid PostgreSQL URL (expected postgres://user:pass@host:port/db)")
	}
	c := &Cluster{host: cfg.Host, port: int(cfg.Port), user: cfg.User, password: cfg.Password, adminDB: cfg.Database}
	if c.adminDB == "" {
		c.adminDB = "postgres"
	}
	if err := c.waitReady(ctx, 10*time.Second); err != nil {
		return nil, fmt.Errorf("TEST_DATABASE_URL %s: %w", c.Redacted(), err)
	}
	return c, nil
}

// BinDir finds the PostgreSQL server binaries: $PG_BINDIR, else the newest
// /usr/lib/postgresql/*/bin, else whatever initdb is on PATH.
func BinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries found (initdb): install postgresql (apt-get install postgresql) or set PG_BINDIR, or set TEST_DATABASE_URL")
}

func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// runAs is the account the server runs under: PostgreSQL refuses to run as root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root, and there is no 'postgres' user to run the test cluster as (install postgresql, or run the tests as an ordinary user)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func startLocal(ctx context.Context, o Options) (*Cluster, error) {
	bindir, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", "synops-pg-")
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	c := &Cluster{host: "127.0.0.1", user: "postgres", adminDB: "postgres", bindir: bindir, dir: dir, cred: cred, listen: o.ListenAddresses}
	if c.listen == "" {
		c.listen = "127.0.0.1"
	}
	fail := func(err error) (*Cluster, error) {
		c.Stop()
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("hand cluster directory to postgres: %w", err))
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bindir, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, tail(out, 1500)))
	}
	for try := 0; ; try++ {
		c.port, err = freePort()
		if err != nil {
			return fail(err)
		}
		if err = c.launch(ctx, data, cred); err == nil {
			return c, nil
		}
		if try == 2 {
			return fail(err)
		}
	}
}

func (c *Cluster) launch(ctx context.Context, data string, cred *syscall.Credential) error {
	logPath := filepath.Join(c.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	if cred != nil {
		_ = os.Chown(logPath, int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(filepath.Join(c.bindir, "postgres"), "-D", data,
		"-p", strconv.Itoa(c.port), "-k", c.dir,
		"-c", "listen_addresses="+c.listen,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=64MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: if the test binary dies (timeout, kill), the server goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	c.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(c.done) }()
	if err := c.waitReady(ctx, 30*time.Second); err != nil {
		c.stopServer()
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("postgres did not become ready: %w\n%s", err, tail(log, 1500))
	}
	return nil
}

func (c *Cluster) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		if c.done != nil {
			select {
			case <-c.done:
				return errors.New("the server exited")
			default:
			}
		}
		conn, err := pgx.Connect(ctx, c.DSN(c.adminDB))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not accepting connections after %s: %v", limit, last)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Host, Port, User and Password describe how to reach the server over TCP.
func (c *Cluster) Host() string     { return c.host }
func (c *Cluster) Port() int        { return c.port }
func (c *Cluster) User() string     { return c.user }
func (c *Cluster) Password() string { return c.password }

// DSN is a URL for database db on this server.
func (c *Cluster) DSN(db string) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(c.host, strconv.Itoa(c.port)), Path: "/" + db}
	if c.password != "" {
		u.User = url.UserPassword(c.user, c.password)
	} else {
		u.User = url.User(c.user)
	}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// Redacted names the server without its password.
func (c *Cluster) Redacted() string {
	return fmt.Sprintf("%s@%s:%d/%s", c.user, c.host, c.port, c.adminDB)
}

// BinDir is where the server's own pg_dump/psql live (empty for an external server).
func (c *Cluster) BinDir() string { return c.bindir }

// Version returns the server version string, e.g. "15.18".
func (c *Cluster) Version(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, c.DSN(c.adminDB))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

// DBOptions shape a new database.
type DBOptions struct {
	Template string // default template0 (required for the C locale)
	Owner    string
}

// CreateDatabase creates name with UTF8 encoding and C collation/ctype, as
// Synapse requires, and returns its DSN.
func (c *Cluster) CreateDatabase(ctx context.Context, name string, o DBOptions) (string, error) {
	if o.Template == "" {
		o.Template = "template0"
	}
	conn, err := pgx.Connect(ctx, c.DSN(c.adminDB))
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	sql := fmt.Sprintf("CREATE DATABASE %s ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{o.Template}.Sanitize())
	if o.Owner != "" {
		sql += " OWNER " + pgx.Identifier{o.Owner}.Sanitize()
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	c.mu.Lock()
	c.created = append(c.created, name)
	c.mu.Unlock()
	return c.DSN(name), nil
}

// DropDatabase drops name, closing other sessions on it first.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.DSN(c.adminDB))
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// UniqueName returns a database name that no other test run will pick.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
}

// Stop shuts the server down and removes its files; for an external server
// it drops the databases it created. It is safe to call twice.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	if c.dir == "" {
		c.mu.Lock()
		dbs := c.created
		c.created = nil
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, db := range dbs {
			_ = c.DropDatabase(ctx, db)
		}
		return
	}
	c.stopServer()
	_ = os.RemoveAll(c.dir)
}

// Down stops the server of a cluster we started, keeping its files, as a
// database restart or outage would; Up starts it again on the same port.
func (c *Cluster) Down() error {
	if c.dir == "" {
		return errors.New("pgtest: cannot stop a TEST_DATABASE_URL server")
	}
	c.stopServer()
	return nil
}

// Up starts the server Down stopped.
func (c *Cluster) Up(ctx context.Context) error {
	if c.dir == "" {
		return errors.New("pgtest: cannot start a TEST_DATABASE_URL server")
	}
	return c.launch(ctx, filepath.Join(c.dir, "data"), c.cred)
}

func (c *Cluster) stopServer() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
	c.cmd = nil
}

func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// removeStale deletes cluster directories left by a test binary that was
// killed before it could clean up: their postmaster is gone.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "synops-pg-*"))
	for _, d := range dirs {
		pid := 0
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		}
		st, err := os.Stat(d)
		if err != nil || time.Since(st.ModTime()) < time.Minute {
			continue // a cluster being set up by a test running right now
		}
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = os.RemoveAll(d)
	}
}
