package testbed

import (
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// WriteConfig writes a synops config file with one profile, "sandbox", that
// points at this bed: homeserver.yaml for discovery, a 0600 token file with
// the admin token, the app database and a backup directory, all under dir.
func (b *Bed) WriteConfig(dir string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "backups"), 0o700); err != nil {
		return "", err
	}
	tokenPath := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tokenPath, []byte(b.Synapse.AdminToken.Reveal()+"\n"), 0o600); err != nil {
		return "", err
	}
	cfg := map[string]any{
		"default_profile": "sandbox",
		"profiles": map[string]any{"sandbox": map[string]any{
			"environment":     "development",
			"homeserver_yaml": b.Synapse.ConfigPath,
			"token":           map[string]any{"file": tokenPath},
			"app_db_dsn":      b.AppDB,
			"log":             map[string]any{"file": b.Synapse.LogPath},
			"backup":          map[string]any{"dir": filepath.Join(dir, "backups"), "keep": 3, "max_age": "7d"},
		}},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "config.yaml")
	return path, os.WriteFile(path, data, 0o600)
}
