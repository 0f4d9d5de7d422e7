package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jokster/jokster"
)

var originalPath = regexp.MustCompile(`^originals/[0-9a-f]{64}\.(jpg|png|webp|gif|mp4|webm)$`)

// transparentPNG is a w×h picture whose left half is see-through.
func transparentPNG(t testing.TB, w, h int) []byte {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if x < w/2 {
				a = 0
			}
			m.SetNRGBA(x, y, color.NRGBA{200, 30, 30, a})
		}
	}
	return encodePNG(t, m)
}

func animatedGIF(t testing.TB, w, h int) []byte {
	return encodeGIF(t, &gif.GIF{
		Image: []*image.Paletted{
			quadrantsPaletted(w, h, red, green, blue, yellow),
			quadrantsPaletted(w, h, blue, blue, blue, blue),
			quadrantsPaletted(w, h, yellow, yellow, red, red),
		},
		Delay:     []int{10, 20, 30},
		LoopCount: 0,
	})
}

// quadrantsPaletted is quadrants() as a paletted image, made quickly.
func quadrantsPaletted(w, h int, tl, tr, bl, br color.RGBA) *image.Paletted {
	m := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{tl, tr, bl, br})
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := uint8(0)
			if x >= w/2 {
				i++
			}
			if y >= h/2 {
				i += 2
			}
			m.Pix[y*m.Stride+x] = i
		}
	}
	return m
}

