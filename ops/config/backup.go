package config

import (
	"fmt"
	"strings"
)

// BackupFormat is how a backup stores Synapse's database.
type BackupFormat string

const (
	// FormatCustom is pg_dump's custom format, uncompressed by pg_dump and
	// compressed by synops with zstd on every core; pg_restore reads it.
	FormatCustom BackupFormat = "custom"
	// FormatSQLGzip is seed 004's `pg_dump | gzip`: plain SQL that
	// `gunzip | psql` restores without synops.
	FormatSQLGzip BackupFormat = "sql-gzip"
)

// DumpVia says where pg_dump, pg_restore and psql run.
type DumpVia string

const (
	DumpHost    DumpVia = "host"    // on this machine, connecting with the DSN
	DumpDocker  DumpVia = "docker"  // docker exec in services.postgres_container
	DumpCompose DumpVia = "compose" // docker compose exec in services.postgres_service
)

// MediaScope is which part of the media store a backup archives.
type MediaScope string

const (
	MediaLocal MediaScope = "local" // local_content and local_thumbnails: what users uploaded here
	MediaAll   MediaScope = "all"   // also the caches of remote media
	MediaNone  MediaScope = "none"
)

// resolveBackupMore reads the backup keys beyond dir and ages: retention
// counts, format, where dumps run, media, extra files, the admin DSN and the
// volumes of `backup volumes`. It runs after resolveServices, whose values
// dump_via depends on.
func (l *loader) resolveBackupMore(b *fileBackup) {
	r := l.r
	for _, k := range []struct {
		key string
		v   *int
		out *int
	}{{"backup.keep_daily", b.KeepDaily, &r.Backup.KeepDaily}, {"backup.keep_weekly", b.KeepWeekly, &r.Backup.KeepWeekly}, {"backup.keep_monthly", b.KeepMonthly, &r.Backup.KeepMonthly}} {
		r.origins[k.key] = OriginDefault
		if k.v == nil {
			continue
		}
		r.origins[k.key] = l.profOrigin
		*k.out = *k.v
		if *k.v < 0 {
			l.problem("%s %d in %s: want 0 or more", k.key, *k.v, l.profOrigin)
		}
	}

	r.Backup.Format = BackupFormat(l.set("backup.format", pick(l.prof(lower(b.Format)), def(string(FormatCustom)))))
	switch r.Backup.Format {
	case FormatCustom, FormatSQLGzip:
	default:
		l.problem("backup.format %q in %s is not known: want custom (pg_dump custom format, zstd) or sql-gzip (seed 004's pg_dump | gzip)", r.Backup.Format, l.profOrigin)
	}

	r.Backup.DumpVia = DumpVia(l.set("backup.dump_via", pick(l.prof(lower(b.DumpVia)), def(string(DumpHost)))))
	switch r.Backup.DumpVia {
	case DumpHost:
	case DumpDocker:
		if r.Services.PostgresContainer == "" {
			l.problem("backup.dump_via docker in %s needs services.postgres_container, the container pg_dump runs in (e.g. postgres-matrix)", l.profOrigin)
		}
	case DumpCompose:
		if r.Services.Kind != ServicesCompose {
			l.problem("backup.dump_via compose in %s needs services.kind compose (with compose_file or compose_project and postgres_service)", l.profOrigin)
		}
	default:
		l.problem("backup.dump_via %q in %s is not known: want host, docker or compose", r.Backup.DumpVia, l.profOrigin)
	}

	r.Backup.Media = MediaScope(l.set("backup.media", pick(l.prof(lower(b.Media)), def(string(MediaLocal)))))
	switch r.Backup.Media {
	case MediaLocal, MediaAll, MediaNone:
	default:
		l.problem("backup.media %q in %s is not known: want local (uploads), all (also remote caches) or none", r.Backup.Media, l.profOrigin)
	}

	r.origins["backup.files"] = OriginDefault
	if b.Files != nil {
		r.origins["backup.files"] = l.profOrigin
		for _, f := range b.Files {
			if strings.TrimSpace(f) == "" {
				l.problem("backup.files in %s has an empty entry: list file paths such as /etc/livekit.yaml", l.profOrigin)
				continue
			}
			r.Backup.Files = append(r.Backup.Files, l.filePath(f))
		}
	}

	r.Backup.AdminDB = l.resolveDSN("backup.admin_dsn", l.prof(b.AdminDSN))

	r.origins["backup.volumes"] = OriginDefault
	if b.Volumes != nil {
		r.origins["backup.volumes"] = l.profOrigin
		r.Backup.Volumes = append([]string(nil), b.Volumes...)
	}
	r.Backup.VolumeImage = l.set("backup.volume_image", pick(l.prof(b.VolumeImage), def("alpine")))
}

func lower(p *string) *string {
	if p == nil {
		return nil
	}
	s := strings.ToLower(strings.TrimSpace(*p))
	return &s
}

// describeBackup is the row text of the backup keys beyond dir and ages.
func (r *Resolved) describeBackup(add func(key, value string)) {
	b := r.Backup
	add("backup.keep_daily", fmt.Sprint(b.KeepDaily))
	add("backup.keep_weekly", fmt.Sprint(b.KeepWeekly))
	add("backup.keep_monthly", fmt.Sprint(b.KeepMonthly))
	add("backup.format", string(b.Format))
	add("backup.dump_via", string(b.DumpVia))
	add("backup.media", string(b.Media))
	add("backup.files", orNotSet(strings.Join(b.Files, ", ")))
	add("backup.admin_dsn", b.AdminDB.Redacted())
	add("backup.volumes", orNotSet(strings.Join(b.Volumes, ", ")))
	add("backup.volume_image", b.VolumeImage)
}
