package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/draw"

	"github.com/jokster/jokster"
)

// ingestProcess runs the whole pipeline on data.
func ingestProcess(t testing.TB, root string, data []byte, tools Tools) (Upload, Result) {
	t.Helper()
	ctx := testCtx(t)
	u, err := Ingest(ctx, root, bytes.NewReader(data), testUploadLimits, tools)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	res, err := Process(ctx, root, u, tools)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return u, res
}

func readRel(t testing.TB, root, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestProcessStripsGPSAndAppliesOrientation(t *testing.T) {
	t.Parallel()
	// Stored 300×200, quadrants R G / B Y, to be turned 90° clockwise
	// (orientation 6): displayed 200×300 with B R / Y G.
	src := encodeJPEG(t, quadrants(300, 200, red, green, blue, yellow))
	data, gps := jpegWithGPS(src, 6)
	if jpegOrientation(data) != 6 || !bytes.Contains(data, gps) {
		t.Fatal("test JPEG lacks its EXIF")
	}
	root := t.TempDir()
	u, res := ingestProcess(t, root, data, Tools{})
	if !bytes.Contains(readRel(t, root, u.Path), gps) {
		t.Error("the original should be kept as uploaded")
	}
	if res.Width != 200 || res.Height != 300 {
		t.Errorf("Result is %dx%d, want 200x300 (turned)", res.Width, res.Height)
	}
	for _, rel := range []string{res.Display, res.Thumb} {
		out := readRel(t, root, rel)
		for _, bad := range [][]byte{exifHeader, []byte("Exif"), gps, gps[:14], {0xFF, 0xE1}} {
			if bytes.Contains(out, bad) {
				t.Errorf("%s still contains % x", rel, bad[:min(len(bad), 16)])
			}
		}
		if jpegOrientation(out) != 1 {
			t.Errorf("%s has an orientation tag", rel)
		}
	}
	display := decodeFile(t, root, res.Display, "jpeg")
	wantSize(t, display, 200, 300, "display")
	wantColour(t, display, 50, 75, blue, "display top left")
	wantColour(t, display, 150, 75, red, "display top right")
	wantColour(t, display, 50, 225, yellow, "display bottom left")
	wantColour(t, display, 150, 225, green, "display bottom right")
	// The thumbnail is the centre square of the turned picture.
	thumb := decodeFile(t, root, res.Thumb, "jpeg")
	wantQuadrants(t, thumb, blue, red, yellow, green, "thumbnail")
}

func TestProcessOrientationWhenScaling(t *testing.T) {
	t.Parallel()
	// 1600×800 with orientation 8: displayed 800×1600, shown at 640×1280.
	src := encodeJPEG(t, quadrants(1600, 800, red, green, blue, yellow))
	root := t.TempDir()
	_, res := ingestProcess(t, root, withOrientation(src, 8), Tools{})
	m := decodeFile(t, root, res.Display, "jpeg")
	wantSize(t, m, 640, 1280, "display")
	wantQuadrants(t, squareOf(m), green, yellow, red, blue, "orientation 8")
}

// squareOf scales m to a square so that wantQuadrants can read it.
func squareOf(m image.Image) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, 64, 64))
	draw.ApproxBiLinear.Scale(dst, dst.Rect, m, m.Bounds(), draw.Src, nil)
	return dst
}

