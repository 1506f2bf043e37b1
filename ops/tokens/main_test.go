package tokens

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"synops/ops"
	"synops/ops/audit"
	"synops/ops/config"
	"synops/ops/testbed"
	"synops/synapse"
)

var bed *testbed.Bed

// The test binary doubles as the commands a rotation runs (the
// application's check, its redeploy, a secret store): with
// TOKENS_TEST_HELPER=1 in its environment it runs helperMain instead of
// the tests. The variable is not one synops hides from children.
func TestMain(m *testing.M) {
	if os.Getenv("TOKENS_TEST_HELPER") == "1" {
		os.Exit(helperMain(os.Args))
	}
	testbed.Main(m, testbed.Options{}, func(b *testbed.Bed) { bed = b })
}

// helperMain: argv is <binary> -- <mode> <dir> [url]. Each mode appends
// what it saw to <dir>/<mode>.log and fails when <dir>/<mode>.fail exists
// (and removes <dir>/<mode>.fail-once when it fails because of it).
func helperMain(args []string) int {
	i := 0
	for i < len(args) && args[i] != "--" {
		i++
	}
	if len(args) < i+3 {
		fmt.Fprintln(os.Stderr, "helper: want -- <mode> <dir> [url]")
		return 2
	}
	mode, dir := args[i+1], args[i+2]
	logf, err := os.OpenFile(filepath.Join(dir, mode+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer logf.Close()
	note := func(format string, a ...any) { fmt.Fprintf(logf, format+"\n", a...) }
	_, inherited := os.LookupEnv("MATRIX_ADMIN_TOKEN")
	switch mode {
	case "redeploy":
		note("redeploy inherited-token=%v env-file=%s", inherited && os.Getenv("MATRIX_ADMIN_TOKEN") != "", hashFile(filepath.Join(dir, "app", ".env")))
	case "check":
		tok := synapse.NewSecret(os.Getenv("MATRIX_ADMIN_TOKEN"))
		c, err := synapse.New(args[i+3], tok)
		if err != nil {
			note("check error %v", err)
			return 1
		}
		w, err := whoamiAdmin(context.Background(), c)
		if err != nil {
			note("check token=%s error %v", hash(tok.Reveal()), err)
			fmt.Fprintf(os.Stderr, "check failed for token %s\n", tok.Reveal()) // a careless check script
			return 1
		}
		note("check token=%s user=%s", hash(tok.Reveal()), w.UserID)
	case "store":
		data, _ := io.ReadAll(os.Stdin)
		if err := os.WriteFile(filepath.Join(dir, "store.secret"), data, 0o600); err != nil {
			note("store error %v", err)
			return 1
		}
		note("store token=%s", hash(strings.TrimSpace(string(data))))
	}
	if _, err := os.Stat(filepath.Join(dir, mode+".fail")); err == nil {
		if mode == "check" { // a careless check script that prints its token
			fmt.Fprintf(os.Stderr, "check failed for token %s\n", os.Getenv("MATRIX_ADMIN_TOKEN"))
		}
		fmt.Fprintf(os.Stderr, "%s: told to fail\n", mode)
		return 1
	}
	if err := os.Remove(filepath.Join(dir, mode+".fail-once")); err == nil {
		fmt.Fprintf(os.Stderr, "%s: told to fail once\n", mode)
		return 1
	}
	return 0
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

func hashFile(p string) string {
	data, err := os.ReadFile(p)
	if err != nil {
		return "missing"
	}
	return hash(string(data))
}

// helper is the argv of a helper command.
func helper(mode, dir string, extra ...string) []string {
	return append([]string{os.Args[0], "-test.run=^$", "--", mode, dir}, extra...)
}

// fixture is an application beside the test bed: an env file, a secret
// file, synops' own token file, a secret store command, a redeploy and a
// check, all under one directory, and a service that rotates the token of
// a fresh admin (never the bed's own).
type fixture struct {
	t         *testing.T
	dir       string
	envFile   string
	secret    string
	own       string
	oldAdmin  string
	old       synapse.Secret
	svc       *Service
	auditPath string
	history   string
	// debug is a debug log as the console keeps one: what a pane would log
	// of plans, progress, rotations and errors goes there, and is scanned.
	debug     *slog.Logger
	debugPath string
	mu        sync.Mutex
	progress  []string
}

const envBefore = "# OpenMeet\nAPP_NAME=openmeet\nexport MATRIX_ADMIN_TOKEN=\"%s\"\r\nDATABASE_URL=postgres://openmeet@db/openmeet\n"

func newFixture(t *testing.T, name string, withCommand bool) *fixture {
	t.Helper()
	ctx := context.Background()
	reg, err := bed.Synapse.Register(ctx, name, true)
	if err != nil {
		t.Fatalf("register the old admin: %v", err)
	}
	f := &fixture{t: t, dir: t.TempDir(), oldAdmin: reg.UserID, old: reg.AccessToken}
	app := filepath.Join(f.dir, "app")
	secrets := filepath.Join(f.dir, "secrets")
	for _, d := range []string{app, secrets, filepath.Join(f.dir, "state")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	f.envFile = filepath.Join(app, ".env")
	f.secret = filepath.Join(secrets, "matrix_admin_token")
	f.own = filepath.Join(f.dir, "synops.token")
	write(t, f.envFile, fmt.Sprintf(envBefore, f.old.Reveal()), 0o640)
	write(t, f.secret, f.old.Reveal()+"\n", 0o600)
	write(t, f.own, f.old.Reveal()+"\n", 0o600)

	f.auditPath = filepath.Join(f.dir, "state", "audit.log")
	f.history = filepath.Join(f.dir, "state", "tokens.json")
	f.debugPath = filepath.Join(f.dir, "state", "synops.log")
	dl, err := os.OpenFile(f.debugPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dl.Close() })
	f.debug = slog.New(slog.NewTextHandler(dl, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.Tokens{
		WriteTo: []config.TokenTarget{
			{File: f.envFile, EnvVar: "MATRIX_ADMIN_TOKEN"},
			{File: f.secret},
		},
		Redeploy: helper("redeploy", f.dir),
		Check:    helper("check", f.dir, bed.Synapse.BaseURL),
		CheckEnv: "MATRIX_ADMIN_TOKEN", MaxAge: config.DefaultTokenMaxAge, AdminPrefix: "admin",
	}
	if withCommand {
		cfg.WriteTo = append(cfg.WriteTo, config.TokenTarget{Command: helper("store", f.dir)})
	}
	f.svc = f.service(f.old, cfg)
	return f
}

// service is a Service as cmd/synops builds one, with token as synops' token.
func (f *fixture) service(token synapse.Secret, cfg config.Tokens) *Service {
	log, err := audit.Open(f.auditPath, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := synapse.New(bed.Synapse.BaseURL, token, synapse.WithRetries(0), synapse.WithTimeout(5*time.Second))
	if err != nil {
		f.t.Fatal(err)
	}
	return &Service{
		Synapse: c, Guard: &ops.Guard{Audit: log, Profile: "test"}, History: OpenHistory(f.history),
		Config: cfg, Own: config.TokenSource{File: f.own}, SharedSecret: bed.Synapse.SharedSecret,
		Server: bed.Synapse.ServerName, Environment: "development",
		// synops' own environment carries the old token: no child may inherit it.
		Environ: func() []string {
			return append(os.Environ(), "TOKENS_TEST_HELPER=1", "MATRIX_ADMIN_TOKEN="+f.old.Reveal(), "SYNOPS_TEST=1")
		},
	}
}

func (f *fixture) onProgress(p ops.Progress) {
	f.debug.Debug("progress", "progress", p)
	f.mu.Lock()
	f.progress = append(f.progress, p.String())
	f.mu.Unlock()
}

// rotate plans and applies a rotation with the server name typed.
func (f *fixture) rotate(req RotateRequest, progress func(ops.Progress)) (*ops.Plan, *Rotation, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := f.svc.PlanRotate(ctx, req)
	if err != nil {
		f.t.Fatalf("PlanRotate: %v", err)
	}
	a, err := ops.Approve(p, bed.Synapse.ServerName, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	if progress == nil {
		progress = f.onProgress
	}
	rot, err := f.svc.ApplyRotate(ctx, p, a, progress)
	f.debug.Info("rotate", "plan", p, "rotation", rot, "err", err)
	return p, rot, err
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// works asserts that tok is a valid admin token of who, read back from the server.
func works(t *testing.T, tok synapse.Secret, who string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := synapse.New(bed.Synapse.BaseURL, tok, synapse.WithRetries(0))
	w, err := whoamiAdmin(ctx, c)
	if err != nil {
		t.Fatalf("token %s of %s does not work as an admin's: %v", tok.Hint(), who, err)
	}
	if w.UserID != who {
		t.Fatalf("token %s belongs to %s, want %s", tok.Hint(), w.UserID, who)
	}
}

// rejected asserts the server refuses tok.
func rejected(t *testing.T, tok synapse.Secret) {
	t.Helper()
	c, _ := synapse.New(bed.Synapse.BaseURL, tok, synapse.WithRetries(0))
	_, err := c.Whoami(context.Background())
	if err == nil || !strings.Contains(err.Error(), string(synapse.ErrUnknownToken)) {
		t.Fatalf("token %s: whoami = %v, want M_UNKNOWN_TOKEN", tok.Hint(), err)
	}
}

// deactivated reads an account's state back with the bed's own admin.
func deactivated(t *testing.T, userID string) bool {
	t.Helper()
	u, err := bed.Synapse.Client().User(context.Background(), userID)
	if err != nil {
		t.Fatalf("look up %s: %v", userID, err)
	}
	return u.Deactivated
}

// noSecrets fails if any of the tokens appears in one of the files or in
// the texts (errors, progress lines).
func noSecrets(t *testing.T, tokens []synapse.Secret, files []string, texts ...string) {
	t.Helper()
	named := map[string]string{}
	for i, s := range texts {
		named[fmt.Sprintf("text %d", i)] = s
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("scan %s: %v", p, err)
		}
		named[p] = string(data)
	}
	for _, tok := range tokens {
		for name, s := range named {
			if !tok.IsZero() && strings.Contains(s, tok.Reveal()) {
				t.Errorf("the token %s appears in %s", tok.Hint(), name)
			}
		}
	}
}

// unwritable makes dir refuse new files for real: chattr +i for root (who
// ignores permissions), chmod 0500 for anyone else.
func unwritable(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Fatalf("chattr +i %s: %v %s", dir, err, bytes.TrimSpace(out))
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
		return
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
}
