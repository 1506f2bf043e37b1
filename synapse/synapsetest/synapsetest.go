// Package synapsetest runs a real Synapse for tests and the demo sandbox, in
// the spirit of net/http/httptest: Start it on free loopback ports against a
// PostgreSQL database the caller provides, use its URL and admin token, Stop it.
// Synapse comes from the virtualenv that `make synapse-env` builds.
package synapsetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"synops/synapse"
)

// DB says where Synapse keeps its data. The database must exist and be
// UTF8 with C collation (see ops/pgtest).
type DB struct {
	Host     string
	Port     int
	User     string
	Password string
	Name     string
}

// Options configure a test Synapse. Zero values are fine except DB.
type Options struct {
	DB         DB
	ServerName string // default "synops.test"
	Venv       string // default: $SYNOPS_SYNAPSE_VENV, else <module>/.cache/synapse-venv
	Dir        string // config, keys, media and logs; default a new temp dir removed by Close
	// Extra is merged over the generated homeserver.yaml (top-level keys).
	Extra map[string]any
	// AppServices are registered with the server (app_service_config_files).
	AppServices []AppService
	// NoAdmin skips registering the admin account (used to build a schema template).
	NoAdmin bool
	// StartTimeout bounds the wait for /health (default 3 minutes: a first
	// boot on an empty database creates the whole schema).
	StartTimeout time.Duration
}

// Server is a running Synapse.
type Server struct {
	BaseURL      string // http://127.0.0.1:<port>
	ServerName   string
	MetricsURL   string // http://127.0.0.1:<port>/_synapse/metrics
	LogPath      string // homeserver.log
	ConfigPath   string // homeserver.yaml
	MediaStore   string
	Dir          string
	Version      string // as /_synapse/admin/v1/server_version reports it
	AdminUserID  string
	AdminToken   synapse.Secret
	SharedSecret synapse.Secret

	python   string
	ownDir   bool
	lock     *os.File // held while the test bed lives (see holdLock)
	timeout  time.Duration
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	stderrFn string
}

