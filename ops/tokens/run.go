package tokens

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"synops/ops/proc"
	"time"

	"synops/ops/services"
	"synops/ops/text"
	"synops/synapse"
)

// How long each configured command may run.
const (
	writeTimeout    = time.Minute
	redeployTimeout = 10 * time.Minute
	checkTimeout    = 2 * time.Minute
)

// childEnv is environ without the variables synops hides from children
// (proc.Hidden) and without any variable set sets, followed by set. It
// matters beyond secrecy: docker compose prefers a variable in its
// environment over the project's .env file, so a redeploy that inherited
// synops' MATRIX_ADMIN_TOKEN would bring the old token back.
func childEnv(environ []string, set map[string]string) []string {
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, over := set[name]; proc.Hidden(name) || over {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

// run runs argv without a shell, in a process group of its own that
// cancelling kills whole, feeding stdin. A failure is a *services.ExitError
// whose standard error has every secret in secrets replaced: a check script
// that echoes its token on failure must not put it in an error message.
func (s *Service) run(ctx context.Context, argv []string, limit time.Duration, stdin []byte, set map[string]string, secrets ...synapse.Secret) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("run: empty command")
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	environ := os.Environ()
	if s.Environ != nil {
		environ = s.Environ()
	}
	cmd, err := proc.Command(ctx, argv, proc.Options{Environ: childEnv(environ, set), Pass: keys(set)})
	if err != nil {
		return err
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stdout = nil // nothing a command prints is shown: it could be anything
	cmd.Stderr = &limitWriter{w: &stderr, n: 4 << 10}
	err = cmd.Run()
	if err == nil {
		return nil
	}
	e := &services.ExitError{Name: argv[0], Code: -1, Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		e.Code = ee.ExitCode()
	}
	if ctx.Err() != nil {
		e.Code = -1
		e.Err = ctx.Err()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.Err = errors.New("did not finish within " + limit.String())
		}
	}
	msg := stderr.String()
	for _, sec := range secrets {
		if !sec.IsZero() {
			msg = strings.ReplaceAll(msg, sec.Reveal(), "[redacted]")
		}
	}
	msg = text.Clean(strings.TrimSpace(strings.ToValidUTF8(msg, "?")))
	if len(msg) > 300 {
		msg = strings.ToValidUTF8(msg[:300], "") + "…"
	}
	e.Stderr = msg
	return e
}

// limitWriter keeps the first n bytes.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
