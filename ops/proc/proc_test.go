package proc

import (
	"context"
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
