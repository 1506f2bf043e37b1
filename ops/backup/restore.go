package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"synops/ops"
	"synops/ops/services"
	"synops/synapse"
)

// RestoreRequest asks for Synapse's database (and, with Media, its media)
// to be put back as backup ID holds them.
type RestoreRequest struct {
	ID    string `json:"id"`
	Media bool   `json:"media"`
}

// RestoreResult is what a restore did.
type RestoreResult struct {
	ID           string        `json:"id"`
	SafetyBackup string        `json:"safety_backup,omitempty"` // the entry holding the database as it was
	Database     string        `json:"database"`
	OneTimeKeys  int64         `json:"one_time_keys_cleared,omitempty"`
	MediaAside   []string      `json:"media_aside,omitempty"` // the media directories as they were, kept beside the restored ones
	Took         time.Duration `json:"took"`
}

type restoreParams struct {
	RestoreRequest
	Old string `json:"old"` // what the current database is renamed to while the restore runs
}

// units are the services a restore stops: Synapse, and the application API
// when the profile names it.
func (s *Service) units() []services.Unit {
	units := []services.Unit{services.Synapse}
	if s.controller().Manages(services.AppAPI) {
		units = append(units, services.AppAPI)
	}
	return units
}

// PlanRestore says which backup goes back, how verified and how old it is,
// and what it replaces. The operator approves it with the server name.
func (s *Service) PlanRestore(ctx context.Context, req RestoreRequest) (*ops.Plan, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if !s.controller().Manages(services.Synapse) {
		return nil, errors.New("restore: the profile gives synops no way to stop and start Synapse (services.kind compose, systemd or custom); a restore under a running Synapse is refused")
	}
	if s.Synapse == nil {
		return nil, errors.New("restore: no Synapse client to check that Synapse answers afterwards")
	}
	e, err := s.Catalog.Get(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	if err := restorable(e); err != nil {
		return nil, err
	}
	db, err := parseConn(s.SynapseDB, "Synapse database")
	if err != nil {
		return nil, err
	}
	part := e.Manifest.Part(PartSynapseDB)
	if part == nil {
		return nil, fmt.Errorf("backup %s holds no dump of Synapse's database", e.ID)
	}
	now := s.now()
	p := ops.NewPlan("backup.restore", s.Server, s.Server, s.Environment, now)
	params := restoreParams{RestoreRequest: req, Old: oldName(db.Database, now)}
	names := make([]string, 0, 2)
	for _, u := range s.units() {
		names = append(names, string(u))
	}
	p.Steps = []ops.Step{
		{Title: "stop " + strings.Join(names, " and ") + " (" + string(s.controller().Services.Kind) + ")", Risk: ops.Reversible},
		{Title: "take a safety backup of database " + db.Database + " as it is now, into the catalog", Risk: ops.ReadOnly},
		{Title: fmt.Sprintf("rename database %s to %s and create %s afresh (UTF8, C collation, template0)", db.Database, params.Old, db.Database), Risk: ops.Destructive},
		{Title: fmt.Sprintf("restore backup %s into %s", e.ID, db.Database), Risk: ops.Destructive},
	}
	if !slices.Contains(part.DataExcluded, oneTimeKeys) {
		p.Steps = append(p.Steps, ops.Step{Title: "empty " + oneTimeKeys + " (the dump has its rows; clients upload fresh keys)", Risk: ops.Destructive})
	}
	if req.Media {
		mp := e.Manifest.Part(PartMedia)
		if mp == nil {
			return nil, fmt.Errorf("backup %s holds no media: restore without --media", e.ID)
		}
		if s.MediaStore == "" {
			return nil, errors.New("restore media: the media store is unknown (media_store in the profile)")
		}
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("move %s of %s aside and unpack the backup's %d media files", strings.Join(mp.Paths, ", "), s.MediaStore, mp.Files), Risk: ops.Destructive})
	}
	p.Steps = append(p.Steps,
		ops.Step{Title: "start " + strings.Join(names, " and ") + ", wait for /health and the admin API", Risk: ops.Reversible},
		ops.Step{Title: "drop " + params.Old + " (the safety backup holds it)", Risk: ops.Destructive})
	p.Impact = []string{
		fmt.Sprintf("backup %s, taken %s (%s old), %s", e.ID, e.TakenAt().Local().Format("2006-01-02 15:04"), FormatAge(e.Age(now)), describeState(e)),
		"everything written since the backup is lost: messages, rooms, users, media uploads",
	}
	now2 := s.currentCounts(ctx, db)
	back := part.Rows
	p.Impact = append(p.Impact, fmt.Sprintf("replaces database %s: %s now, %s in the backup", db.Database, countsText(now2), countsText(back)))
	p.LosesData = true
	p.Params, _ = json.Marshal(params)
	return p, nil
}

