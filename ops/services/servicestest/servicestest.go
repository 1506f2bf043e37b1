// Package servicestest installs stub executables (docker, journalctl,
// systemctl) first on PATH for a test, in the spirit of net/http/httptest:
// there is no Docker engine on the CI machine, so the commands synops issues
// are checked by what a stub receives and how its output is handled.
package servicestest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Stub is an installed stub executable.
type Stub struct {
	Path     string // the executable
	argsPath string
}

// callSep separates the recorded calls in the args file.
const callSep = "\x1e--call--"

// Install writes a /bin/sh script named name into a fresh temporary directory,
// puts that directory first on PATH for the rest of the test (t.Setenv, so the
// test cannot be parallel), and returns it. The script first records its
// arguments (see Calls), then runs body.
func Install(t testing.TB, name, body string) *Stub {
	t.Helper()
	dir := t.TempDir()
	s := &Stub{Path: filepath.Join(dir, name), argsPath: filepath.Join(dir, name+".args")}
	script := "#!/bin/sh\n" +
		"printf '%s\\n' '" + callSep + "' >> '" + s.argsPath + "'\n" +
		"for a in \"$@\"; do printf '%s\\n' \"$a\" >> '" + s.argsPath + "'; done\n" +
		body + "\n"
	if err := os.WriteFile(s.Path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return s
}

// Calls returns the argv (without the program name) of every run so far, in
// order. Arguments holding newlines are not supported.
func (s *Stub) Calls(t testing.TB) [][]string {
	t.Helper()
	data, err := os.ReadFile(s.argsPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == callSep {
			calls = append(calls, []string{})
			continue
		}
		if len(calls) > 0 {
			calls[len(calls)-1] = append(calls[len(calls)-1], line)
		}
	}
	return calls
}
