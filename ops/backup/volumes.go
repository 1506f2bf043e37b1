package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/services"
)

// VolumesRequest asks for seed 004's volume backup: the compose services
// stopped, each named volume archived by a throwaway container, the
// services started again.
type VolumesRequest struct {
	Volumes []string `json:"volumes"` // as planned: the profile's list or the project's volumes
}

// volumeImage is the throwaway container's image; it needs tar.
func (s *Service) volumeImage() string {
	if s.VolumeImage == "" {
		return "alpine"
	}
	return s.VolumeImage
}

// composeProject is the compose project's name: compose_project, or what
// compose derives from the compose file's directory.
func composeProject(sv config.Services) string {
	if sv.ComposeProject != "" {
		return sv.ComposeProject
	}
	dir := filepath.Base(filepath.Dir(sv.ComposeFile))
	return regexp.MustCompile(`[^a-z0-9_-]`).ReplaceAllString(strings.ToLower(dir), "")
}

// volumes is the profile's list, or every volume docker labels as the
// compose project's.
func (s *Service) volumes(ctx context.Context) ([]string, error) {
	if len(s.Volumes) > 0 {
		return s.Volumes, nil
	}
	project := composeProject(s.controller().Services)
	out, err := s.controller().Exec.Run(ctx, []string{"docker", "volume", "ls", "--quiet", "--filter", "label=com.docker.compose.project=" + project})
	if err != nil {
		return nil, fmt.Errorf("list the volumes of compose project %s: %w", project, err)
	}
	vols := strings.Fields(string(out))
	if len(vols) == 0 {
		return nil, fmt.Errorf("compose project %s has no named volumes: list them in backup.volumes", project)
	}
	return vols, nil
}

// volumeUnits are the services stopped while volumes are archived, in the
// order they start again.
func (s *Service) volumeUnits() []services.Unit {
	units := []services.Unit{services.Postgres, services.Synapse}
	if s.controller().Manages(services.AppAPI) {
		units = append(units, services.AppAPI)
	}
	return units
}