// restorable refuses entries that must not be restored.
func restorable(e Entry) error {
	switch e.State {
	case Invalid:
		return fmt.Errorf("backup %s is not trusted: %s; pick another (backup list)", e.ID, e.Problem)
	case Failed:
		return fmt.Errorf("backup %s failed its verification (%s): pick another (backup list)", e.ID, e.Manifest.Verification.Error)
	}
	if e.Kind() == KindVolumes {
		return fmt.Errorf("backup %s holds docker volumes, not a database dump", e.ID)
	}
	return nil
}

func oldName(db string, now time.Time) string {
	suffix := "_synops_old_" + now.UTC().Format("20060102t150405")
	if len(db)+len(suffix) > 63 {
		db = db[:63-len(suffix)]
	}
	return db + suffix
}

func (s *Service) currentCounts(ctx context.Context, c *conn) map[string]int64 {
	cn, err := c.connect(ctx)
	if err != nil {
		return nil
	}
	defer cn.Close(context.WithoutCancel(ctx))
	m, err := countRows(ctx, cn, []string{"users", "rooms", "events"})
	if err != nil {
		return nil
	}
	return m
}

func countsText(m map[string]int64) string {
	if m == nil {
		return "(unknown)"
	}
	return fmt.Sprintf("%d users, %d rooms, %d events", m["users"], m["rooms"], m["events"])
}