func TestIngestAndProcessEveryType(t *testing.T) {
	type want struct {
		kind, format   string
		w, h, frames   int
		display        string // format of the display rendition
		dw, dh         int    // its size
		poster         bool
		pw, ph         int
		displayFrames  int // GIFs
		minDurationMS  int // videos
		maxDurationMS  int
		transparentTop bool
	}
	cases := []struct {
		name  string
		video bool
		data  func(t *testing.T) []byte
		want  want
	}{
		{"jpeg", false, func(t *testing.T) []byte { return encodeJPEG(t, photo(300, 200)) },
			want{kind: "image", format: "jpeg", w: 300, h: 200, frames: 1, display: "jpeg", dw: 300, dh: 200}},
		{"jpeg-large", false, func(t *testing.T) []byte { return encodeJPEG(t, photo(1600, 1200)) },
			want{kind: "image", format: "jpeg", w: 1600, h: 1200, frames: 1, display: "jpeg", dw: 1280, dh: 960}},
		{"png", false, func(t *testing.T) []byte { return encodePNG(t, photo(200, 100)) },
			want{kind: "image", format: "png", w: 200, h: 100, frames: 1, display: "jpeg", dw: 200, dh: 100}},
		{"png-tall-transparent", false, func(t *testing.T) []byte { return transparentPNG(t, 100, 3000) },
			want{kind: "image", format: "png", w: 100, h: 3000, frames: 1, display: "png", dw: 43, dh: 1280, transparentTop: true}},
		{"webp-lossless", false, func(t *testing.T) []byte { return webpTwoColours(48, 32, func(x, y int) bool { return x < y }) },
			want{kind: "image", format: "webp", w: 48, h: 32, frames: 1, display: "jpeg", dw: 48, dh: 32}},
		{"webp-lossy", true, func(t *testing.T) []byte {
			return ffmpegFile(t, videoTools(t), "p.webp", "-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1", "-c:v", "libwebp")
		}, want{kind: "image", format: "webp", w: 320, h: 240, frames: 1, display: "jpeg", dw: 320, dh: 240}},
		{"gif", false, func(t *testing.T) []byte { return animatedGIF(t, 60, 40) },
			want{kind: "gif", format: "gif", w: 60, h: 40, frames: 3, display: "gif", dw: 60, dh: 40, poster: true, pw: 60, ph: 40, displayFrames: 3}},
		{"gif-large", false, func(t *testing.T) []byte { return animatedGIF(t, 1400, 700) },
			want{kind: "gif", format: "gif", w: 1400, h: 700, frames: 3, display: "gif", dw: 1280, dh: 640, poster: true, pw: 1400, ph: 700, displayFrames: 3}},
		{"mp4", true, func(t *testing.T) []byte { return testVideo(t, videoTools(t), "mp4", 1) },
			want{kind: "video", format: "mp4", w: 160, h: 120, display: "mp4", dw: 160, dh: 120, poster: true, pw: 160, ph: 120, minDurationMS: 900, maxDurationMS: 1200}},
		{"webm", true, func(t *testing.T) []byte { return testVideo(t, videoTools(t), "webm", 3) },
			want{kind: "video", format: "webm", w: 160, h: 120, display: "webm", dw: 160, dh: 120, poster: true, pw: 160, ph: 120, minDurationMS: 2900, maxDurationMS: 3200}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var tools Tools
			if c.video {
				tools = videoTools(t)
			}
			data := c.data(t)
			root := t.TempDir()
			ctx := testCtx(t)
			w := c.want

			u, err := Ingest(ctx, root, bytes.NewReader(data), testUploadLimits, tools)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if u.Kind != w.kind || u.Format != w.format || u.Width != w.w || u.Height != w.h || u.Frames != w.frames ||
				u.Size != int64(len(data)) || u.SHA256 != hex.EncodeToString(sum[:]) || !originalPath.MatchString(u.Path) ||
				!strings.Contains(u.Path, u.SHA256) {
				t.Fatalf("Ingest = %+v, want %+v, %d bytes", u, w, len(data))
			}
			if c.video && (u.DurationMS < w.minDurationMS || u.DurationMS > w.maxDurationMS) {
				t.Errorf("DurationMS = %d, want %d-%d", u.DurationMS, w.minDurationMS, w.maxDurationMS)
			}
			stored, err := os.ReadFile(filepath.Join(root, u.Path))
			if err != nil || !bytes.Equal(stored, data) {
				t.Fatalf("stored original differs from the upload (%v)", err)
			}
			if e := entries(t, root); len(e) != 2 { // originals, originals/<hash>
				t.Fatalf("after Ingest: %v", e)
			}

			res, err := Process(ctx, root, u, tools)
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != w.dw || res.Height != w.dh {
				t.Errorf("Result size %dx%d, want %dx%d", res.Width, res.Height, w.dw, w.dh)
			}
			switch w.display {
			case "gif":
				f, err := os.Open(filepath.Join(root, res.Display))
				if err != nil {
					t.Fatal(err)
				}
				g, err := gif.DecodeAll(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if g.Config.Width != w.dw || g.Config.Height != w.dh || len(g.Image) != w.displayFrames {
					t.Errorf("display GIF %dx%d with %d frames, want %dx%d with %d",
						g.Config.Width, g.Config.Height, len(g.Image), w.dw, w.dh, w.displayFrames)
				}
				if !reflect.DeepEqual(g.Delay, []int{10, 20, 30}) || g.LoopCount != 0 {
					t.Errorf("display GIF delays %v, loop count %d; want [10 20 30], 0", g.Delay, g.LoopCount)
				}
			case "mp4", "webm":
				info, err := probe(ctx, tools, filepath.Join(root, res.Display), w.display)
				if err != nil {
					t.Fatal(err)
				}
				if info.width != w.dw || info.height != w.dh || info.audioCodec == "" {
					t.Errorf("display video %+v", info)
				}
				if res.DurationMS < w.minDurationMS || res.DurationMS > w.maxDurationMS {
					t.Errorf("Result.DurationMS = %d", res.DurationMS)
				}
				if !strings.HasPrefix(res.Display, "display/") || !strings.HasSuffix(res.Display, "."+w.display) {
					t.Errorf("Display = %q", res.Display)
				}
			default:
				m := decodeFile(t, root, res.Display, w.display)
				wantSize(t, m, w.dw, w.dh, "display")
				if w.transparentTop {
					if _, _, _, a := m.At(0, 0).RGBA(); a != 0 {
						t.Errorf("display lost its transparency: alpha %d", a)
					}
					if _, _, _, a := m.At(w.dw-1, 0).RGBA(); a != 0xffff {
						t.Errorf("display's opaque half has alpha %d", a)
					}
				}
			}
			wantSize(t, decodeFile(t, root, res.Thumb, "jpeg"), ThumbSize, ThumbSize, "thumbnail")
			if w.poster {
				wantSize(t, decodeFile(t, root, res.Poster, "jpeg"), w.pw, w.ph, "poster")
			} else if res.Poster != "" {
				t.Errorf("a still image got a poster %q", res.Poster)
			}
			if res.PHash == 0 {
				t.Error("no perceptual hash")
			}

			// The same bytes again: the same original, the same renditions,
			// nothing new on disk.
			before := entries(t, root)
			info, _ := os.Stat(filepath.Join(root, u.Path))
			u2, err := Ingest(ctx, root, bytes.NewReader(data), testUploadLimits, tools)
			if err != nil || u2 != u {
				t.Fatalf("second Ingest = %+v, %v; want %+v", u2, err, u)
			}
			res2, err := Process(ctx, root, u2, tools)
			if err != nil || res2 != res {
				t.Fatalf("second Process = %+v, %v; want %+v", res2, err, res)
			}
			if after := entries(t, root); !reflect.DeepEqual(after, before) {
				t.Fatalf("files before the retry %v, after %v", before, after)
			}
			if info2, _ := os.Stat(filepath.Join(root, u.Path)); !info2.ModTime().Equal(info.ModTime()) {
				t.Error("the original was written again")
			}
		})
	}
}

