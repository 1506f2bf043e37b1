package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"synops/ops"
	"synops/ops/config"
)

// CreateRequest asks for a new backup. Empty fields take the profile's
// settings.
type CreateRequest struct {
	Verify bool                `json:"verify"` // restore-test it right away
	Format config.BackupFormat `json:"format,omitempty"`
	Media  config.MediaScope   `json:"media,omitempty"`
}

// CreateResult is a finished backup and, when asked, its verification.
type CreateResult struct {
	Entry  Entry         `json:"entry"`
	Verify *VerifyResult `json:"verify,omitempty"`
}

func (s *Service) request(req CreateRequest) CreateRequest {
	if req.Format == "" {
		req.Format = s.format()
	}
	if req.Media == "" {
		req.Media = s.Media
		if req.Media == "" {
			req.Media = config.MediaLocal
		}
	}
	return req
}

// PlanCreate says what a backup will hold and where it goes. It reads the
// database's size and the media store; it changes nothing.
func (s *Service) PlanCreate(ctx context.Context, req CreateRequest) (*ops.Plan, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	req = s.request(req)
	if req.Format != config.FormatCustom && req.Format != config.FormatSQLGzip {
		return nil, fmt.Errorf("backup format %q is not known: use custom or sql-gzip", req.Format)
	}
	db, err := parseConn(s.SynapseDB, "Synapse database")
	if err != nil {
		return nil, err
	}
	size, err := databaseSize(ctx, db)
	if err != nil {
		return nil, err
	}
	p := ops.NewPlan("backup.create", s.Server, s.Server, s.Environment, s.now())
	how := "pg_dump custom format, compressed with zstd"
	if req.Format == config.FormatSQLGzip {
		how = "plain SQL, gzip (seed 004's format)"
	}
	where := "on this machine"
	switch sv := s.controller().Services; s.DumpVia {
	case config.DumpDocker:
		where = "in container " + sv.PostgresContainer + " (docker exec)"
	case config.DumpCompose:
		where = "in compose service " + sv.PostgresService + " (docker compose exec)"
	}
	p.Steps = []ops.Step{{Title: fmt.Sprintf("dump Synapse's database %s (%s) %s, one-time keys' rows left out", db.Database, how, where), Risk: ops.ReadOnly}}
	p.Impact = []string{fmt.Sprintf("database %s: %s", db.Database, textBytes(size))}
	if s.AppDB.Set() {
		app, err := parseConn(s.AppDB, "application database")
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, ops.Step{Title: "dump the application database " + app.Database, Risk: ops.ReadOnly})
	}
	if files := append(append([]string(nil), s.Files...), s.Discovered...); len(files) > 0 {
		p.Steps = append(p.Steps, ops.Step{Title: "keep " + strings.Join(files, ", "), Risk: ops.ReadOnly})
	}
	if dirs := mediaDirs(req.Media); len(dirs) > 0 {
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("archive the media store's %s", strings.Join(dirs, ", ")), Risk: ops.ReadOnly})
		if s.MediaStore != "" {
			p.Impact = append(p.Impact, fmt.Sprintf("media: %s in %s", textBytes(treeSize(s.MediaStore, dirs)), s.MediaStore))
		}
	}
	if req.Verify {
		p.Steps = append(p.Steps, ops.Step{Title: "verify it: restore into a scratch database, compare row counts and schema version, drop it", Risk: ops.ReadOnly})
	}
	p.Impact = append(p.Impact, "into "+s.Catalog.Dir+freeSpace(s.Catalog.Dir))
	if at, id, err := s.Catalog.NewestVerified(ctx); err == nil && id != "" {
		p.Impact = append(p.Impact, fmt.Sprintf("newest verified backup: %s (%s old)", id, FormatAge(s.now().Sub(at))))
	} else if err == nil {
		p.Impact = append(p.Impact, "no verified backup yet")
	}
	p.Params, _ = json.Marshal(req)
	return p, nil
}