// ApplyRestore runs an approved restore. Whatever fails, the database as it
// was comes back under its name and Synapse is started again; the safety
// backup stays in the catalog.
func (s *Service) ApplyRestore(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*RestoreResult, error) {
	var params restoreParams
	if p.Kind != "backup.restore" || json.Unmarshal(p.Params, &params) != nil || params.ID == "" || params.Old == "" {
		return nil, errors.New("apply restore: not a restore plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := &RestoreResult{ID: params.ID}
	err = s.restore(ctx, params, res, progressTo(progress))
	res.Took = time.Since(start)
	finish(err, res)
	return res, err
}

func (s *Service) restore(ctx context.Context, params restoreParams, res *RestoreResult, progress func(ops.Progress)) (err error) {
	e, err := s.Catalog.Get(ctx, params.ID) // checks every checksum again
	if err != nil {
		return err
	}
	if err := restorable(e); err != nil {
		return err
	}
	db, err := parseConn(s.SynapseDB, "Synapse database")
	if err != nil {
		return err
	}
	res.Database = db.Database
	part := *e.Manifest.Part(PartSynapseDB)
	ctl := s.controller()
	units := s.units()
	step := func(stage, detail string) {
		s.logf("restore %s: %s %s", e.ID, stage, detail)
		progress(ops.Progress{Item: e.ID, Stage: stage, Detail: detail})
	}

	step("stopping", fmt.Sprint(units))
	if err := ctl.Stop(ctx, units...); err != nil {
		return fmt.Errorf("restore: %w (nothing was changed)", err)
	}
	// From here on Synapse is started again on every way out.
	running := false
	startAgain := func() error {
		if running {
			return nil
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		step("starting", fmt.Sprint(units))
		if err := ctl.Start(sctx, units...); err != nil {
			return err
		}
		running = true
		return nil
	}
	defer func() {
		if serr := startAgain(); serr != nil {
			err = errors.Join(err, fmt.Errorf("start Synapse again: %w; start it by hand", serr))
		}
	}()

	step("safety backup", "the database as it is now")
	safety, err := s.create(ctx, KindPreRestore, CreateRequest{Format: s.format(), Media: "none"}, progress)
	if err != nil {
		return fmt.Errorf("restore: the safety backup failed, so nothing was changed: %w", err)
	}
	res.SafetyBackup = safety.ID

	adminConn := db
	if s.AdminDB.Set() {
		if adminConn, err = parseConn(s.AdminDB, "backup.admin_dsn"); err != nil {
			return err
		}
	}
	admin, err := adminConn.maintenance(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w (nothing was changed)", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))

	step("replacing", fmt.Sprintf("%s becomes %s", db.Database, params.Old))
	undo, err := s.setAside(ctx, admin, db, adminConn.User, params.Old)
	if err != nil {
		return fmt.Errorf("restore: %w (nothing was changed)", err)
	}
	rollback := func(cause error) error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if running {
			if serr := ctl.Stop(rctx, units...); serr != nil {
				return errors.Join(cause, fmt.Errorf("stop Synapse to put the old database back: %w; the old database is %s", serr, params.Old))
			}
			running = false
		}
		if uerr := undo(rctx); uerr != nil {
			return errors.Join(cause, fmt.Errorf("put the old database back: %w; it is %s, and safety backup %s holds it", uerr, params.Old, res.SafetyBackup))
		}
		s.logf("restore %s: rolled back, %s is as it was", e.ID, db.Database)
		return fmt.Errorf("%w; the database is as it was before", cause)
	}

	if err := s.restoreInto(ctx, e.Dir, part, db, s.DumpVia, progress); err != nil {
		return rollback(fmt.Errorf("restore: %w", err))
	}
	if !slices.Contains(part.DataExcluded, oneTimeKeys) {
		if res.OneTimeKeys, err = clearOneTimeKeys(ctx, db); err != nil {
			return rollback(err)
		}
	}
	var mediaUndo func() error
	if params.Media {
		step("media", "unpacking")
		res.MediaAside, mediaUndo, err = s.restoreMedia(ctx, e, "pre-restore-"+res.SafetyBackup)
		if err != nil {
			return rollback(fmt.Errorf("restore media: %w", err))
		}
	}
	if err := startAgain(); err != nil {
		err = fmt.Errorf("restore: start Synapse: %w", err)
		if mediaUndo != nil {
			err = errors.Join(err, mediaUndo())
		}
		return rollback(err)
	}
	step("waiting", "for /health and the admin API")
	if err := s.waitSynapse(ctx); err != nil {
		if mediaUndo != nil {
			err = errors.Join(err, mediaUndo())
		}
		return rollback(fmt.Errorf("restore: Synapse does not answer on the restored database: %w", err))
	}
	if err := dropDatabase(ctx, admin, params.Old); err != nil {
		s.logf("restore %s: %v (drop it by hand)", e.ID, err)
	}
	step("done", fmt.Sprintf("%s restored from %s", db.Database, e.ID))
	return nil
}

// setAside renames the database out of the way and creates it afresh, so a
// restore never runs over existing tables. undo puts the old one back.
func (s *Service) setAside(ctx context.Context, admin *pgx.Conn, db *conn, adminUser, old string) (func(context.Context) error, error) {
	var owner string
	if err := admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", db.Database).Scan(&owner); err != nil {
		return nil, fmt.Errorf("find database %s: %w", db.Database, err)
	}
	if exists, err := databaseExists(ctx, admin, old); err != nil || exists {
		return nil, fmt.Errorf("database %s already exists (an earlier restore's?): drop or rename it first", old)
	}
	// Synapse is stopped; anything still connected (a console's pool, a
	// worker) would keep the database from being renamed.
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db.Database); err != nil {
		return nil, fmt.Errorf("close the sessions on %s: %w", db.Database, err)
	}
	name, oldID := pgx.Identifier{db.Database}.Sanitize(), pgx.Identifier{old}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" RENAME TO "+oldID); err != nil {
		return nil, fmt.Errorf("rename %s: %w", db.Database, err)
	}
	undo := func(ctx context.Context) error {
		if err := dropDatabase(ctx, admin, db.Database); err != nil {
			return err
		}
		_, err := admin.Exec(ctx, "ALTER DATABASE "+oldID+" RENAME TO "+name)
		return err
	}
	if owner == adminUser {
		owner = ""
	}
	if err := createDatabase(ctx, admin, db.Database, owner); err != nil {
		return nil, errors.Join(err, undo(context.WithoutCancel(ctx)))
	}
	return undo, nil
}