func TestIngestRefusesBadInput(t *testing.T) {
	elf, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip("no /bin/true to upload:", err)
	}
	jpegData := encodeJPEG(t, photo(400, 300))
	pngData := encodePNG(t, photo(40, 30))
	gifData := animatedGIF(t, 30, 20)
	webpData := webpTwoColours(48, 32, func(x, y int) bool { return x < y })
	badCRC := append([]byte{}, pngData...)
	badCRC[len(badCRC)-20] ^= 0xFF // inside the last IDAT chunk
	// An animated PNG: an acTL chunk after IHDR.
	apng := append([]byte{}, pngData[:33]...)
	apng = append(apng, pngChunk("acTL", []byte{0, 0, 0, 2, 0, 0, 0, 0})...)
	apng = append(apng, pngData[33:]...)
	// An animated WebP: VP8X with the animation flag, then ANIM.
	vp8x := []byte{0x02, 0, 0, 0, 47, 0, 0, 31, 0, 0}
	animWebP := riffWebP("VP8X", vp8x)
	// A GIF that claims to end but has no trailer.
	gifNoTrailer := gifData[:len(gifData)-1]

	smallLimits := testUploadLimits
	smallLimits.MaxBytes = int64(len(jpegData) - 1)

	cases := []struct {
		name   string
		data   []byte
		lim    UploadLimits
		code   string
		inMsg  string
		budget uint64 // heap growth allowed, if checked
	}{
		{"empty", nil, testUploadLimits, jokster.EINVALID, "empty", 0},
		{"renamed ELF executable", elf, testUploadLimits, jokster.EUNSUPPORTED, "not supported", 0},
		{"HTML named .jpg", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), testUploadLimits, jokster.EUNSUPPORTED, "not supported", 0},
		{"SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`), testUploadLimits, jokster.EUNSUPPORTED, "not supported", 0},
		{"truncated JPEG", jpegData[:len(jpegData)/2], testUploadLimits, jokster.EINVALID, "incomplete", 0},
		{"JPEG header only", jpegData[:200], testUploadLimits, jokster.EINVALID, "JPEG", 0},
		{"JPEG without its EOI", jpegData[:len(jpegData)-2], testUploadLimits, jokster.EINVALID, "incomplete", 0},
		{"PNG claiming 100000x100000", pngClaiming(100000, 100000), testUploadLimits, jokster.ETOOLARGE, "100000×100000", 20 << 20},
		{"JPEG claiming 65535x65535", patchJPEGSize(t, encodeJPEG(t, photo(16, 16)), 65535, 65535), testUploadLimits, jokster.ETOOLARGE, "megapixels", 20 << 20},
		{"WebP claiming 16384x16384", webpSolid(16384, 16384), testUploadLimits, jokster.ETOOLARGE, "megapixels", 20 << 20},
		{"GIF with 5000 frames", gifManyFrames(1, 1, 5000), testUploadLimits, jokster.ETOOLARGE, "500 frames", 20 << 20},
		{"GIF with 400 frames on a 4000x4000 screen", gifManyFrames(4000, 4000, 400), testUploadLimits, jokster.ETOOLARGE, "200 megapixels", 20 << 20},
		{"GIF screen 65535x65535", gifManyFrames(65535, 65535, 1), testUploadLimits, jokster.ETOOLARGE, "megapixels", 20 << 20},
		{"over the byte limit", jpegData, smallLimits, jokster.ETOOLARGE, "too large", 0},
		{"truncated PNG", pngData[:len(pngData)-30], testUploadLimits, jokster.EINVALID, "incomplete", 0},
		{"PNG with a bad checksum", badCRC, testUploadLimits, jokster.EINVALID, "damaged", 0},
		{"animated PNG", apng, testUploadLimits, jokster.EUNSUPPORTED, "animated PNG", 0},
		{"truncated GIF", gifData[:len(gifData)/2], testUploadLimits, jokster.EINVALID, "incomplete", 0},
		{"GIF without trailer", gifNoTrailer, testUploadLimits, jokster.EINVALID, "incomplete", 0},
		{"GIF without frames", gifManyFrames(10, 10, 0), testUploadLimits, jokster.EINVALID, "no images", 0},
		{"truncated WebP", webpData[:len(webpData)-4], testUploadLimits, jokster.EINVALID, "WebP", 0},
		{"animated WebP", animWebP, testUploadLimits, jokster.EUNSUPPORTED, "animated WebP", 0},
		{"MP4 without ffmpeg", []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"), testUploadLimits, jokster.EUNSUPPORTED, "ffmpeg is not installed", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			var err error
			grew := heapGrowth(func() {
				_, err = Ingest(testCtx(t), root, bytes.NewReader(c.data), c.lim, Tools{})
			})
			wantCode(t, err, c.code)
			if msg := jokster.ErrorMessage(err); !strings.Contains(msg, c.inMsg) {
				t.Errorf("message %q does not mention %q", msg, c.inMsg)
			}
			t.Logf("%s: %s (heap +%d KB)", jokster.ErrorCode(err), jokster.ErrorMessage(err), grew>>10)
			if c.budget > 0 && grew > c.budget {
				t.Errorf("refusing it allocated %d bytes, want at most %d", grew, c.budget)
			}
			wantEmpty(t, root)
		})
	}

	// The hand-made GIF is a real GIF: a small one decodes, and is accepted.
	small := gifManyFrames(3, 2, 4)
	g, err := gif.DecodeAll(bytes.NewReader(small))
	if err != nil || len(g.Image) != 4 {
		t.Fatalf("hand-made GIF: %v", err)
	}
	u, err := Ingest(testCtx(t), t.TempDir(), bytes.NewReader(small), testUploadLimits, Tools{})
	if err != nil || u.Frames != 4 || u.Width != 3 || u.Height != 2 {
		t.Fatalf("Ingest(small hand-made GIF) = %+v, %v", u, err)
	}
}