// FindVenv locates the Synapse virtualenv.
func FindVenv() (string, error) {
	if v := os.Getenv("SYNOPS_SYNAPSE_VENV"); v != "" {
		return checkVenv(v)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return checkVenv(filepath.Join(dir, ".cache", "synapse-venv"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the module root (go.mod) to locate .cache/synapse-venv; set SYNOPS_SYNAPSE_VENV")
		}
		dir = parent
	}
}

func checkVenv(v string) (string, error) {
	py := filepath.Join(v, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return "", fmt.Errorf("no Synapse virtualenv at %s: run `make synapse-env` first (it installs the pinned matrix-synapse)", v)
	}
	return v, nil
}

// Start writes a config for opts and starts Synapse, waits until /health
// answers, and registers an admin through shared-secret registration.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.ServerName == "" {
		opts.ServerName = "synops.test"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	venv := opts.Venv
	if venv == "" {
		v, err := FindVenv()
		if err != nil {
			return nil, err
		}
		venv = v
	}
	s := &Server{ServerName: opts.ServerName, python: filepath.Join(venv, "bin", "python"), timeout: opts.StartTimeout}
	if opts.Dir == "" {
		removeStale()
		d, err := os.MkdirTemp("", "synops-synapse-")
		if err != nil {
			return nil, err
		}
		opts.Dir, s.ownDir = d, true
		if s.lock, err = holdLock(d); err != nil {
			_ = os.RemoveAll(d)
			return nil, err
		}
	}
	s.Dir = opts.Dir
	if err := s.writeConfig(opts); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if !opts.NoAdmin {
		if err := s.registerAdmin(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) writeConfig(o Options) error {
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	metricsPort, err := freePort()
	if err != nil {
		return err
	}
	s.BaseURL = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	s.MetricsURL = "http://127.0.0.1:" + strconv.Itoa(metricsPort) + "/_synapse/metrics"
	s.ConfigPath = filepath.Join(o.Dir, "homeserver.yaml")
	s.LogPath = filepath.Join(o.Dir, "homeserver.log")
	s.MediaStore = filepath.Join(o.Dir, "media_store")
	s.stderrFn = filepath.Join(o.Dir, "synapse.stderr")
	s.SharedSecret = synapse.NewSecret(randHex(24))

	keyPath := filepath.Join(o.Dir, o.ServerName+".signing.key")
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		line := "ed25519 a_" + randHex(2) + " " + base64.RawStdEncoding.EncodeToString(priv.Seed()) + "\n"
		if err := os.WriteFile(keyPath, []byte(line), 0o600); err != nil {
			return err
		}
	}
	logConfig := filepath.Join(o.Dir, "log.yaml")
	if err := writeYAML(logConfig, map[string]any{
		"version": 1,
		"formatters": map[string]any{"precise": map[string]any{
			"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s"}},
		"filters": map[string]any{"context": map[string]any{
			"()": "synapse.logging.context.LoggingContextFilter", "request": ""}},
		"handlers": map[string]any{"file": map[string]any{
			"class": "logging.FileHandler", "formatter": "precise", "filters": []string{"context"},
			"filename": s.LogPath, "encoding": "utf8"}},
		"loggers":                  map[string]any{"synapse.storage.SQL": map[string]any{"level": "WARNING"}},
		"root":                     map[string]any{"level": "INFO", "handlers": []string{"file"}},
		"disable_existing_loggers": false,
	}); err != nil {
		return err
	}
	relaxed := map[string]any{"per_second": 10000, "burst_count": 10000}
	cfg := map[string]any{
		"server_name":                 o.ServerName,
		"pid_file":                    filepath.Join(o.Dir, "homeserver.pid"),
		"report_stats":                false,
		"enable_metrics":              true,
		"signing_key_path":            keyPath,
		"log_config":                  logConfig,
		"media_store_path":            s.MediaStore,
		"registration_shared_secret":  s.SharedSecret.Reveal(),
		"macaroon_secret_key":         randHex(24),
		"form_secret":                 randHex(24),
		"trusted_key_servers":         []any{},
		"suppress_key_server_warning": true,
		"bcrypt_rounds":               4,
		"enable_registration":         false,
		"url_preview_enabled":         false,
		"presence":                    map[string]any{"enabled": false},
		// A new database has ~60 background updates; run them back to back
		// instead of one a second, so a test bed settles in seconds.
		"background_updates": map[string]any{"sleep_enabled": false},
		"listeners": []any{
			map[string]any{"port": httpPort, "type": "http", "tls": false, "x_forwarded": false,
				"bind_addresses": []string{"127.0.0.1"},
				"resources":      []any{map[string]any{"names": []string{"client", "federation"}, "compress": false}}},
			map[string]any{"port": metricsPort, "type": "metrics", "bind_addresses": []string{"127.0.0.1"}},
		},
		"database": map[string]any{"name": "psycopg2", "args": map[string]any{
			"user": o.DB.User, "password": o.DB.Password, "dbname": o.DB.Name,
			"host": o.DB.Host, "port": o.DB.Port, "cp_min": 1, "cp_max": 5}},
		"rc_message":            relaxed,
		"rc_registration":       relaxed,
		"rc_room_creation":      relaxed,
		"rc_joins":              map[string]any{"local": relaxed, "remote": relaxed},
		"rc_joins_per_room":     relaxed,
		"rc_invites":            map[string]any{"per_room": relaxed, "per_user": relaxed, "per_issuer": relaxed},
		"rc_login":              map[string]any{"address": relaxed, "account": relaxed, "failed_attempts": relaxed},
		"rc_admin_redaction":    relaxed,
		"rc_3pid_validation":    relaxed,
		"rc_presence":           map[string]any{"per_user": relaxed},
		"rc_delayed_event_mgmt": relaxed,
		"rc_federation":         map[string]any{"reject_limit": 99999, "concurrent": 100},
	}
	var asFiles []string
	for _, as := range o.AppServices {
		path := filepath.Join(o.Dir, "appservice-"+as.ID+".yaml")
		if err := writeYAML(path, as.registration()); err != nil {
			return err
		}
		asFiles = append(asFiles, path)
	}
	if len(asFiles) > 0 {
		cfg["app_service_config_files"] = asFiles
	}
	for k, v := range o.Extra {
		cfg[k] = v
	}
	return writeYAML(s.ConfigPath, cfg)
}

// AppService is an application service (a bridge, a bot) to register with
// the test server. It has no URL: Synapse pushes it nothing.
type AppService struct {
	ID              string
	ASToken         synapse.Secret // what the service sends to Synapse
	SenderLocalpart string
	UserPrefix      string // it owns the users whose localpart starts with this
}

func (as AppService) registration() map[string]any {
	return map[string]any{
		"id": as.ID, "url": nil, "as_token": as.ASToken.Reveal(), "hs_token": randHex(16),
		"sender_localpart": as.SenderLocalpart, "rate_limited": false,
		"namespaces": map[string]any{
			"users":   []any{map[string]any{"exclusive": true, "regex": "@" + as.UserPrefix + ".*"}},
			"rooms":   []any{},
			"aliases": []any{},
		},
	}
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func (s *Server) start(ctx context.Context) error {
	errf, err := os.OpenFile(s.stderrFn, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.python, "-m", "synapse.app.homeserver", "-c", s.ConfigPath)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = errf, errf
	// GIT_DIR: Synapse appends "git describe" of its install dir to its version,
	// which inside this checkout would describe synops, not Synapse.
	cmd.Env = append(os.Environ(), "GIT_DIR=/nonexistent")
	// The child dies with the test binary, and its own children with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		errf.Close()
		return fmt.Errorf("start synapse: %w", err)
	}
	errf.Close()
	// Synapse writes its pid file only when it daemonizes. Without one,
	// removeStale in any other test binary on this machine takes this
	// running server's directory for a dead one after a minute.
	if err := os.WriteFile(filepath.Join(s.Dir, "homeserver.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("start synapse: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	cl, _ := synapse.New(s.BaseURL, synapse.Secret{}, synapse.WithTimeout(2*time.Second), synapse.WithRetries(0))
	deadline := time.Now().Add(s.timeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("synapse exited during start-up:\n%s", s.Diagnostics())
		default:
		}
		if cl.Health(ctx) == nil {
			break
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("synapse did not answer /health within %s:\n%s", s.timeout, s.Diagnostics())
		}
		select {
		case <-ctx.Done():
			s.Kill()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	v, err := cl.ServerVersion(ctx)
	if err != nil {
		return fmt.Errorf("synapse server_version: %w", err)
	}
	s.Version = v
	return nil
}

// Diagnostics is the end of Synapse's stderr and log, and the errors Synapse
// logged (with their tracebacks): what a failed test run prints so that CI
// output says what Synapse itself complained about.
func (s *Server) Diagnostics() string {
	var b strings.Builder
	for _, p := range []string{s.stderrFn, s.LogPath} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if p == s.LogPath {
			if errs := loggedErrors(string(data), 4000); errs != "" {
				fmt.Fprintf(&b, "--- %s, errors\n%s\n", filepath.Base(p), errs)
			}
		}
		t := strings.TrimSpace(string(data))
		if len(t) > 3000 {
			t = "…" + t[len(t)-3000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(p), t)
	}
	return b.String()
}

// loggedErrors picks the ERROR and CRITICAL lines of a Synapse log with the
// lines that continue them (tracebacks), up to limit bytes.
func loggedErrors(log string, limit int) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(log, "\n") {
		// A log record starts with "2026-11-23 12:55:58,710 - logger - …".
		record := len(l) > 24 && l[4] == '-' && l[10] == ' ' && l[19] == ','
		if record {
			in = strings.Contains(l, " - ERROR - ") || strings.Contains(l, " - CRITICAL - ")
		}
		if in {
			if b.Len()+len(l) > limit {
				b.WriteString("…\n")
				break
			}
			b.WriteString(l + "\n")
		}
	}
	return strings.TrimSpace(b.String())
}

func (s *Server) registerAdmin(ctx context.Context) error {
	r, err := s.Register(ctx, "admin", true)
	if err != nil {
		return fmt.Errorf("register the test admin: %w", err)
	}
	s.AdminUserID, s.AdminToken = r.UserID, r.AccessToken
	return nil
}

// Register creates a user with shared-secret registration; the password is
// the localpart reversed plus a suffix, which tests can recompute with Password.
func (s *Server) Register(ctx context.Context, localpart string, admin bool) (*synapse.Registered, error) {
	cl, err := synapse.New(s.BaseURL, synapse.Secret{})
	if err != nil {
		return nil, err
	}
	return cl.RegisterWithSharedSecret(ctx, s.SharedSecret, synapse.Registration{
		Username: localpart, Password: Password(localpart), Admin: admin,
	})
}

// Password is the password Register gives localpart.
func Password(localpart string) synapse.Secret {
	return synapse.NewSecret("pw-" + localpart + "-synops-test")
}

// Client is an admin client for this server.
func (s *Server) Client(opts ...synapse.Option) *synapse.Client {
	c, err := synapse.New(s.BaseURL, s.AdminToken, opts...)
	if err != nil {
		panic(err) // BaseURL is ours and always valid
	}
	return c
}

// Running reports whether the Synapse process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Stop shuts Synapse down gracefully (SIGTERM, then SIGKILL after 20s). Its
// files stay, so Restart can bring it back on the same ports and database.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, 20*time.Second) }

// Kill stops Synapse at once, as a crash would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, 10*time.Second) }

func (s *Server) signal(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Restart stops Synapse if it runs and starts it again with the same config.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	return s.start(ctx)
}

// Close stops Synapse and removes its directory if Start created it.
func (s *Server) Close() {
	s.Stop()
	if s.ownDir {
		_ = os.RemoveAll(s.Dir)
	}
	if s.lock != nil {
		s.lock.Close()
	}
}

// holdLock takes an exclusive lock on dir/.owner for as long as this test
// binary lives (the kernel drops it when the process dies), so removeStale in
// another package's run can tell a live test bed from a dead one even while
// its Synapse is down on purpose (a test that kills and restarts it).
func holdLock(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".owner"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the test bed directory: %w", err)
	}
	return f, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// removeStale deletes directories left by a test binary that was killed
// before it could clean up: nobody holds their lock and their Synapse is no
// longer running.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "synops-synapse-*"))
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || time.Since(st.ModTime()) < time.Minute {
			continue // being set up by a test running right now
		}
		if f, err := os.OpenFile(filepath.Join(d, ".owner"), os.O_RDWR, 0); err == nil {
			busy := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
			f.Close()
			if busy {
				continue // its test binary is alive
			}
		}
		if b, err := os.ReadFile(filepath.Join(d, "homeserver.pid")); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 && syscall.Kill(pid, 0) == nil {
				continue
			}
		}
		_ = os.RemoveAll(d)
	}
}