// clearOneTimeKeys empties the one-time keys a dump carried: handing a
// restored key out again would break encrypted sessions.
func clearOneTimeKeys(ctx context.Context, db *conn) (int64, error) {
	cn, err := db.connect(ctx)
	if err != nil {
		return 0, err
	}
	defer cn.Close(context.WithoutCancel(ctx))
	tag, err := cn.Exec(ctx, "DELETE FROM "+oneTimeKeys)
	if err != nil {
		return 0, fmt.Errorf("empty %s: %w", oneTimeKeys, err)
	}
	return tag.RowsAffected(), nil
}

// waitSynapse waits until Synapse answers /health and an admin request.
func (s *Service) waitSynapse(ctx context.Context) error {
	limit := s.Wait
	if limit <= 0 {
		limit = 3 * time.Minute
	}
	return waitFor(ctx, limit, "Synapse /health and admin API", func(ctx context.Context) error {
		if err := s.Synapse.Health(ctx); err != nil {
			return err
		}
		_, err := s.Synapse.ListRoomsPage(ctx, synapse.ListRoomsOptions{PageSize: 1}, 0)
		return err
	})
}

// restoreMedia moves the media directories the backup holds aside and
// unpacks the backup's into their place. undo puts the old ones back.
func (s *Service) restoreMedia(ctx context.Context, e Entry, stamp string) (aside []string, undo func() error, err error) {
	p := e.Manifest.Part(PartMedia)
	moved := map[string]string{} // new place of each old directory
	undo = func() error {
		var errs []error
		for _, d := range p.Paths {
			dst := filepath.Join(s.MediaStore, d)
			if err := os.RemoveAll(dst); err != nil {
				errs = append(errs, err)
				continue
			}
			if old, ok := moved[d]; ok {
				if err := os.Rename(old, dst); err != nil {
					errs = append(errs, err)
				}
			}
		}
		return errors.Join(errs...)
	}
	for _, d := range p.Paths {
		if !filepath.IsLocal(d) || strings.ContainsRune(d, '/') {
			return nil, nil, fmt.Errorf("the manifest names media directory %q: refusing it", d)
		}
		src := filepath.Join(s.MediaStore, d)
		if _, err := os.Lstat(src); err != nil {
			continue
		}
		dst := src + "." + stamp
		if err := os.Rename(src, dst); err != nil {
			return nil, nil, errors.Join(err, undo())
		}
		moved[d] = dst
		aside = append(aside, dst)
	}
	err = readTar(ctx, e.Dir, *p, func(h *tar.Header, tr *tar.Reader) error {
		top, _, _ := strings.Cut(h.Name, "/")
		if !slices.Contains(p.Paths, top) {
			return fmt.Errorf("media archive entry %q is outside %v: refusing it", h.Name, p.Paths)
		}
		return unpackEntry(filepath.Join(s.MediaStore, filepath.FromSlash(h.Name)), h, tr)
	})
	if err != nil {
		return nil, nil, errors.Join(err, undo())
	}
	return aside, undo, nil
}

// unpackEntry writes one tar entry at path, never following or creating a
// link, with the mode, time and (as root) owner it was archived with.
func unpackEntry(path string, h *tar.Header, r io.Reader) error {
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(path, 0o700); err != nil {
			return err
		}
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	default:
		return nil
	}
	if err := os.Chmod(path, h.FileInfo().Mode().Perm()); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		_ = os.Lchown(path, h.Uid, h.Gid)
	}
	return os.Chtimes(path, h.ModTime, h.ModTime)
}