// PlanVolumes says which volumes are archived and which services stop for
// it. It is disruptive (Synapse is down meanwhile), so it needs the server
// name typed.
func (s *Service) PlanVolumes(ctx context.Context) (*ops.Plan, error) {
	if s.Catalog == nil || s.Catalog.Dir == "" {
		return nil, errors.New("no backup directory: set backup.dir in the profile or pass --backup-dir")
	}
	if s.controller().Services.Kind != config.ServicesCompose {
		return nil, errors.New("backup volumes archives a docker compose project's named volumes: the profile's services.kind is not compose")
	}
	vols, err := s.volumes(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, u := range s.volumeUnits() {
		names = append(names, s.controller().ServiceName(u))
	}
	p := ops.NewPlan("backup.volumes", s.Server, s.Server, s.Environment, s.now())
	p.Steps = []ops.Step{{Title: "stop " + strings.Join(names, ", ") + ": Synapse is down until they start again", Risk: ops.Reversible}}
	for _, v := range vols {
		p.Steps = append(p.Steps, ops.Step{Title: fmt.Sprintf("archive volume %s with a throwaway %s container (read-only mount)", v, s.volumeImage()), Risk: ops.ReadOnly})
	}
	p.Steps = append(p.Steps, ops.Step{Title: "start " + strings.Join(names, ", ") + " again (also when an archive fails)", Risk: ops.Reversible})
	p.Impact = []string{fmt.Sprintf("%d volumes into %s%s", len(vols), s.Catalog.Dir, freeSpace(s.Catalog.Dir))}
	p.Params, _ = json.Marshal(VolumesRequest{Volumes: vols})
	return p, nil
}

// ApplyVolumes runs an approved volume backup. The services are started
// again whatever happens; an archive that fails leaves no entry.
func (s *Service) ApplyVolumes(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) (_ *Entry, err error) {
	var req VolumesRequest
	if p.Kind != "backup.volumes" || json.Unmarshal(p.Params, &req) != nil || len(req.Volumes) == 0 {
		return nil, errors.New("apply volumes: not a volume backup plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return nil, err
	}
	progress = progressTo(progress)
	var e Entry
	defer func() { finish(err, map[string]any{"id": e.ID, "volumes": req.Volumes}) }()
	k, err := loadKey(s.Catalog.KeyFile, true)
	if err != nil {
		return nil, err
	}
	ctl := s.controller()
	units := s.volumeUnits()
	progress(ops.Progress{Item: "volumes", Stage: "stopping", Detail: fmt.Sprint(units)})
	if err := ctl.Stop(ctx, units...); err != nil {
		// Some may have stopped: start them all again.
		return nil, errors.Join(err, ctl.Start(context.WithoutCancel(ctx), units...))
	}
	defer func() {
		progress(ops.Progress{Item: "volumes", Stage: "starting", Detail: fmt.Sprint(units)})
		if serr := ctl.Start(context.WithoutCancel(ctx), units...); serr != nil {
			err = errors.Join(err, fmt.Errorf("start the services again: %w; start them by hand", serr))
		}
	}()
	id := newID(s.now())
	par, err := s.Catalog.newPartial(id)
	if err != nil {
		return nil, err
	}
	m := &Manifest{ID: id, Kind: KindVolumes, Server: s.Server, TakenAt: s.now().UTC(), Verification: Verification{State: Never}}
	for i, v := range req.Volumes {
		progress(ops.Progress{Item: v, Stage: "archiving", Done: i, Total: len(req.Volumes)})
		part, err := s.archiveVolume(ctx, par.dir, v, progress)
		if err != nil {
			par.discard()
			return nil, fmt.Errorf("archive volume %s: %w (no entry was kept)", v, err)
		}
		m.Parts = append(m.Parts, part)
	}
	m.FinishedAt = s.now().UTC()
	if err := writeManifest(par.dir, k, m); err != nil {
		par.discard()
		return nil, err
	}
	if err := s.Catalog.commit(par, id); err != nil {
		return nil, err
	}
	e, err = s.Catalog.Get(ctx, id)
	return &e, err
}

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// archiveVolume streams one volume out of a throwaway container as tar,
// compresses it and counts what went in.
func (s *Service) archiveVolume(ctx context.Context, dir, vol string, progress func(ops.Progress)) (Part, error) {
	if !volumeName.MatchString(vol) {
		return Part{}, fmt.Errorf("%q is not a docker volume name", vol)
	}
	part := Part{Name: "volume:" + vol, File: "volume-" + vol + ".tar.zst", Format: FormatTarZstd, Paths: []string{vol}}
	m := newMeter(part.Name, "archiving", 0, progress)
	argv := []string{"docker", "run", "--rm", "--network", "none", "-v", vol + ":/data:ro", s.volumeImage(), "tar", "-cf", "-", "-C", "/data", "."}
	err := writePart(dir, &part, func(w io.Writer) error {
		// A reader beside the compressor counts the files and bytes, so
		// the manifest can say what a verification must find.
		pr, pw := io.Pipe()
		counted := make(chan error, 1)
		go func() {
			tr := tar.NewReader(pr)
			var err error
			for {
				var h *tar.Header
				if h, err = tr.Next(); err != nil {
					break
				}
				if h.Typeflag == tar.TypeReg {
					part.Files++
					part.Bytes += h.Size
				}
			}
			_, _ = io.Copy(io.Discard, pr)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			counted <- err
		}()
		s.logf("$ %s", joinArgv(argv))
		runErr := s.controller().Exec.Stream(ctx, argv, services.Streams{Stdout: io.MultiWriter(w, pw, m), Log: s.log()})
		pw.Close()
		return errors.Join(runErr, <-counted)
	})
	return part, err
}

// VolumeRestoreRequest asks for a volume archive to be unpacked into a new
// volume: never over an existing one.
type VolumeRestoreRequest struct {
	ID     string `json:"id"`
	Volume string `json:"volume"` // as archived
	Into   string `json:"into"`   // a volume that does not exist yet
}

// PlanVolumeRestore says what unpacking a volume archive does.
func (s *Service) PlanVolumeRestore(ctx context.Context, req VolumeRestoreRequest) (*ops.Plan, error) {
	e, err := s.Catalog.Get(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	if e.State == Invalid || e.State == Failed {
		return nil, fmt.Errorf("backup %s cannot be restored: %s", e.ID, e.Problem)
	}
	part := e.Manifest.Part("volume:" + req.Volume)
	if part == nil {
		return nil, fmt.Errorf("backup %s holds no volume %q", e.ID, req.Volume)
	}
	if !volumeName.MatchString(req.Into) {
		return nil, fmt.Errorf("%q is not a docker volume name", req.Into)
	}
	if _, err := s.controller().Exec.Run(ctx, []string{"docker", "volume", "inspect", req.Into}); err == nil {
		return nil, fmt.Errorf("volume %s exists: a restore never writes into an existing volume; name a new one", req.Into)
	}
	p := ops.NewPlan("backup.volume_restore", s.Server, s.Server, s.Environment, s.now())
	p.Steps = []ops.Step{
		{Title: "create volume " + req.Into, Risk: ops.Reversible},
		{Title: fmt.Sprintf("unpack %s of backup %s (%d files, %s) into it with a throwaway %s container", req.Volume, e.ID, part.Files, textBytes(part.Bytes), s.volumeImage()), Risk: ops.Reversible},
	}
	p.Impact = []string{"nothing existing is touched: point the compose file at " + req.Into + " to use it"}
	p.Params, _ = json.Marshal(req)
	return p, nil
}

// ApplyVolumeRestore unpacks the archive into the new volume; on failure
// the new volume is removed again.
func (s *Service) ApplyVolumeRestore(ctx context.Context, p *ops.Plan, a ops.Approval, progress func(ops.Progress)) error {
	var req VolumeRestoreRequest
	if p.Kind != "backup.volume_restore" || json.Unmarshal(p.Params, &req) != nil {
		return errors.New("apply volume restore: not a volume restore plan")
	}
	finish, err := s.Guard.Begin(ctx, p, a)
	if err != nil {
		return err
	}
	err = s.volumeRestore(ctx, req, progressTo(progress))
	finish(err, req)
	return err
}

func (s *Service) volumeRestore(ctx context.Context, req VolumeRestoreRequest, progress func(ops.Progress)) error {
	e, err := s.Catalog.Get(ctx, req.ID)
	if err != nil {
		return err
	}
	part := e.Manifest.Part("volume:" + req.Volume)
	if part == nil || e.State == Invalid {
		return fmt.Errorf("backup %s: no trusted archive of volume %s", req.ID, req.Volume)
	}
	x := s.controller().Exec
	if _, err := x.Run(ctx, []string{"docker", "volume", "create", req.Into}); err != nil {
		return fmt.Errorf("create volume %s: %w", req.Into, err)
	}
	rc, err := openPart(e.Dir, *part)
	if err != nil {
		return err
	}
	defer rc.Close()
	m := newMeter(req.Into, "unpacking", part.Bytes, progress)
	argv := []string{"docker", "run", "--rm", "-i", "--network", "none", "-v", req.Into + ":/data", s.volumeImage(), "tar", "-xf", "-", "-C", "/data"}
	s.logf("$ %s", joinArgv(argv))
	if err := x.Stream(ctx, argv, services.Streams{Stdin: io.TeeReader(rc, m), Log: s.log()}); err != nil {
		_, rmErr := x.Run(context.WithoutCancel(ctx), []string{"docker", "volume", "rm", req.Into})
		return errors.Join(fmt.Errorf("unpack into %s: %w", req.Into, err), rmErr)
	}
	return nil
}
