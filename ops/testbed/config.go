package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WriteConfig writes a synops config file with one profile, "sandbox", that
// points at this bed: homeserver.yaml for discovery, a 0600 token file with
// the admin token, the app database and a backup directory, all under dir.
// It names no service manager: synops cannot stop Synapse with it.
func (b *Bed) WriteConfig(dir string) (string, error) { return b.writeConfig(dir, false) }

// WriteBoxConfig is WriteConfig for a whole box that may be reset, as the
// sandbox is: Synapse is a service driven by a control script
// (services.kind custom, ControlScript), the reset takes the standalone
// path, and a stand-in application in dir/app reads the admin token from
// its .env, "restarts" by noting the time, and checks its token.
func (b *Bed) WriteBoxConfig(dir string) (string, error) { return b.writeConfig(dir, true) }

func (b *Bed) writeConfig(dir string, box bool) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "backups"), 0o700); err != nil {
		return "", err
	}
	tokenPath := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tokenPath, []byte(b.Synapse.AdminToken.Reveal()+"\n"), 0o600); err != nil {
		return "", err
	}
	profile := map[string]any{
		"environment":     "development",
		"homeserver_yaml": b.Synapse.ConfigPath,
		"token":           map[string]any{"file": tokenPath},
		"app_db_dsn":      b.AppDB,
		"log":             map[string]any{"file": b.Synapse.LogPath},
		"backup":          map[string]any{"dir": filepath.Join(dir, "backups"), "keep": 3, "max_age": "7d"},
	}
	if box {
		ctl := ControlScript(dir)
		if err := b.Synapse.WriteControlScript(ctl); err != nil {
			return "", err
		}
		app, err := b.writeApp(filepath.Join(dir, "app"))
		if err != nil {
			return "", err
		}
		profile["services"] = map[string]any{"kind": "custom",
			"start": []string{ctl, "start"}, "stop": []string{ctl, "stop"}, "status": []string{ctl, "status"}}
		profile["reset"] = map[string]any{"path": "standalone", "restart_app": []string{app.restart}}
		profile["tokens"] = map[string]any{
			"write_to": []any{map[string]any{"file": app.env, "env_var": "MATRIX_ADMIN_TOKEN"}},
			"check":    []string{app.check},
		}
	}
	cfg := map[string]any{"default_profile": "sandbox", "profiles": map[string]any{"sandbox": profile}}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "config.yaml")
	return path, os.WriteFile(path, data, 0o600)
}

// ControlScript is where WriteBoxConfig puts the script that starts, stops and
// reports on the bed's Synapse. A Synapse it started is not the bed's child:
// whoever tears the bed down runs "ControlScript(dir) stop" first.
func ControlScript(dir string) string { return filepath.Join(dir, "synapse-ctl") }

type app struct{ env, restart, check string }

// writeApp writes the stand-in application: its .env holding the admin
// token, a restart command and a check that its token is the one the
// console was told about (tokens.check gives it in MATRIX_ADMIN_TOKEN).
func (b *Bed) writeApp(dir string) (app, error) {
	a := app{env: filepath.Join(dir, ".env"), restart: filepath.Join(dir, "restart-api"), check: filepath.Join(dir, "check-matrix")}
	if strings.ContainsAny(dir, "'\"$`\\ \n") {
		return a, fmt.Errorf("the application's scripts: path %q needs quoting", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return a, err
	}
	files := []struct {
		path, body string
		mode       os.FileMode
	}{
		{a.env, "NODE_ENV=development\nMATRIX_URL=" + b.Synapse.BaseURL + "\nMATRIX_ADMIN_TOKEN=" + b.Synapse.AdminToken.Reveal() + "\n", 0o600},
		{a.restart, "#!/bin/sh\necho 'restarting the OpenMeet API (sandbox stand-in)'\ndate +%s >> " + filepath.Join(dir, "restarted") + "\n", 0o700},
		{a.check, "#!/bin/sh\ngrep -qx \"MATRIX_ADMIN_TOKEN=$MATRIX_ADMIN_TOKEN\" " + a.env + " || { echo 'the application holds another token' >&2; exit 1; }\necho 'the application holds the token'\n", 0o700},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte(f.body), f.mode); err != nil {
			return a, err
		}
	}
	return a, nil
}