// ApplyCreate takes the backup a PlanCreate planned. A backup changes
// nothing on the server, so it needs no typed approval and runs in
// read-only mode; it is audited like every operation. The entry appears in
// the catalog only when every file is written and fsynced; a failure at
// any point leaves no entry and touches no earlier one.
func (s *Service) ApplyCreate(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*CreateResult, error) {
	var req CreateRequest
	if p.Kind != "backup.create" || json.Unmarshal(p.Params, &req) != nil {
		return nil, errors.New("apply create: not a backup plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	progress = progressTo(progress)
	res := &CreateResult{}
	res.Entry, err = s.create(ctx, KindBackup, req, progress)
	if err == nil && req.Verify {
		res.Verify, err = s.verify(ctx, res.Entry.ID, progress)
		if e, gerr := s.Catalog.Get(ctx, res.Entry.ID); gerr == nil {
			res.Entry = e
		}
	}
	finish(err, auditDetail(res))
	return res, err
}

func auditDetail(res *CreateResult) map[string]any {
	d := map[string]any{"id": res.Entry.ID}
	if res.Entry.Manifest != nil {
		d["size"] = res.Entry.Size()
	}
	if res.Verify != nil {
		d["verified"] = res.Verify.Passed
	}
	return d
}

// create writes one entry of kind: Synapse's database, and for a full
// backup the application database, the files and the media.
func (s *Service) create(ctx context.Context, kind string, req CreateRequest, progress func(ops.Progress)) (Entry, error) {
	k, err := loadKey(s.Catalog.KeyFile, true)
	if err != nil {
		return Entry{}, err
	}
	db, err := parseConn(s.SynapseDB, "Synapse database")
	if err != nil {
		return Entry{}, err
	}
	id := newID(s.now())
	par, err := s.Catalog.newPartial(id)
	if err != nil {
		return Entry{}, err
	}
	s.logf("backup %s (%s) into %s", id, kind, s.Catalog.Dir)
	m := &Manifest{ID: id, Kind: kind, Server: s.Server, TakenAt: s.now().UTC(), Verification: Verification{State: Never}}
	fail := func(err error) (Entry, error) {
		par.discard()
		s.logf("backup %s failed, nothing kept: %v", id, err)
		if errors.Is(err, syscall.ENOSPC) {
			err = fmt.Errorf("%w: the backup directory %s is full; nothing of this backup was kept and earlier backups are untouched", err, s.Catalog.Dir)
		}
		return Entry{}, fmt.Errorf("backup %s: %w", id, err)
	}
	part, meta, err := s.dumpRetrying(ctx, dbDump{part: PartSynapseDB, conn: db, via: s.DumpVia, format: req.Format, synapse: true}, par.dir, progress)
	if err != nil {
		return fail(err)
	}
	m.Parts = append(m.Parts, part)
	m.SchemaVersion, m.SchemaCompat, m.PostgresVersion = meta.schema, meta.compat, meta.postgresVersion
	if kind == KindBackup {
		if s.AppDB.Set() {
			app, err := parseConn(s.AppDB, "application database")
			if err != nil {
				return fail(err)
			}
			part, _, err := s.dumpRetrying(ctx, dbDump{part: PartAppDB, conn: app, via: config.DumpHost, format: req.Format}, par.dir, progress)
			if err != nil {
				return fail(err)
			}
			m.Parts = append(m.Parts, part)
		}
		part, err := s.archiveFiles(ctx, par.dir)
		if err != nil {
			return fail(err)
		}
		if part.File != "" {
			m.Parts = append(m.Parts, part)
		}
		if req.Media != config.MediaNone {
			part, err := s.archiveMedia(ctx, par.dir, req.Media, progress)
			if err != nil {
				return fail(err)
			}
			m.Parts = append(m.Parts, part)
		}
	}
	m.FinishedAt = s.now().UTC()
	if err := writeManifest(par.dir, k, m); err != nil {
		return fail(err)
	}
	if err := s.Catalog.commit(par, id); err != nil {
		return Entry{}, fmt.Errorf("backup %s: %w", id, err)
	}
	s.logf("backup %s written: %s", id, textBytes(m.Size()))
	progress(ops.Progress{Item: id, Stage: "written", Detail: fmt.Sprintf("%s in %s", textBytes(m.Size()), filepath.Join(s.Catalog.Dir, id))})
	return s.Catalog.Get(ctx, id)
}

func databaseSize(ctx context.Context, c *conn) (int64, error) {
	cn, err := c.connect(ctx)
	if err != nil {
		return 0, err
	}
	defer cn.Close(context.WithoutCancel(ctx))
	var n int64
	if err := cn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return 0, fmt.Errorf("size of %s: %w", c.Database, err)
	}
	return n, nil
}

func freeSpace(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		var st syscall.Statfs_t
		if syscall.Statfs(d, &st) == nil {
			return fmt.Sprintf(" (%s free)", textBytes(int64(st.Bavail)*st.Bsize))
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}
