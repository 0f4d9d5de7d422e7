package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestStoreContentAddressed(t *testing.T) {
	root := filepath.Join(t.TempDir(), "media") // created on demand
	data := []byte("a small photo")
	sum := sha256.Sum256(data)

	rel, err := Store(root, "avatars", data, "jpg")
	if err != nil {
		t.Fatal(err)
	}
	if want := "avatars/" + hex.EncodeToString(sum[:]) + ".jpg"; rel != want {
		t.Fatalf("Store = %q, want %q", rel, want)
	}
	full := filepath.Join(root, filepath.FromSlash(rel))
	got, err := os.ReadFile(full)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored file = %q, %v", got, err)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{full: 0o644, filepath.Dir(full): 0o755} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			// Directories are created 0755 less the umask.
			if perm := fi.Mode().Perm(); perm != want && !(fi.IsDir() && perm&^want == 0) {
				t.Errorf("%s has mode %v, want %v", p, perm, want)
			}
		}
	}

	// Storing the same bytes again is a no-op that returns the same path.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(full, old, old); err != nil {
		t.Fatal(err)
	}
	again, err := Store(root, "avatars", append([]byte{}, data...), ".JPG")
	if err != nil || again != rel {
		t.Fatalf("second Store = %q, %v; want %q", again, err, rel)
	}
	if fi, _ := os.Stat(full); !fi.ModTime().Equal(old) {
		t.Error("the second Store rewrote the file")
	}

	// Other bytes, other path; nested directories work.
	other, err := Store(root, "posts/2024/06", []byte("another"), "png")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^posts/2024/06/[0-9a-f]{64}\.png$`).MatchString(other) {
		t.Errorf("Store = %q", other)
	}

	// A damaged file (wrong size) under the name is replaced.
	if err := os.WriteFile(full, []byte("trunc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Store(root, "avatars", data, "jpg"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(full); !bytes.Equal(got, data) {
		t.Errorf("damaged file not replaced: %q", got)
	}

	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(full))
	if len(entries) != 1 {
		t.Errorf("avatars holds %d entries, want 1", len(entries))
	}
}

func TestStoreConcurrent(t *testing.T) {
	root := t.TempDir()
	data := bytes.Repeat([]byte("x"), 1<<16)
	var wg sync.WaitGroup
	paths := make([]string, 8)
	for i := range paths {
		wg.Go(func() {
			p, err := Store(root, "avatars", data, "jpg")
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		})
	}
	wg.Wait()
	for _, p := range paths {
		if p != paths[0] {
			t.Fatalf("paths differ: %q", paths)
		}
	}
	got, err := os.ReadFile(filepath.Join(root, paths[0]))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored file: %d bytes, %v", len(got), err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "avatars")); len(entries) != 1 {
		t.Errorf("avatars holds %d entries, want 1", len(entries))
	}
}

func TestStoreRefusesBadArguments(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"", ".", "..", "../x", "a/../../x", "a/../b", "/abs", "a//b", "a/", "./a", `a\b`} {
		if _, err := Store(root, dir, []byte("x"), "jpg"); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("Store(dir %q) = %v, want ErrUnsafePath", dir, err)
		}
	}
	for _, ext := range []string{"", ".", "j/pg", "../x", "jp g", "averyveryverylongext"} {
		if _, err := Store(root, "a", []byte("x"), ext); err == nil {
			t.Errorf("Store(ext %q) succeeded", ext)
		}
	}
	if _, err := Store("", "a", []byte("x"), "jpg"); err == nil {
		t.Error("Store with an empty root succeeded")
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("refused calls left %d entries in root", len(entries))
	}
}

func TestStoreDoesNotFollowSymlinksOut(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	root, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "avatars")); err != nil {
		t.Fatal(err)
	}
	if _, err := Store(root, "avatars", []byte("x"), "jpg"); err == nil {
		t.Error("Store wrote through a symlink leading out of root")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("%d files written outside root", len(entries))
	}
}

func TestRemove(t *testing.T) {
	root := t.TempDir()
	rel, err := Store(root, "avatars", []byte("bye"), "jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := Remove(root, rel); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, rel)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	// Missing files, directories and roots are fine.
	for _, c := range [][2]string{{root, rel}, {root, "nope/x.jpg"}, {filepath.Join(root, "missing"), "a.jpg"}} {
		if err := Remove(c[0], c[1]); err != nil {
			t.Errorf("Remove(%q, %q) = %v", c[0], c[1], err)
		}
	}
	// Directories are not removed.
	if err := Remove(root, "avatars"); err == nil {
		t.Error("Remove deleted a directory")
	}
}

func TestRemoveRefusesPathTraversal(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "media")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(parent, "secret.txt")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{
		"../secret.txt", "avatars/../../secret.txt", "..", "", ".", victim, "/secret.txt",
		"./../secret.txt", `..\secret.txt`, "avatars//x.jpg", "a/./b",
	} {
		if err := Remove(root, rel); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("Remove(%q) = %v, want ErrUnsafePath", rel, err)
		}
	}

	// A symbolic link inside root cannot lead out of it either.
	if runtime.GOOS != "windows" {
		if err := os.Symlink(parent, filepath.Join(root, "link")); err != nil {
			t.Fatal(err)
		}
		if err := Remove(root, "link/secret.txt"); err == nil {
			t.Error("Remove followed a symlink out of root")
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("file outside root was removed: %v", err)
	}
}
