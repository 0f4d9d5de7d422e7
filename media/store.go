package media

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrUnsafePath is returned (wrapped) by Store and Remove for a dir or path
// that is not a clean relative path inside the storage root.
var ErrUnsafePath = errors.New("media: not a clean relative path inside the storage root")

// Store writes data under root/dir/<sha256 hex>.<ext> and returns the
// relative path "dir/<hash>.<ext>" with forward slashes.
//
// dir is a clean relative path with forward slashes ("avatars",
// "posts/2024"); ext is letters and digits, with or without a leading dot.
// The file is written to a temporary file in the same directory and renamed
// into place, so readers never see a partial file; files are 0644 and
// directories 0755 (less the umask). Storing the same bytes again returns
// the same path without writing. All access goes through an os.Root, so
// symbolic links cannot lead outside root.
func Store(root, dir string, data []byte, ext string) (string, error) {
	if root == "" {
		return "", errors.New("media: empty storage root")
	}
	if !isLocal(dir) {
		return "", fmt.Errorf("media: store in %q: %w", dir, ErrUnsafePath)
	}
	ext = strings.ToLower(strings.TrimPrefix(ext, "."))
	if !validExt(ext) {
		return "", fmt.Errorf("media: invalid file extension %q", ext)
	}
	sum := sha256.Sum256(data)
	rel := dir + "/" + hex.EncodeToString(sum[:]) + "." + ext

	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	defer r.Close()

	name := filepath.FromSlash(rel)
	if fi, err := r.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(data)) {
		return rel, nil // content-addressed: same name, same bytes
	}
	fdir := filepath.FromSlash(dir)
	if err := r.MkdirAll(fdir, 0o755); err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	if err := writeAtomic(r, fdir, name, data); err != nil {
		return "", fmt.Errorf("media: storing %s: %w", rel, err)
	}
	return rel, nil
}

// writeAtomic writes data to a new temporary file in dir and renames it to
// name, both inside r.
func writeAtomic(r *os.Root, dir, name string, data []byte) (err error) {
	tmp := filepath.Join(dir, ".tmp-"+rand.Text())
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			r.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil { // not subject to the umask
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = r.Rename(tmp, name); err != nil {
		return err
	}
	// Make the rename durable; not every system can sync a directory.
	if d, err := r.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Remove deletes the file root/rel. rel must be a clean relative path with
// forward slashes inside root (no "..", not absolute), or ErrUnsafePath is
// returned; a file that does not exist is not an error. Remove does not
// delete directories.
func Remove(root, rel string) error {
	if root == "" {
		return errors.New("media: empty storage root")
	}
	if !isLocal(rel) {
		return fmt.Errorf("media: remove %q: %w", rel, ErrUnsafePath)
	}
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	defer r.Close()

	name := filepath.FromSlash(rel)
	fi, err := r.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("media: remove %s: %w", rel, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("media: remove %s: is a directory", rel)
	}
	if err := r.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media: remove %s: %w", rel, err)
	}
	return nil
}

// isLocal reports whether p is a non-empty, clean, relative slash-separated
// path that stays inside its root.
func isLocal(p string) bool {
	if p == "" || p == "." || strings.ContainsAny(p, "\\\x00") || path.IsAbs(p) || path.Clean(p) != p {
		return false
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return false
		}
	}
	return filepath.IsLocal(filepath.FromSlash(p))
}

func validExt(ext string) bool {
	if ext == "" || len(ext) > 10 {
		return false
	}
	for _, c := range ext {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
