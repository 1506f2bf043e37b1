package proc

import (
	"bufio"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestEnv(t *testing.T) {
	environ := []string{"PATH=/usr/bin", "MATRIX_ADMIN_TOKEN=syt_x", "PGPASSWORD=pw", "SYNOPS_APP_DB_DSN=postgres://u:pw@h/db",
		"SYNOPS_CONFIG=/etc/synops.yaml", "HOME=/root", "MATRIX_ADMIN_TOKEN_FILE=/x", "PGPASSFILE=/root/.pgpass", "BROKEN"}
	got := Env(environ, nil)
	want := []string{"PATH=/usr/bin", "HOME=/root", "MATRIX_ADMIN_TOKEN_FILE=/x", "PGPASSFILE=/root/.pgpass", "BROKEN"}
	if !slices.Equal(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
	got = Env(environ, []string{"PGPASSWORD"})
	if !slices.Contains(got, "PGPASSWORD=pw") || slices.Contains(got, "MATRIX_ADMIN_TOKEN=syt_x") {
		t.Errorf("Env with pass PGPASSWORD = %q", got)
	}
}

func TestCommand(t *testing.T) {
	t.Setenv("MATRIX_ADMIN_TOKEN", "syt_parent")
	cmd, err := Command(context.Background(), []string{"sh", "-c", "env"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil || strings.Contains(string(out), "MATRIX_ADMIN_TOKEN") || !strings.Contains(string(out), "PATH=") {
		t.Errorf("child environment %q (%v): want PATH and no MATRIX_ADMIN_TOKEN", out, err)
	}
	if _, err := Command(context.Background(), nil, Options{}); err == nil {
		t.Error("an empty argv: got no error")
	}
}

// Cancelling a command ends its whole process group before Wait returns:
// the moment the caller (the console quitting) is done, none of the
// command's children runs on.
func TestCancelEndsTheGroupBeforeWaitReturns(t *testing.T) {
	for round := range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		cmd, err := Command(ctx, []string{"sh", "-c", "for i in $(seq 40); do sleep 1000 & echo $!; done; echo ready; wait"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var pids []string
		sc := bufio.NewScanner(out)
		for sc.Scan() && sc.Text() != "ready" {
			pids = append(pids, sc.Text())
		}
		cancel()
		_ = cmd.Wait()
		for _, pid := range pids {
			if st := state(pid); st != "" && st != "Z" {
				t.Fatalf("round %d: child %s is still in state %s after Wait returned", round, pid, st)
			}
		}
	}
}

// state is the process state letter of pid ("" when it is gone).
func state(pid string) string {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[0]
}
