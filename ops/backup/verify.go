package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services"
)

// VerifyRequest names the backup to restore-test: an ID, or the newest.
type VerifyRequest struct {
	ID     string `json:"id,omitempty"`
	Latest bool   `json:"latest,omitempty"`
}

// VerifyResult is how a restore test went.
type VerifyResult struct {
	ID      string        `json:"id"`
	Passed  bool          `json:"passed"`
	Took    time.Duration `json:"took"`
	Checked []string      `json:"checked,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// PlanVerify says what verifying a backup does.
func (s *Service) PlanVerify(ctx context.Context, req VerifyRequest) (*ops.Plan, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	e, err := s.pick(ctx, req.ID, req.Latest)
	if err != nil {
		return nil, err
	}
	if e.Manifest == nil || e.State == Invalid && !s.signed(e) {
		return nil, fmt.Errorf("backup %s cannot be verified: %s", e.ID, e.Problem)
	}
	p := ops.NewPlan("backup.verify", e.ID, s.Server, s.Environment, s.now())
	p.Steps = []ops.Step{{Title: fmt.Sprintf("check the SHA-256 of its %d files before anything is restored", len(e.Manifest.Parts)), Risk: ops.ReadOnly}}
	for _, part := range e.Manifest.Parts {
		switch {
		case part.Rows != nil:
			what := fmt.Sprintf("restore %s into a scratch database (UTF8, C, template0), compare the row counts of %d tables", part.Name, len(part.Rows))
			if part.Name == PartSynapseDB {
				what += fmt.Sprintf(" and schema version %d", e.Manifest.SchemaVersion)
			}
			p.Steps = append(p.Steps, ops.Step{Title: what + ", drop it", Risk: ops.ReadOnly})
		case strings.HasSuffix(part.Format, "tar+zstd"):
			p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("read all of %s (%d files)", part.File, part.Files), Risk: ops.ReadOnly})
		}
	}
	p.Steps = append(p.Steps, ops.Step{Title: "record the result and its duration in the manifest", Risk: ops.ReadOnly})
	p.Impact = []string{fmt.Sprintf("backup %s: %s old, %s, now %s", e.ID, FormatAge(e.Age(s.now())), textBytes(e.Size()), describeState(e))}
	p.Params, _ = json.Marshal(VerifyRequest{ID: e.ID})
	return p, nil
}

// pick resolves an ID or "the newest backup of Synapse".
func (s *Service) pick(ctx context.Context, id string, latest bool) (Entry, error) {
	switch {
	case latest && id != "":
		return Entry{}, errors.New("name a backup ID or ask for the latest, not both")
	case latest:
		list, err := s.Catalog.List(ctx)
		if err != nil {
			return Entry{}, err
		}
		for _, e := range list {
			if e.Kind() == KindBackup {
				return e, nil
			}
		}
		return Entry{}, fmt.Errorf("%w: the catalog %s holds no backup of Synapse yet (synops backup create)", ErrNoEntry, s.Catalog.Dir)
	case id == "":
		return Entry{}, errors.New("name a backup ID (see backup list) or ask for the latest")
	}
	return s.Catalog.Get(ctx, id)
}

func (s *Service) signed(e Entry) bool {
	k, err := loadKey(s.Catalog.KeyFile, false)
	return err == nil && e.Manifest != nil && k.valid(*e.Manifest)
}

// describeState is the entry's state in words.
func describeState(e Entry) string {
	switch e.State {
	case Passed:
		return fmt.Sprintf("verified %s", e.VerifiedAt().Local().Format("2006-01-02 15:04"))
	case Never:
		return "never verified"
	case Failed:
		return "its last verification FAILED: " + e.Manifest.Verification.Error
	}
	return "not trusted: " + e.Problem
}

// ApplyVerify runs a planned verification. A backup that fails is an
// error wrapping ErrVerifyFailed, and the failure is recorded in its
// manifest, so the catalog and the health check show it.
func (s *Service) ApplyVerify(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (*VerifyResult, error) {
	var req VerifyRequest
	if p.Kind != "backup.verify" || json.Unmarshal(p.Params, &req) != nil || req.ID == "" {
		return nil, errors.New("apply verify: not a verification plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	res, err := s.verify(ctx, req.ID, progressTo(progress))
	detail := map[string]any{"id": req.ID}
	if res != nil {
		detail["passed"], detail["seconds"] = res.Passed, res.Took.Seconds()
	}
	finish(err, detail)
	return res, err
}

// verify restore-tests entry id and records the outcome in its manifest.
// The files' checksums are checked first: an altered dump fails before
// any database is touched.
func (s *Service) verify(ctx context.Context, id string, progress func(ops.Progress)) (*VerifyResult, error) {
	start := time.Now()
	k, err := loadKey(s.Catalog.KeyFile, false)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.Catalog.Dir, id)
	m, err := readManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", id, err)
	}
	if !k.valid(*m) || m.ID != id {
		return nil, fmt.Errorf("verify %s: %w: its manifest is not signed by synops with this machine's key, so its checksums and row counts cannot be trusted", id, ErrVerifyFailed)
	}
	res := &VerifyResult{ID: id}
	s.logf("verify %s", id)
	progress(ops.Progress{Item: id, Stage: "verifying", Detail: "checking checksums"})
	err = s.verifyParts(ctx, dir, m, res, progress)
	res.Took = time.Since(start)
	res.Passed = err == nil
	v := Verification{State: Passed, At: s.now().UTC(), Seconds: res.Took.Seconds(), Checked: res.Checked}
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted, not failed: the backup is as it was.
			return res, fmt.Errorf("verify %s: %w", id, err)
		}
		res.Error = errText(err)
		v.State, v.Error = Failed, res.Error
		err = fmt.Errorf("verify %s: %w: %w", id, ErrVerifyFailed, err)
	}
	m.Verification = v
	if werr := writeManifest(dir, k, m); werr != nil {
		return res, errors.Join(err, fmt.Errorf("record the verification of %s: %w", id, werr))
	}
	s.logf("verify %s: %s in %s", id, v.State, res.Took.Round(time.Millisecond))
	stage := "verified"
	if !res.Passed {
		stage = "FAILED"
	}
	progress(ops.Progress{Item: id, Stage: stage, Detail: fmt.Sprintf("in %s", res.Took.Round(100*time.Millisecond))})
	return res, err
}

func (s *Service) verifyParts(ctx context.Context, dir string, m *Manifest, res *VerifyResult, progress func(ops.Progress)) error {
	for _, p := range m.Parts {
		if err := s.Catalog.checkPart(ctx, dir, p); err != nil {
			return err
		}
	}
	res.Checked = append(res.Checked, fmt.Sprintf("sha256 of %d files", len(m.Parts)))
	// The parts are tested side by side: Synapse's database keeps
	// pg_restore busy while the application database and the archives,
	// small beside it, are checked on the other core.
	var mu sync.Mutex
	report := func(p ops.Progress) {
		mu.Lock()
		defer mu.Unlock()
		progress(p)
	}
	checked := make([]string, len(m.Parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i, p := range m.Parts {
		g.Go(func() error {
			switch {
			case p.Name == PartSynapseDB || p.Name == PartAppDB:
				c, err := s.restoreTest(gctx, dir, m, p, report)
				checked[i] = c
				return err
			case p.Format == FormatTarZstd:
				if err := readTar(gctx, dir, p, nil); err != nil {
					return err
				}
				checked[i] = fmt.Sprintf("%s read through: %d files", p.Name, p.Files)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, c := range checked {
		if c != "" {
			res.Checked = append(res.Checked, c)
		}
	}
	return nil
}

// restoreTest restores one database part into a scratch database and
// compares it with the manifest.
func (s *Service) restoreTest(ctx context.Context, dir string, m *Manifest, p Part, progress func(ops.Progress)) (string, error) {
	dsn, admin, via := s.SynapseDB, s.AdminDB, s.DumpVia
	if p.Name == PartAppDB {
		dsn, admin, via = s.AppDB, config.DSN{}, config.DumpHost
		if !dsn.Set() {
			dsn, admin, via = s.SynapseDB, s.AdminDB, s.DumpVia
		}
	}
	target, err := parseConn(dsn, p.Name)
	if err != nil {
		return "", err
	}
	scratch := scratchName(m.ID, p.Name)
	drop, err := s.freshDatabase(ctx, target, admin, scratch)
	if err != nil {
		return "", err
	}
	defer drop()
	into := target.to(scratch)
	start := time.Now()
	if err := s.restoreInto(ctx, dir, p, into, via, progress); err != nil {
		return "", err
	}
	s.logf("%s restored into %s in %s", p.Name, scratch, time.Since(start).Round(time.Millisecond))
	progress(ops.Progress{Item: p.Name, Stage: "comparing", Detail: fmt.Sprintf("row counts of %d tables", len(p.Rows))})
	tables := make([]string, 0, len(p.Rows))
	for t := range p.Rows {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	got, err := countParallel(ctx, into, tables, runtime.NumCPU())
	if err != nil {
		return "", err
	}
	cn, err := into.connect(ctx)
	if err != nil {
		return "", err
	}
	defer cn.Close(context.WithoutCancel(ctx))
	var diffs []string
	var rows int64
	for _, t := range tables {
		rows += p.Rows[t]
		if got[t] != p.Rows[t] {
			diffs = append(diffs, fmt.Sprintf("%s has %d rows, the dump had %d", t, got[t], p.Rows[t]))
		}
	}
	if len(diffs) > 0 {
		return "", fmt.Errorf("%s restored with other row counts than at dump time: %s", p.Name, strings.Join(diffs, "; "))
	}
	checked := fmt.Sprintf("%s restored: %d rows in %d tables as at dump time", p.Name, rows, len(tables))
	if p.Name == PartSynapseDB {
		v, _, err := schemaVersion(ctx, cn)
		if err != nil {
			return "", err
		}
		if v != m.SchemaVersion {
			return "", fmt.Errorf("restored schema version is %d, the manifest says %d", v, m.SchemaVersion)
		}
		checked += fmt.Sprintf(", schema version %d", v)
	}
	return checked, nil
}

// scratchName is the verification database of one part of one entry: the
// same name every time, so a run killed midway leaves nothing the next
// one does not clear first.
func scratchName(id, part string) string {
	return "synops_verify_" + strings.ToLower(strings.ReplaceAll(id, "-", "_")) + "_" + strings.ReplaceAll(part, "-", "_")
}

// freshDatabase creates name (dropping a stale one of that name first) on
// target's server, owned by target's user, and returns what drops it.
func (s *Service) freshDatabase(ctx context.Context, target *conn, adminDSN config.DSN, name string) (func(), error) {
	admin := target
	if adminDSN.Set() {
		var err error
		if admin, err = parseConn(adminDSN, "backup.admin_dsn"); err != nil {
			return nil, err
		}
	}
	cn, err := admin.maintenance(ctx)
	if err != nil {
		return nil, err
	}
	owner := ""
	if admin.User != target.User {
		owner = target.User
	}
	if err := dropDatabase(ctx, cn, name); err != nil {
		cn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := createDatabase(ctx, cn, name, owner); err != nil {
		cn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := dropDatabase(dctx, cn, name); err != nil {
			s.logf("%v", err)
		}
		cn.Close(dctx)
	}, nil
}

// restoreInto restores a database part into target, which exists and is
// empty. A custom-format dump restored on this machine is unpacked to a
// work file first, so pg_restore can run a job per core; in a container it
// streams into one pg_restore. Plain SQL streams into psql in one
// transaction.
func (s *Service) restoreInto(ctx context.Context, dir string, p Part, target *conn, via config.DumpVia, progress func(ops.Progress)) error {
	rc, err := openPart(dir, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	m := newMeter(p.Name, "restoring", p.Bytes, progress)
	in := io.TeeReader(rc, m)
	var args []string
	switch p.Format {
	case FormatSQLGzip:
		args = []string{"psql", "--no-password", "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", "--output=/dev/null"}
	case FormatCustomZstd:
		args = []string{"pg_restore", "--no-password", "--no-owner", "--no-privileges", "--exit-on-error"}
		if via == config.DumpHost || via == "" {
			start := time.Now()
			work, err := s.unpack(ctx, in, p)
			if err != nil {
				return err
			}
			s.logf("%s unpacked for pg_restore in %s", p.Name, time.Since(start).Round(time.Millisecond))
			defer os.Remove(work)
			args = append(args, "--jobs="+strconv.Itoa(runtime.NumCPU()), work)
			in = nil
			progress(ops.Progress{Item: p.Name, Stage: "restoring", Detail: fmt.Sprintf("pg_restore --jobs=%d", runtime.NumCPU())})
		}
	default:
		return fmt.Errorf("restore %s: unknown format %q", p.File, p.Format)
	}
	argv, env, err := s.pgCommand(ctx, target, via, in != nil, args)
	if err != nil {
		return err
	}
	s.logf("$ %s", joinArgv(argv))
	var stdin io.Reader
	if in != nil {
		stdin = in
	}
	if err := s.controller().Exec.Stream(ctx, argv, services.Streams{Env: env, Stdin: stdin, Stdout: s.log(), Log: s.log()}); err != nil {
		return fmt.Errorf("restore %s into %s: %w", p.Name, target.Database, err)
	}
	return nil
}

// unpack writes a part's decompressed dump to a work file for pg_restore.
func (s *Service) unpack(ctx context.Context, in io.Reader, p Part) (string, error) {
	f, err := os.CreateTemp(s.workDir(), ".unpack-"+p.Name+"-*.dump")
	if err != nil {
		return "", fmt.Errorf("unpack %s: %w", p.File, err)
	}
	if _, err := io.Copy(f, ctxReader{ctx, in}); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("unpack %s: %w", p.File, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("unpack %s: %w", p.File, err)
	}
	return f.Name(), nil
}

// FormatAge is an age in the largest units that matter: "42 min",
// "5.5 h", "3.0 days".
func FormatAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}
