package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jokster/jokster"
)

// UploadLimits bound one post upload. Every field must be positive;
// DefaultUploadLimits gives sane defaults.
type UploadLimits struct {
	MaxBytes        int64   // size of the file
	MaxPixels       int64   // width×height of an image, GIF screen or video frame, from the header
	MaxGIFFrames    int     // frames in a GIF
	MaxGIFPixels    int64   // frames × screen pixels of a GIF: what processing it costs once decoded
	MaxVideoSeconds float64 // length of a video
}

// DefaultUploadLimits returns the limits the issue suggests: 50 MiB,
// 40 megapixels, 500 GIF frames, 200 megapixels in all GIF frames together
// and 60 seconds of video.
func DefaultUploadLimits() UploadLimits {
	return UploadLimits{
		MaxBytes:        50 << 20,
		MaxPixels:       40_000_000,
		MaxGIFFrames:    500,
		MaxGIFPixels:    200_000_000,
		MaxVideoSeconds: 60,
	}
}

func (l UploadLimits) valid() bool {
	return l.MaxBytes > 0 && l.MaxPixels > 0 && l.MaxGIFFrames > 0 && l.MaxGIFPixels > 0 && l.MaxVideoSeconds > 0
}

// Upload kinds.
const (
	KindImage = "image"
	KindGIF   = "gif"
	KindVideo = "video"
)

// OriginalsDir is the folder under the media root that holds accepted
// uploads as they were sent (metadata included: never serve these).
const OriginalsDir = "originals"

// Upload describes an accepted original.
type Upload struct {
	Kind          string // KindImage, KindGIF or KindVideo
	Format        string // "jpeg", "png", "webp", "gif", "mp4", "webm"
	Path          string // relative to the root, content-addressed: "originals/<sha256>.<ext>"
	SHA256        string // hex
	Size          int64  // bytes
	Width, Height int    // pixels (a video's coded frame size, before any rotation)
	Frames        int    // GIF frames; 1 for still images; 0 for videos
	DurationMS    int    // videos
}

// formats maps each accepted format to its kind, file extension and the
// name used in messages.
var formats = map[string]struct{ kind, ext, name string }{
	"jpeg": {KindImage, "jpg", "JPEG"},
	"png":  {KindImage, "png", "PNG"},
	"webp": {KindImage, "webp", "WebP"},
	"gif":  {KindGIF, "gif", "GIF"},
	"mp4":  {KindVideo, "mp4", "MP4"},
	"webm": {KindVideo, "webm", "WebM"},
}

// tempPrefix starts the name of every temporary file this package writes
// under the media root; CleanTemp removes the ones a crash left behind.
const tempPrefix = ".tmp-"

// Ingest streams r into root and returns what it accepted.
//
// The type is decided from the first bytes (Sniff), never from a name. The
// body is copied to a temporary file directly inside root (".tmp-…"),
// hashed on the way, and cut off after lim.MaxBytes bytes; it is never held
// in memory. The file is then checked from its headers and structure only,
// without decoding pixels: image dimensions against MaxPixels; JPEG, PNG
// and WebP structure (a truncated file is refused); for GIF a walk over its
// blocks that counts frames and sums their cost without decompressing any
// LZW data; for videos ffprobe's view of the container (length, frame size,
// codecs). An accepted file is renamed to root/originals/<sha256>.<ext>; if
// that file exists already (the same bytes were uploaded before) the
// temporary file is dropped and the same Path returned.
//
// Bad input is a *jokster.Error: EINVALID (empty, damaged, incomplete),
// ETOOLARGE (a limit) or EUNSUPPORTED (another type, animated PNG/WebP, a
// video codec browsers cannot play, or a video when tools has no ffmpeg);
// nothing is then left in root. Other errors (I/O, ctx) are internal and
// leave nothing either. ctx bounds the copy and the ffprobe run; give it a
// deadline.
func Ingest(ctx context.Context, root string, r io.Reader, lim UploadLimits, tools Tools) (Upload, error) {
	return IngestGuarded(ctx, root, r, lim, tools, nil)
}

// Guard runs place, which stores the file at path (or finds it stored
// before), while nothing may collect that path: the caller holds whatever
// keeps collectors off it and takes the path out of their queue.
type Guard func(path string, place func() error) error

