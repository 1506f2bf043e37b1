package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services"
	"synops/synapse"
)

// Service holds what backup operations need. Catalog, Guard and SynapseDB
// are required; the rest switch parts on (AppDB, MediaStore) or make
// restores possible (Services, Synapse).
type Service struct {
	Catalog     *Catalog
	Guard       *ops.Guard
	Server      string
	Environment string

	SynapseDB config.DSN
	// AdminDB may create and drop databases (a verification's scratch
	// database, the database a restore recreates); unset: SynapseDB.
	AdminDB config.DSN
	AppDB   config.DSN // optional: the application (OpenMeet) database
	Format  config.BackupFormat
	DumpVia config.DumpVia

	// Files are kept with every backup and must exist (homeserver.yaml, the
	// profile's backup.files); Discovered are kept when they exist here
	// (the signing key and log config homeserver.yaml names may be paths
	// inside a container).
	Files      []string
	Discovered []string
	MediaStore string
	Media      config.MediaScope

	Services *services.Controller // stops and starts Synapse for a restore
	Synapse  *synapse.Client      // a restore waits for /health and the admin API
	// Volumes and VolumeImage are `backup volumes`' named volumes (empty:
	// every volume of the compose project) and its throwaway container's image.
	Volumes     []string
	VolumeImage string

	// Retention is what prune removes by default.
	Retention Retention

	JobLog  io.Writer // every command and its output; nil: none
	WorkDir string    // where a verification unpacks a dump; default the backup directory
	Now     func() time.Time
	// Wait bounds how long a restore waits for Synapse to answer again
	// (default 3 minutes).
	Wait time.Duration

	// keepOneTimeKeys dumps e2e_one_time_keys_json's rows too, as dumps not
	// made by synops do (tests of the restore that empties it).
	keepOneTimeKeys bool
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) log() io.Writer {
	if s.JobLog == nil {
		return io.Discard
	}
	return s.JobLog
}

func (s *Service) logf(format string, args ...any) {
	fmt.Fprintf(s.log(), "%s "+format+"\n", append([]any{s.now().UTC().Format(time.RFC3339)}, args...)...)
}

func (s *Service) workDir() string {
	if s.WorkDir != "" {
		return s.WorkDir
	}
	return s.Catalog.Dir
}

func (s *Service) format() config.BackupFormat {
	if s.Format == "" {
		return config.FormatCustom
	}
	return s.Format
}

func (s *Service) controller() *services.Controller {
	if s.Services == nil {
		return &services.Controller{}
	}
	return s.Services
}

// check says what is missing before anything is planned.
func (s *Service) check() error {
	switch {
	case s.Catalog == nil || s.Catalog.Dir == "":
		return errors.New("no backup directory: set backup.dir in the profile or pass --backup-dir")
	case s.Guard == nil:
		return errors.New("backup: no guard")
	case !s.SynapseDB.Set():
		return errors.New("no Synapse database: point -c at homeserver.yaml or set synapse_db_dsn in the profile")
	case s.Server == "":
		return errors.New("the server name is unknown: point -c at homeserver.yaml or set server_name in the profile")
	}
	return nil
}

func progressTo(progress func(ops.Progress)) func(ops.Progress) {
	if progress == nil {
		return func(ops.Progress) {}
	}
	return progress
}

func fileIn(dir string, p Part) string { return filepath.Join(dir, p.File) }

// partial is an entry being written: a dot-directory the catalog ignores,
// locked while its writer lives so prune can tell it from a crashed run's.
type partial struct {
	dir  string
	lock *os.File
}

// newPartial makes the directory an entry is written in.
func (c *Catalog) newPartial(id string) (*partial, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create backup directory: %w", err)
	}
	dir := filepath.Join(c.Dir, ".partial-"+id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start backup %s: %w", id, err)
	}
	lock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &partial{dir: dir, lock: lock}, nil
}

// discard removes a partial entry after a failure: nothing of it stays.
func (p *partial) discard() {
	p.lock.Close()
	os.RemoveAll(p.dir)
}

// commit moves a finished entry into the catalog: the rename is the moment
// it exists, and the directory is fsynced so it lasts.
func (c *Catalog) commit(p *partial, id string) error {
	os.Remove(filepath.Join(p.dir, ".lock"))
	final := filepath.Join(c.Dir, id)
	if err := syncDir(p.dir); err != nil {
		p.discard()
		return err
	}
	if err := os.Rename(p.dir, final); err != nil {
		p.discard()
		return fmt.Errorf("add backup %s to the catalog: %w", id, err)
	}
	p.lock.Close()
	return syncDir(c.Dir)
}

// ErrVerifyFailed marks a verification that ran and found the backup bad.
var ErrVerifyFailed = errors.New("verification failed")

// errText is an error made safe for the manifest and the terminal.
func errText(err error) string {
	s := strings.TrimSpace(err.Error())
	if len(s) > 1000 {
		s = s[:1000] + "…"
	}
	return s
}

func waitFor(ctx context.Context, limit time.Duration, what string, ok func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if last = ok(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no answer within %s (last: %v)", what, limit, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