// endlessJPEG yields a JPEG start followed by zeros, forever.
type endlessJPEG struct{ n int64 }

func (e *endlessJPEG) Read(p []byte) (int, error) {
	clear(p)
	if e.n == 0 && len(p) >= 3 {
		copy(p, jpegMagic)
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestIngestStopsReadingAtTheLimit(t *testing.T) {
	root := t.TempDir()
	lim := testUploadLimits
	lim.MaxBytes = 1 << 20
	src := &endlessJPEG{}
	var err error
	grew := heapGrowth(func() { _, err = Ingest(testCtx(t), root, src, lim, Tools{}) })
	wantCode(t, err, jokster.ETOOLARGE)
	if src.n > lim.MaxBytes+64<<10 {
		t.Errorf("read %d bytes of an endless upload with a %d byte limit", src.n, lim.MaxBytes)
	}
	if grew > 4<<20 {
		t.Errorf("Ingest allocated %d bytes for a 1 MB upload: it should stream", grew)
	}
	wantEmpty(t, root)

	// The HTTP layer's own body limit is reported the same way.
	body := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(encodeJPEG(t, photo(100, 100)))), 100)
	_, err = Ingest(testCtx(t), root, body, testUploadLimits, Tools{})
	wantCode(t, err, jokster.ETOOLARGE)
	wantEmpty(t, root)
}

