package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for the upload pipeline tests. Every file is made here, from
// code or with ffmpeg.

var testUploadLimits = DefaultUploadLimits()

// videoTools returns the ffmpeg tools, skipping t when they are missing
// (make test installs them).
func videoTools(t testing.TB) Tools {
	t.Helper()
	tools := FindTools()
	if !tools.CanVideo() {
		t.Skip("ffmpeg/ffprobe not installed (scripts/services.sh tools installs them)")
	}
	return tools
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// ffmpegFile runs ffmpeg with args (output file last, relative to a temp
// folder) and returns the bytes it wrote.
func ffmpegFile(t testing.TB, tools Tools, out string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	full := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	full = append(full, filepath.Join(dir, out))
	cmd := exec.Command(tools.FFmpeg, full...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	data, err := os.ReadFile(filepath.Join(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// testVideo makes a small video: "mp4" is H.264 + AAC, "webm" VP8 + Opus.
func testVideo(t testing.TB, tools Tools, format string, seconds int, extra ...string) []byte {
	t.Helper()
	d := strconv.Itoa(seconds)
	args := []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=" + d,
		"-f", "lavfi", "-i", "sine=frequency=440:duration=" + d}
	switch format {
	case "mp4":
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac")
	case "webm":
		args = append(args, "-c:v", "libvpx", "-b:v", "200k", "-c:a", "libopus")
	}
	args = append(args, extra...)
	return ffmpegFile(t, tools, "v."+format, args...)
}

// entries lists everything under root (files and folders), relative.
func entries(t testing.TB, root string) []string {
	t.Helper()
	var list []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			list = append(list, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sort.Strings(list)
	return list
}

// wantEmpty fails t unless nothing is under root.
func wantEmpty(t testing.TB, root string) {
	t.Helper()
	if e := entries(t, root); len(e) > 0 {
		t.Fatalf("left behind under the media root: %v", e)
	}
}

// heapGrowth runs f and returns how many bytes it allocated.
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// gifManyFrames returns a GIF with a w×h screen and n frames of 1×1 pixel
// at the top left, written by hand: a few bytes per frame, whatever the
// screen size.
func gifManyFrames(w, h uint16, n int) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0x80, 0, 0)             // global colour table of 2 entries
	b = append(b, 0, 0, 0, 255, 255, 255) // black, white
	b = append(b, 0x21, 0xFF, 11)         // NETSCAPE2.0: loop forever
	b = append(b, "NETSCAPE2.0"...)
	b = append(b, 3, 1, 0, 0, 0)
	for i := 0; i < n; i++ {
		b = append(b, 0x21, 0xF9, 4, 0, 10, 0, 0, 0) // graphic control: 0.1 s
		b = append(b, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0)
		// LZW, minimum code size 2: clear (4), index 0, end (5) in 3-bit codes.
		b = append(b, 2, 2, 0x44, 0x01, 0)
	}
	return append(b, 0x3B)
}

// gifWithExtensions inserts a comment and an XMP application extension
// right before the first image of the GIF g.
func gifWithExtensions(t testing.TB, g []byte, comment string) []byte {
	t.Helper()
	// Skip the header, screen descriptor and global colour table.
	i := 13
	if g[10]&0x80 != 0 {
		i += 3 << (g[10]&7 + 1)
	}
	ext := []byte{0x21, 0xFE, byte(len(comment))}
	ext = append(ext, comment...)
	ext = append(ext, 0)
	ext = append(ext, 0x21, 0xFF, 11)
	ext = append(ext, "XMP DataXMP"...)
	xmp := "<x:xmpmeta>" + comment + "</x:xmpmeta>"
	ext = append(ext, byte(len(xmp)))
	ext = append(ext, xmp...)
	ext = append(ext, 0)
	out := append([]byte{}, g[:i]...)
	out = append(out, ext...)
	return append(out, g[i:]...)
}

// jpegWithGPS returns the JPEG j with an EXIF APP1 segment holding the
// orientation o and a GPS IFD (48°51'30"N 2°17'40"E, altitude 35 m), and
// the bytes of that GPS IFD (to look for in outputs).
func jpegWithGPS(j []byte, o uint16) ([]byte, []byte) {
	bo := binary.BigEndian
	var t []byte
	t = append(t, "MM"...)
	t = bo.AppendUint16(t, 42)
	t = bo.AppendUint32(t, 8)
	// IFD0 at 8: Orientation, GPSInfo pointer.
	t = bo.AppendUint16(t, 2)
	t = bo.AppendUint16(t, tagOrientation)
	t = bo.AppendUint16(t, 3)
	t = bo.AppendUint32(t, 1)
	t = bo.AppendUint16(t, o)
	t = append(t, 0, 0)
	gpsOffset := uint32(8 + 2 + 2*12 + 4)
	t = bo.AppendUint16(t, 0x8825) // GPSInfo
	t = bo.AppendUint16(t, 4)
	t = bo.AppendUint32(t, 1)
	t = bo.AppendUint32(t, gpsOffset)
	t = bo.AppendUint32(t, 0) // no IFD1
	// GPS IFD: LatitudeRef, Latitude, LongitudeRef, Longitude, Altitude.
	const entries = 5
	data := gpsOffset + 2 + entries*12 + 4 // where the rationals go
	gps := bo.AppendUint16(nil, entries)
	entry := func(tag, typ uint16, count, value uint32) {
		gps = bo.AppendUint16(gps, tag)
		gps = bo.AppendUint16(gps, typ)
		gps = bo.AppendUint32(gps, count)
		gps = bo.AppendUint32(gps, value)
	}
	entry(1, 2, 2, uint32('N')<<24)
	entry(2, 5, 3, data)
	entry(3, 2, 2, uint32('E')<<24)
	entry(4, 5, 3, data+24)
	entry(6, 5, 1, data+48)
	gps = bo.AppendUint32(gps, 0)
	for _, r := range [][2]uint32{{48, 1}, {51, 1}, {3000, 100}, {2, 1}, {17, 1}, {4000, 100}, {35, 1}} {
		gps = bo.AppendUint32(gps, r[0])
		gps = bo.AppendUint32(gps, r[1])
	}
	t = append(t, gps...)
	payload := append(append([]byte{}, exifHeader...), t...)
	return insertSegments(j, app1(payload)), gps
}

// mp4WithXYZ appends a udta box with a QuickTime ©xyz location to the moov
// box of the MP4 m, which must be its last top-level box (ffmpeg writes it
// last without faststart), so that no chunk offset moves.
func mp4WithXYZ(t testing.TB, m []byte, location string) []byte {
	t.Helper()
	i := 0
	for i+8 <= len(m) {
		n := int(binary.BigEndian.Uint32(m[i:]))
		if n < 8 || i+n > len(m) {
			t.Fatalf("bad MP4 box at %d", i)
		}
		if string(m[i+4:i+8]) == "moov" {
			if i+n != len(m) {
				t.Fatal("moov is not the last box")
			}
			xyz := binary.BigEndian.AppendUint32(nil, uint32(8+4+len(location)))
			xyz = append(xyz, "\xa9xyz"...)
			xyz = binary.BigEndian.AppendUint16(xyz, uint16(len(location)))
			xyz = binary.BigEndian.AppendUint16(xyz, 0x15C7) // language
			xyz = append(xyz, location...)
			udta := binary.BigEndian.AppendUint32(nil, uint32(8+len(xyz)))
			udta = append(udta, "udta"...)
			udta = append(udta, xyz...)
			out := append([]byte{}, m...)
			binary.BigEndian.PutUint32(out[i:], uint32(n+len(udta)))
			return append(out, udta...)
		}
		i += n
	}
	t.Fatal("no moov box")
	return nil
}

// decodeFile decodes the image at root/rel, checking its format.
func decodeFile(t testing.TB, root, rel, format string) image.Image {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	if got := Sniff(data); got != format {
		t.Fatalf("%s is %q, want %q", rel, got, format)
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s does not decode: %v", rel, err)
	}
	return m
}

func wantSize(t testing.TB, m image.Image, w, h int, what string) {
	t.Helper()
	if b := m.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s is %dx%d, want %dx%d", what, b.Dx(), b.Dy(), w, h)
	}
}

// scene returns a w×h picture of soft coloured discs on a gradient, laid
// out from seed: closer to a photograph's broad shapes than photo(), whose
// fine texture no perceptual hash is meant to see.
func scene(w, h int, seed uint64) *image.RGBA {
	next := func() float64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return float64(seed>>11) / (1 << 53)
	}
	type blob struct{ x, y, r, cr, cg, cb float64 }
	var blobs []blob
	for i := 0; i < 14; i++ {
		blobs = append(blobs, blob{next(), next(), 0.05 + 0.2*next(), next(), next(), next()})
	}
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r, g, b := 0.3+0.4*fy, 0.5-0.3*fx, 0.6
			for _, bl := range blobs {
				dx, dy := fx-bl.x, (fy-bl.y)*float64(h)/float64(w)
				if d := dx*dx + dy*dy; d < bl.r*bl.r {
					k := 1 - d/(bl.r*bl.r)
					r, g, b = r*(1-k)+bl.cr*k, g*(1-k)+bl.cg*k, b*(1-k)+bl.cb*k
				}
			}
			i := m.PixOffset(x, y)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(r*255), uint8(g*255), uint8(b*255), 255
		}
	}
	return m
}