func TestProcessGIFDropsExtensions(t *testing.T) {
	t.Parallel()
	for _, size := range []struct{ w, h int }{{60, 40}, {1300, 500}} { // kept, and scaled
		data := gifWithExtensions(t, animatedGIF(t, size.w, size.h), "secret-comment")
		if _, err := gif.DecodeAll(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		_, res := ingestProcess(t, root, data, Tools{})
		out := readRel(t, root, res.Display)
		if bytes.Contains(out, []byte("secret-comment")) || bytes.Contains(out, []byte("XMP")) {
			t.Errorf("%dx%d: the display GIF keeps the comment or XMP", size.w, size.h)
		}
		if !bytes.Contains(out, []byte("NETSCAPE2.0")) {
			t.Errorf("%dx%d: the display GIF lost its looping", size.w, size.h)
		}
		g, err := gif.DecodeAll(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		// Frame 1 is red/green/blue/yellow, frame 2 all blue.
		wantQuadrants(t, squareOf(g.Image[0]), red, green, blue, yellow, "frame 1")
		wantQuadrants(t, squareOf(g.Image[1]), blue, blue, blue, blue, "frame 2")
		poster := decodeFile(t, root, res.Poster, "jpeg")
		wantQuadrants(t, squareOf(poster), red, green, blue, yellow, "poster")
	}
}

func TestProcessScaledGIFCompositesFrames(t *testing.T) {
	t.Parallel()
	// A 1400×1400 screen: frame 1 fills it red; frame 2, with a palette of
	// its own, paints only the bottom right quadrant blue. Scaled, frame 2
	// still covers just that quadrant, so red stays elsewhere.
	full := quadrantsPaletted(1400, 1400, red, red, red, red)
	part := quadrantsPaletted(700, 700, blue, blue, blue, blue)
	part.Rect = image.Rect(700, 700, 1400, 1400)
	// Frame 3 covers the screen: see-through on the left, green on the right.
	holed := quadrantsPaletted(1400, 1400, color.RGBA{}, green, color.RGBA{}, green)
	holed.Palette = color.Palette{color.RGBA{}, green}
	for i, v := range holed.Pix {
		holed.Pix[i] = v & 1
	}
	data := encodeGIF(t, &gif.GIF{Image: []*image.Paletted{full, part, holed}, Delay: []int{5, 5, 5},
		Config: image.Config{Width: 1400, Height: 1400}})
	root := t.TempDir()
	_, res := ingestProcess(t, root, data, Tools{})
	g, err := gif.DecodeAll(bytes.NewReader(readRel(t, root, res.Display)))
	if err != nil {
		t.Fatal(err)
	}
	if g.Config.Width != 1280 || len(g.Image) != 3 {
		t.Fatalf("display GIF %dx%d, %d frames", g.Config.Width, g.Config.Height, len(g.Image))
	}
	if g.Image[1].Rect != image.Rect(640, 640, 1280, 1280) {
		t.Errorf("frame 2 covers %v, want the bottom right quarter", g.Image[1].Rect)
	}
	canvas := image.NewRGBA(image.Rect(0, 0, 1280, 1280))
	drawFrame(canvas, g.Image[0])
	wantQuadrants(t, squareOf(canvas), red, red, red, red, "frame 1")
	drawFrame(canvas, g.Image[1])
	wantQuadrants(t, squareOf(canvas), red, red, red, blue, "frames 1 and 2")
	drawFrame(canvas, g.Image[2])
	wantQuadrants(t, squareOf(canvas), red, green, red, green, "frames 1 to 3")
}

func TestPerceptualHash(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	pic := scene(640, 480, 1)
	_, a := ingestProcess(t, root, encodeJPEG(t, pic), Tools{})

	smaller := image.NewRGBA(image.Rect(0, 0, 300, 225))
	draw.CatmullRom.Scale(smaller, smaller.Rect, pic, pic.Rect, draw.Src, nil)
	var low bytes.Buffer
	if err := jpeg.Encode(&low, smaller, &jpeg.Options{Quality: 40}); err != nil {
		t.Fatal(err)
	}
	_, b := ingestProcess(t, root, low.Bytes(), Tools{})
	_, c := ingestProcess(t, root, encodePNG(t, smaller), Tools{})
	_, d := ingestProcess(t, root, encodeJPEG(t, scene(640, 480, 2)), Tools{})
	_, e := ingestProcess(t, root, encodeJPEG(t, quadrants(640, 480, red, green, blue, yellow)), Tools{})

	if n := HashDistance(a.PHash, a.PHash); n != 0 {
		t.Errorf("distance to itself %d", n)
	}
	for name, r := range map[string]Result{"smaller JPEG q40": b, "smaller PNG": c} {
		if n := HashDistance(a.PHash, r.PHash); n > 8 {
			t.Errorf("%s: distance %d, want ≤ 8", name, n)
		} else {
			t.Logf("%s: distance %d", name, n)
		}
	}
	for name, r := range map[string]Result{"another scene": d, "quadrants": e} {
		if n := HashDistance(a.PHash, r.PHash); n <= 8 {
			t.Errorf("%s: distance %d, want > 8", name, n)
		} else {
			t.Logf("%s: distance %d", name, n)
		}
	}
	if HashDistance(0, ^uint64(0)) != 64 || HashDistance(0b1011, 0b0001) != 2 {
		t.Error("HashDistance is not the Hamming distance")
	}
}

func TestProcessErrors(t *testing.T) {
	root := t.TempDir()
	ctx := testCtx(t)
	u, err := Ingest(ctx, root, bytes.NewReader(encodeJPEG(t, photo(50, 50))), testUploadLimits, Tools{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Upload{
		{Kind: "image", Format: "jpeg", Path: "../x.jpg"},
		{Kind: "image", Format: "jpeg", Path: "/etc/passwd"},
		{Kind: "video", Format: "jpeg", Path: u.Path},
		{Kind: "image", Format: "png", Path: u.Path}, // not what the file holds
		{Kind: "image", Format: "jpeg", Path: "originals/missing.jpg"},
	} {
		if _, err := Process(ctx, root, bad, Tools{}); err == nil || jokster.ErrorCode(err) != jokster.EINTERNAL {
			t.Errorf("Process(%+v) = %v, want an internal error", bad, err)
		}
	}
	if _, err := Process(ctx, "", u, Tools{}); err == nil {
		t.Error("empty root accepted")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Process(cancelled, root, u, Tools{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	video := Upload{Kind: "video", Format: "mp4", Path: "originals/x.mp4"}
	_, err = Process(ctx, root, video, Tools{})
	wantCode(t, err, jokster.EUNSUPPORTED)

	// An original damaged in a way Ingest does not look for (its markers
	// are in order, but its Huffman tables are missing) is EINVALID.
	noDHT := removeSegments(encodeJPEG(t, photo(64, 64)), 0xC4)
	u2, err := Ingest(ctx, root, bytes.NewReader(noDHT), testUploadLimits, Tools{})
	if err != nil {
		t.Fatalf("Ingest of a JPEG without Huffman tables: %v", err)
	}
	_, err = Process(ctx, root, u2, Tools{})
	wantCode(t, err, jokster.EINVALID)
}

// removeSegments returns the JPEG j without its segments with marker m.
func removeSegments(j []byte, m byte) []byte {
	out := append([]byte{}, j[:2]...)
	i := 2
	for i+4 <= len(j) && j[i] == 0xFF && j[i+1] != 0xDA {
		n := int(j[i+2])<<8 | int(j[i+3])
		if j[i+1] != m {
			out = append(out, j[i:i+2+n]...)
		}
		i += 2 + n
	}
	return append(out, j[i:]...)
}

func TestVideoStripsLocation(t *testing.T) {
	t.Parallel()
	tools := videoTools(t)
	const loc = "+48.8584+002.2945/"
	mp4 := testVideo(t, tools, "mp4", 1, "-metadata", "location="+loc, "-metadata:s:v", "location="+loc,
		"-metadata", "title=secret-title")
	mp4XYZ := mp4WithXYZ(t, mp4, loc)
	mp4Keys := testVideo(t, tools, "mp4", 1, "-movflags", "+use_metadata_tags", "-metadata", "location="+loc,
		"-metadata", "com.apple.quicktime.location.ISO6709="+loc)
	webm := testVideo(t, tools, "webm", 1, "-metadata", "location="+loc, "-metadata:s:v", "location="+loc,
		"-metadata", "title=secret-title")

	for _, c := range []struct {
		name string
		data []byte
	}{{"mp4 with loci", mp4}, {"mp4 with ©xyz", mp4XYZ}, {"mp4 with mdta keys", mp4Keys}, {"webm", webm}} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(ffprobeTags(t, tools, c.data), "48.8584") {
				t.Fatal("the test video has no location to strip")
			}
			root := t.TempDir()
			_, res := ingestProcess(t, root, c.data, tools)
			out := readRel(t, root, res.Display)
			for _, bad := range []string{"48.8584", "002.2945", "\xa9xyz", "loci", "secret-title", "ISO6709", "Lavf5"} {
				if bytes.Contains(out, []byte(bad)) {
					t.Errorf("display video contains %q", bad)
				}
			}
			if tags := ffprobeTags(t, tools, out); strings.Contains(tags, "location") {
				t.Errorf("ffprobe still reads tags: %s", tags)
			}
			wantSize(t, decodeFile(t, root, res.Poster, "jpeg"), 160, 120, "poster")
		})
	}
}

// ffprobeTags returns what ffprobe reads as the tags of the video data.
func ffprobeTags(t testing.TB, tools Tools, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tools.FFprobe, "-v", "error", "-show_entries", "format_tags:stream_tags",
		"-of", "json", p).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestVideoRefusals(t *testing.T) {
	t.Parallel()
	tools := videoTools(t)
	mp4 := testVideo(t, tools, "mp4", 3)
	mpeg4 := ffmpegFile(t, tools, "m.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-c:v", "mpeg4")
	header := []byte("\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	webmHeader := []byte("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04")
	short := testUploadLimits
	short.MaxVideoSeconds = 2
	small := testUploadLimits
	small.MaxPixels = 100 * 100
	for _, c := range []struct {
		name  string
		data  []byte
		lim   UploadLimits
		code  string
		inMsg string
	}{
		{"MP4 header and garbage", append(append([]byte{}, header...), bytes.Repeat([]byte("garbage!"), 100)...), testUploadLimits, jokster.EINVALID, "MP4 video is damaged"},
		{"truncated MP4", mp4[:len(mp4)/2], testUploadLimits, jokster.EINVALID, "moov atom not found"},
		{"WebM header and garbage", append(append([]byte{}, webmHeader...), bytes.Repeat([]byte{0}, 500)...), testUploadLimits, jokster.EINVALID, "WebM video is damaged"},
		{"too long", mp4, short, jokster.ETOOLARGE, "3 seconds long; at most 2 seconds"},
		{"too many pixels", mp4, small, jokster.ETOOLARGE, "160×120"},
		{"MPEG-4 part 2", mpeg4, testUploadLimits, jokster.EUNSUPPORTED, "mpeg4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := Ingest(testCtx(t), root, bytes.NewReader(c.data), c.lim, tools)
			wantCode(t, err, c.code)
			msg := jokster.ErrorMessage(err)
			if !strings.Contains(msg, c.inMsg) {
				t.Errorf("message %q does not mention %q", msg, c.inMsg)
			}
			if strings.Contains(msg, root) || strings.Contains(msg, tempPrefix) {
				t.Errorf("message %q shows a server path", msg)
			}
			t.Logf("%s: %s", jokster.ErrorCode(err), msg)
			wantEmpty(t, root)
		})
	}
}

func TestVideoToolTimeout(t *testing.T) {
	t.Parallel()
	tools := videoTools(t)
	data := testVideo(t, tools, "mp4", 1)
	root := t.TempDir()
	u, err := Ingest(testCtx(t), root, bytes.NewReader(data), testUploadLimits, tools)
	if err != nil {
		t.Fatal(err)
	}
	// A deadline that has passed stops ffmpeg: an internal error wrapping
	// the context's, not a verdict on the video.
	ctx, cancel := context.WithTimeout(context.Background(), 1)
	defer cancel()
	<-ctx.Done()
	_, err = runTool(ctx, tools.FFmpeg, "-version")
	if !errors.Is(err, context.DeadlineExceeded) || jokster.ErrorCode(err) != jokster.EINTERNAL {
		t.Errorf("runTool after the deadline: %v", err)
	}
	if _, err := Process(ctx, root, u, tools); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Process after the deadline: %v", err)
	}
	for _, e := range entries(t, root) {
		if strings.Contains(e, tempPrefix) {
			t.Errorf("temporary file left: %s", e)
		}
	}
}

func TestVideoRotationAndPoster(t *testing.T) {
	t.Parallel()
	tools := videoTools(t)
	// A 160×120 video to be shown turned by 90°: the poster and Result are
	// 120×160, the display keeps the rotation.
	src := testVideo(t, tools, "mp4", 1)
	rotated := ffmpegFile(t, tools, "r.mp4", "-i", writeTemp(t, src, "s.mp4"), "-c", "copy", "-metadata:s:v", "rotate=90")
	root := t.TempDir()
	u, res := ingestProcess(t, root, rotated, tools)
	if u.Width != 160 || u.Height != 120 {
		t.Errorf("Upload %dx%d, want the coded 160x120", u.Width, u.Height)
	}
	if res.Width != 120 || res.Height != 160 {
		t.Errorf("Result %dx%d, want 120x160", res.Width, res.Height)
	}
	wantSize(t, decodeFile(t, root, res.Poster, "jpeg"), 120, 160, "poster")
	info, err := probe(testCtx(t), tools, filepath.Join(root, res.Display), "mp4")
	if err != nil {
		t.Fatal(err)
	}
	if info.rotation != 90 && info.rotation != -90 {
		t.Errorf("display lost the rotation: %+v", info)
	}
}

func writeTemp(t testing.TB, data []byte, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Image and GIF decodes share a memory budget per process: with the budget
// taken, processing waits (here until its deadline) instead of decoding
// alongside; given back, the same processing runs.
func TestProcessWaitsForTheDecodeBudget(t *testing.T) {
	root := t.TempDir()
	ctx := testCtx(t)
	u, err := Ingest(ctx, root, bytes.NewReader(animatedGIF(t, 60, 40)), testUploadLimits, Tools{})
	if err != nil {
		t.Fatal(err)
	}
	release, err := reserve(ctx, decodeBudget)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = Process(short, root, u, Tools{})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		release()
		t.Fatalf("Process with the budget taken: %v, want it to wait until its deadline", err)
	}
	release()
	if _, err := Process(ctx, root, u, Tools{}); err != nil {
		t.Fatalf("Process with the budget back: %v", err)
	}
}
