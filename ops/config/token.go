package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode"

	"synops/ops/proc"
	"synops/synapse"
)

const (
	tokenCommandTimeout = 10 * time.Second
	maxTokenBytes       = 64 << 10
	maxStderrShown      = 200
)

// LoadToken reads the admin access token from the configured source: an
// environment variable (MATRIX_ADMIN_TOKEN unless token.env names another), a
// file that only its owner can read, or a command whose stdout is the token.
// Errors never contain the token or the command's stdout.
func (r *Resolved) LoadToken(ctx context.Context) (synapse.Secret, error) {
	src := r.Token
	var (
		tok   string
		what  string // "environment variable X", "file X", "command X"
		empty string // what an empty token means for this source
		err   error
	)
	switch {
	case len(src.Command) > 0:
		what = "command " + src.Command[0]
		empty = what + " printed nothing on stdout"
		tok, err = runTokenCommand(ctx, src.Command, src.PassEnv)
	case src.File != "":
		what = "file " + src.File
		empty = "token " + what + " is empty"
		tok, err = readTokenFile(src.File)
	default:
		name := src.Env
		if name == "" {
			name = DefaultTokenEnv
		}
		what = "environment variable " + name
		empty = what + " is empty or unset"
		if r.getenv != nil {
			tok = r.getenv(name)
		}
	}
	if err != nil {
		return synapse.Secret{}, fmt.Errorf("load admin token: %w", err)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return synapse.Secret{}, fmt.Errorf("load admin token: %s: %s", empty, r.tokenAlternatives())
	}
	if strings.IndexFunc(tok, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0 {
		return synapse.Secret{}, fmt.Errorf("load admin token: the token from %s contains spaces or several lines: make it hold only the token", what)
	}
	return synapse.NewSecret(tok), nil
}

func (r *Resolved) tokenAlternatives() string {
	where := "the profile"
	if r.Profile != "" {
		where = "profile " + r.Profile
	}
	return fmt.Sprintf("set %s, or put token.file (a file with chmod 600) or token.command (an argv list printing the token) in %s, or pass --token-file",
		DefaultTokenEnv, where)
}

// readTokenFile refuses a file others can read: the token is an admin's.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat() // the opened file, not whatever the path names a moment later
	if err != nil {
		return "", fmt.Errorf("stat token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("token file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("refusing token file %s: group or others can read it (mode %04o): run chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("read token file %s: %w", path, err)
	}
	if len(data) > maxTokenBytes {
		return "", fmt.Errorf("token file %s is larger than %d bytes: is it the right file?", path, maxTokenBytes)
	}
	return string(data), nil
}

// runTokenCommand runs argv without a shell, through ops/proc: it sees
// synops' environment without the secrets synops holds (MATRIX_ADMIN_TOKEN,
// PGPASSWORD, SYNOPS_*) except those pass names. Its stdout is the token, so
// no error ever includes it; stderr is shown, cut short.
func runTokenCommand(ctx context.Context, argv, pass []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, tokenCommandTimeout)
	defer cancel()
	name := argv[0]
	// It keeps synops' process group: pass may ask for a passphrase on the
	// terminal. A child still holding stdout must not hang us for long.
	cmd, err := proc.Command(ctx, argv, proc.Options{Pass: pass, KeepGroup: true, WaitDelay: time.Second})
	if err != nil {
		return "", fmt.Errorf("token command: %w", err)
	}
	stdout := &capBuffer{max: maxTokenBytes}
	stderr := &capBuffer{max: 4 * maxStderrShown}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	err = cmd.Run()
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return "", fmt.Errorf("token command %s did not finish in time (synops allows %s)%s", name, tokenCommandTimeout, stderr.shown())
		case ctx.Err() != nil:
			return "", fmt.Errorf("token command %s: %w", name, ctx.Err())
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("token command %s failed: %s%s", name, ee.ProcessState.String(), stderr.shown())
		}
		return "", fmt.Errorf("token command %s: %w", name, err)
	}
	if stdout.over {
		return "", fmt.Errorf("token command %s printed more than %d bytes: is it the right command?", name, maxTokenBytes)
	}
	return stdout.String(), nil
}

// capBuffer keeps the first max bytes written and drops the rest, so a runaway
// command cannot fill memory.
type capBuffer struct {
	max  int
	buf  []byte
	over bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - len(b.buf); n > room {
		b.over = true
		p = p[:max(room, 0)]
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *capBuffer) String() string { return string(b.buf) }

// shown is stderr for an error message: control characters removed, at most
// maxStderrShown bytes, "" when there was none.
func (b *capBuffer) shown() string {
	s := strings.TrimSpace(strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, string(b.buf)))
	if s == "" {
		return ""
	}
	if len(s) > maxStderrShown {
		cut := maxStderrShown
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return "; stderr: " + s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