// IngestGuarded is Ingest with the storing step run under guard (nil: no
// guard). The same bytes uploaded before give the same path, which may be
// queued for collection because the post that had it went; under the
// guard, the file found is sure to stay.
func IngestGuarded(ctx context.Context, root string, r io.Reader, lim UploadLimits, tools Tools, guard Guard) (Upload, error) {
	if root == "" {
		return Upload{}, errors.New("media: empty storage root")
	}
	if !lim.valid() {
		return Upload{}, fmt.Errorf("media: invalid upload limits %+v", lim)
	}
	if err := ctx.Err(); err != nil {
		return Upload{}, err
	}

	head := make([]byte, SniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Upload{}, readError(err, lim.MaxBytes)
	}
	head = head[:n]
	if n == 0 {
		return Upload{}, &jokster.Error{Code: jokster.EINVALID, Message: "the uploaded file is empty"}
	}
	format := Sniff(head)
	f, ok := formats[format]
	if !ok {
		return Upload{}, unsupportedType()
	}
	if f.kind == KindVideo && !tools.CanVideo() {
		return Upload{}, noFFmpeg()
	}

	if err := os.MkdirAll(root, 0o755); err != nil {
		return Upload{}, fmt.Errorf("media: %w", err)
	}
	rt, err := os.OpenRoot(root)
	if err != nil {
		return Upload{}, fmt.Errorf("media: %w", err)
	}
	defer rt.Close()

	tmp := tempPrefix + rand.Text() + ".upload"
	file, err := rt.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Upload{}, fmt.Errorf("media: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			file.Close()
			rt.Remove(tmp)
		}
	}()

	h := sha256.New()
	w := &writeTracker{w: io.MultiWriter(file, h)}
	body := io.MultiReader(bytes.NewReader(head), &ctxReader{ctx: ctx, r: r})
	size, err := io.CopyBuffer(w, io.LimitReader(body, lim.MaxBytes+1), make([]byte, 64<<10))
	if w.err != nil {
		return Upload{}, fmt.Errorf("media: writing upload: %w", w.err)
	} else if err != nil {
		return Upload{}, readError(err, lim.MaxBytes)
	}
	if size > lim.MaxBytes {
		return Upload{}, tooManyBytes(lim.MaxBytes)
	}

	u := Upload{Kind: f.kind, Format: format, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	if f.kind == KindVideo {
		// ffprobe reads the file by name (os.File does not buffer).
		info, err := inspectVideo(ctx, tools, filepath.Join(root, tmp), format, lim)
		if err != nil {
			return Upload{}, err
		}
		u.Width, u.Height, u.DurationMS = info.width, info.height, info.durationMS
	} else {
		hdr, err := inspectImage(file, format, lim)
		if err != nil {
			return Upload{}, err
		}
		u.Width, u.Height, u.Frames = hdr.width, hdr.height, hdr.frames
	}
	if err := ctx.Err(); err != nil {
		return Upload{}, err
	}

	u.Path = OriginalsDir + "/" + u.SHA256 + "." + f.ext
	name := filepath.FromSlash(u.Path)
	if err := rt.MkdirAll(OriginalsDir, 0o755); err != nil {
		return Upload{}, fmt.Errorf("media: %w", err)
	}
	// The slow part (the file reaching the disk) happens before the guard,
	// which may hold a database connection; under it only a look and a
	// rename.
	if err := file.Chmod(0o644); err != nil {
		return Upload{}, fmt.Errorf("media: %w", err)
	}
	if err := file.Sync(); err != nil {
		return Upload{}, fmt.Errorf("media: %w", err)
	}
	keep = true // from here on the temporary file is removed or renamed below
	if err := file.Close(); err != nil {
		rt.Remove(tmp)
		return Upload{}, fmt.Errorf("media: %w", err)
	}
	place := func() error {
		if fi, err := rt.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
			rt.Remove(tmp) // stored before
			return nil
		}
		if err := rt.Rename(tmp, name); err != nil {
			return fmt.Errorf("media: storing %s: %w", u.Path, err)
		}
		syncDir(rt, OriginalsDir)
		return nil
	}
	if guard != nil {
		err = guard(u.Path, place)
	} else {
		err = place()
	}
	if err != nil {
		rt.Remove(tmp) // if it is still there
		return Upload{}, err
	}
	return u, nil
}

// CleanTemp removes the temporary files (".tmp-…") under root that are
// older than age: the ones an Ingest or Process left behind when the
// process died. Call it now and then (e.g. hourly, age one hour: no upload
// or ffmpeg run lasts that long). It returns how many files it removed.
func CleanTemp(root string, age time.Duration) (int, error) {
	rt, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("media: %w", err)
	}
	defer rt.Close()
	cutoff := time.Now().Add(-age)
	removed := 0
	err = fs.WalkDir(rt.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished while walking
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			if rt.Remove(filepath.FromSlash(p)) == nil {
				removed++
			}
		}
		return nil
	})
	return removed, err
}

// readError turns a failure reading the body into the error to report: a
// body that ends before its file does (a multipart part without its
// closing boundary, a client gone mid-upload) is the request's fault.
func readError(err error, maxBytes int64) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooManyBytes(maxBytes)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return jokster.Errorf(jokster.EINVALID, "the upload ended before the file did (a malformed or cut-off multipart body)")
	}
	return fmt.Errorf("media: reading upload: %w", err)
}

func unsupportedType() error {
	return &jokster.Error{Code: jokster.EUNSUPPORTED,
		Message: "this file type is not supported; upload a JPEG, PNG, GIF or WebP image, or an MP4 or WebM video"}
}

func noFFmpeg() error {
	return &jokster.Error{Code: jokster.EUNSUPPORTED,
		Message: "this server cannot take videos: ffmpeg is not installed"}
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writeTracker remembers the error of its writer, to tell it apart from
// one of the reader.
type writeTracker struct {
	w   io.Writer
	err error
}

func (t *writeTracker) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// syncDir makes a rename in dir durable, where the system allows it.
func syncDir(rt *os.Root, dir string) {
	if d, err := rt.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
