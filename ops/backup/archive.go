package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"synops/ops"
	"synops/ops/config"
	"synops/ops/text"
)

func textBytes(n int64) string { return text.Bytes(n) }

func joinArgv(argv []string) string { return strings.Join(argv, " ") }

// archiveFiles writes the config part: every file of s.Files (which must
// exist) and of s.Discovered that exists here, under its absolute path
// (without the leading slash, as tar does).
func (s *Service) archiveFiles(ctx context.Context, dir string) (Part, error) {
	part := Part{Name: PartConfig, File: "config.tar.zst", Format: FormatTarZstd}
	type item struct {
		path     string
		required bool
	}
	var items []item
	seen := map[string]bool{}
	for _, f := range s.Files {
		if !seen[f] {
			items, seen[f] = append(items, item{f, true}), true
		}
	}
	for _, f := range s.Discovered {
		if !seen[f] && f != "" {
			items, seen[f] = append(items, item{f, false}), true
		}
	}
	var keep []string
	for _, it := range items {
		st, err := os.Stat(it.path)
		switch {
		case err == nil && st.Mode().IsRegular():
			keep = append(keep, it.path)
		case it.required:
			return part, fmt.Errorf("keep %s with the backup: %v (correct homeserver_yaml or backup.files in the profile)", it.path, errOrNotRegular(err))
		default:
			s.logf("not kept: %s is not here (a path inside a container? list the host path in backup.files)", it.path)
		}
	}
	if len(keep) == 0 {
		return Part{}, nil
	}
	return s.writeTar(ctx, dir, part, func(tw *tar.Writer, count func(int64)) error {
		for _, p := range keep {
			abs, _ := filepath.Abs(p)
			if err := addFile(tw, abs, strings.TrimPrefix(abs, "/"), count); err != nil {
				return err
			}
		}
		return nil
	}, keep, nil)
}

func errOrNotRegular(err error) error {
	if err != nil {
		return errors.Unwrap(err)
	}
	return errors.New("not a regular file")
}

// mediaDirs are the media store's directories a scope keeps.
func mediaDirs(scope config.MediaScope) []string {
	switch scope {
	case config.MediaNone:
		return nil
	case config.MediaAll:
		return []string{"local_content", "local_thumbnails", "remote_content", "remote_thumbnail", "url_cache", "url_cache_thumbnails"}
	}
	return []string{"local_content", "local_thumbnails"}
}

// archiveMedia writes the media part: the scope's directories of the media
// store, with names relative to the store.
func (s *Service) archiveMedia(ctx context.Context, dir string, scope config.MediaScope, progress func(ops.Progress)) (Part, error) {
	part := Part{Name: PartMedia, File: "media.tar.zst", Format: FormatTarZstd}
	if s.MediaStore == "" {
		return part, errors.New("archive media: the media store is unknown: set media_store in the profile, or backup.media: none")
	}
	if st, err := os.Stat(s.MediaStore); err != nil || !st.IsDir() {
		return part, fmt.Errorf("archive media: the media store %s is not a directory here (in a container? set media_store to the host path, or backup.media: none)", s.MediaStore)
	}
	var dirs []string
	for _, d := range mediaDirs(scope) {
		if st, err := os.Stat(filepath.Join(s.MediaStore, d)); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	total := treeSize(s.MediaStore, dirs)
	m := newMeter(PartMedia, "archiving", total, progress)
	return s.writeTar(ctx, dir, part, func(tw *tar.Writer, count func(int64)) error {
		for _, d := range dirs {
			err := filepath.WalkDir(filepath.Join(s.MediaStore, d), func(path string, de fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				rel, _ := filepath.Rel(s.MediaStore, path)
				if !de.IsDir() && !de.Type().IsRegular() {
					s.logf("media: skipping %s (not a regular file)", rel)
					return nil
				}
				return addFile(tw, path, filepath.ToSlash(rel), func(n int64) { count(n); m.add(n) })
			})
			if err != nil {
				return fmt.Errorf("archive %s: %w", d, err)
			}
		}
		return nil
	}, dirs, progress)
}

func treeSize(root string, dirs []string) int64 {
	var n int64
	for _, d := range dirs {
		_ = filepath.WalkDir(filepath.Join(root, d), func(_ string, de fs.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() {
				if info, err := de.Info(); err == nil {
					n += info.Size()
				}
			}
			return nil
		})
	}
	return n
}

// writeTar writes a zstd-compressed tar part built by fill.
func (s *Service) writeTar(ctx context.Context, dir string, part Part, fill func(tw *tar.Writer, count func(int64)) error, paths []string, progress func(ops.Progress)) (Part, error) {
	files, bytes := 0, int64(0)
	err := writePart(dir, &part, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		return errors.Join(fill(tw, func(n int64) { files++; bytes += n }), tw.Close())
	})
	if err != nil {
		return part, fmt.Errorf("write %s: %w", part.File, err)
	}
	part.Files, part.Bytes, part.Paths = files, bytes, paths
	if progress != nil {
		progress(ops.Progress{Item: part.Name, Stage: "archived", Bytes: bytes, TotalBytes: bytes,
			Detail: fmt.Sprintf("%d files, %s", files, textBytes(bytes))})
	}
	return part, nil
}

// addFile adds a file or directory at path to tw under name.
func addFile(tw *tar.Writer, path, name string, count func(int64)) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	h, err := tar.FileInfoHeader(st, "")
	if err != nil {
		return err
	}
	h.Name = name
	h.Uname, h.Gname = "", ""
	if st.IsDir() {
		h.Name += "/"
		return tw.WriteHeader(h)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	count(n)
	return nil
}

// readTar reads a tar part to the end, calling each for every entry (its
// body readable from tr), and checks the files and bytes against the
// manifest: a verification of an archive is reading all of it.
func readTar(ctx context.Context, dir string, p Part, each func(h *tar.Header, tr *tar.Reader) error) error {
	rc, err := openPart(dir, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(ctxReader{ctx, rc})
	files, bytes := 0, int64(0)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", p.File, err)
		}
		if !filepath.IsLocal(strings.TrimSuffix(h.Name, "/")) {
			return fmt.Errorf("read %s: entry %q points outside the archive's root: refusing it", p.File, h.Name)
		}
		if each != nil {
			if err := each(h, tr); err != nil {
				return err
			}
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return fmt.Errorf("read %s: %w", p.File, err)
		}
		if h.Typeflag == tar.TypeReg {
			files++
			bytes += h.Size
		}
	}
	if files != p.Files || bytes != p.Bytes {
		return fmt.Errorf("%s holds %d files, %s; the manifest says %d files, %s", p.File, files, textBytes(bytes), p.Files, textBytes(p.Bytes))
	}
	return nil
}