// failingReader returns its data and then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestIngestBrokenOrCancelledBody(t *testing.T) {
	data := encodeJPEG(t, photo(300, 200))
	root := t.TempDir()
	broken := errors.New("connection reset")
	_, err := Ingest(testCtx(t), root, &failingReader{data: data[:1000], err: broken}, testUploadLimits, Tools{})
	if !errors.Is(err, broken) || jokster.ErrorCode(err) != jokster.EINTERNAL {
		t.Errorf("broken body: %v, want the read error", err)
	}
	wantEmpty(t, root)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Ingest(ctx, root, bytes.NewReader(data), testUploadLimits, Tools{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	wantEmpty(t, root)
}

func TestIngestBadArguments(t *testing.T) {
	data := encodeJPEG(t, photo(10, 10))
	for _, lim := range []UploadLimits{{}, {MaxBytes: 1, MaxPixels: 1, MaxGIFFrames: 1, MaxGIFPixels: 1}} {
		if _, err := Ingest(testCtx(t), t.TempDir(), bytes.NewReader(data), lim, Tools{}); jokster.ErrorCode(err) != jokster.EINTERNAL {
			t.Errorf("limits %+v: %v, want an internal error", lim, err)
		}
	}
	if _, err := Ingest(testCtx(t), "", bytes.NewReader(data), testUploadLimits, Tools{}); err == nil {
		t.Error("empty root accepted")
	}
}

func TestIngestConcurrentSameBytes(t *testing.T) {
	root := t.TempDir()
	data := encodePNG(t, photo(120, 80))
	var wg sync.WaitGroup
	paths := make([]string, 8)
	for i := range paths {
		wg.Go(func() {
			u, err := Ingest(testCtx(t), root, bytes.NewReader(data), testUploadLimits, Tools{})
			if err != nil {
				t.Error(err)
			}
			paths[i] = u.Path
		})
	}
	wg.Wait()
	for _, p := range paths {
		if p != paths[0] {
			t.Fatalf("paths differ: %v", paths)
		}
	}
	if e := entries(t, root); len(e) != 2 {
		t.Fatalf("under root: %v", e)
	}
}

func TestIngestPixelLimitBoundary(t *testing.T) {
	data := encodePNG(t, photo(100, 50))
	lim := testUploadLimits
	lim.MaxPixels = 5000
	if _, err := Ingest(testCtx(t), t.TempDir(), bytes.NewReader(data), lim, Tools{}); err != nil {
		t.Fatalf("exactly MaxPixels: %v", err)
	}
	lim.MaxPixels = 4999
	_, err := Ingest(testCtx(t), t.TempDir(), bytes.NewReader(data), lim, Tools{})
	wantCode(t, err, jokster.ETOOLARGE)

	// GIF frames: exactly the limit is fine.
	lim = testUploadLimits
	lim.MaxGIFFrames = 4
	if _, err := Ingest(testCtx(t), t.TempDir(), bytes.NewReader(gifManyFrames(2, 2, 4)), lim, Tools{}); err != nil {
		t.Fatalf("exactly MaxGIFFrames: %v", err)
	}
	_, err = Ingest(testCtx(t), t.TempDir(), bytes.NewReader(gifManyFrames(2, 2, 5)), lim, Tools{})
	wantCode(t, err, jokster.ETOOLARGE)
	lim = testUploadLimits
	lim.MaxGIFPixels = 16 // 4 frames of 2×2
	if _, err := Ingest(testCtx(t), t.TempDir(), bytes.NewReader(gifManyFrames(2, 2, 4)), lim, Tools{}); err != nil {
		t.Fatalf("exactly MaxGIFPixels: %v", err)
	}
	_, err = Ingest(testCtx(t), t.TempDir(), bytes.NewReader(gifManyFrames(2, 2, 5)), lim, Tools{})
	wantCode(t, err, jokster.ETOOLARGE)
}

func TestCleanTemp(t *testing.T) {
	root := t.TempDir()
	if n, err := CleanTemp(filepath.Join(root, "missing"), time.Hour); n != 0 || err != nil {
		t.Fatalf("missing root: %d, %v", n, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{".tmp-old.upload", "display/.tmp-old.mp4", ".tmp-new.upload", "display/kept.mp4"} {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p, "old") || strings.Contains(p, "kept") {
			os.Chtimes(full, old, old)
		}
	}
	n, err := CleanTemp(root, time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("CleanTemp = %d, %v; want 2", n, err)
	}
	if got := entries(t, root); !reflect.DeepEqual(got, []string{".tmp-new.upload", "display", "display/kept.mp4"}) {
		t.Fatalf("left: %v", got)
	}
}

func FuzzIngest(f *testing.F) {
	q := quadrants(12, 8, red, green, blue, yellow)
	j := encodeJPEG(f, q)
	f.Add(j)
	f.Add(j[:len(j)-10])
	f.Add(withOrientation(j, 6))
	p := encodePNG(f, q)
	f.Add(p)
	f.Add(p[:len(p)-5])
	f.Add(pngClaiming(3, 3))
	f.Add(transparentPNG(f, 6, 4))
	f.Add(animatedGIF(f, 12, 8))
	f.Add(gifManyFrames(4, 4, 3))
	f.Add(gifWithExtensions(f, animatedGIF(f, 6, 4), "hello"))
	f.Add(webpTwoColours(12, 8, func(x, y int) bool { return x < y }))
	f.Add(webpSolid(9, 9))
	f.Add(riffWebP("VP8X", []byte{0x02, 0, 0, 0, 11, 0, 0, 7, 0, 0}))
	f.Add([]byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"))
	f.Add([]byte("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04"))
	f.Add([]byte("<html>"))

	lim := UploadLimits{MaxBytes: 1 << 20, MaxPixels: 1 << 14, MaxGIFFrames: 20, MaxGIFPixels: 1 << 16, MaxVideoSeconds: 5}
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		u, err := Ingest(ctx, root, bytes.NewReader(data), lim, Tools{})
		if err != nil {
			switch code := jokster.ErrorCode(err); code {
			case jokster.EINVALID, jokster.ETOOLARGE, jokster.EUNSUPPORTED:
			default:
				t.Fatalf("error with code %s: %v", code, err)
			}
			if jokster.ErrorMessage(err) == "" {
				t.Fatal("error without a message")
			}
			wantEmpty(t, root)
			return
		}
		defer func() {
			// Clean up for the next input.
			ents, _ := os.ReadDir(root)
			for _, e := range ents {
				os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}()
		if u.Kind == KindVideo || int64(u.Width)*int64(u.Height) > lim.MaxPixels {
			t.Fatalf("accepted %+v", u)
		}
		if _, err := Process(ctx, root, u, Tools{}); err != nil {
			if code := jokster.ErrorCode(err); code != jokster.EINVALID {
				t.Fatalf("Process: error with code %s: %v", code, err)
			}
		}
		for _, e := range entries(t, root) {
			if strings.Contains(e, tempPrefix) {
				t.Fatalf("temporary file left: %s", e)
			}
		}
	})
}

func BenchmarkIngestProcess(b *testing.B) {
	data := encodeJPEG(b, photo(2000, 1500))
	root := b.TempDir()
	ctx := context.Background()
	b.Run("Ingest", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Ingest(ctx, root, bytes.NewReader(data), testUploadLimits, Tools{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IngestProcess", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			u, err := Ingest(ctx, root, bytes.NewReader(data), testUploadLimits, Tools{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Process(ctx, root, u, Tools{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
