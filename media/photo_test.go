package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/jokster/jokster"
)

var testLimits = Limits{MaxBytes: 10 << 20, MaxPixels: 40_000_000}

const testSize = 64

func process(t testing.TB, data []byte) ([]byte, error) {
	t.Helper()
	return ProcessPhoto(bytes.NewReader(data), testLimits, testSize)
}

// paletted returns m as a paletted image (exact for the colours used here).
func paletted(m *image.RGBA) *image.Paletted {
	p := image.NewPaletted(m.Bounds(), palette.Plan9)
	for y := m.Rect.Min.Y; y < m.Rect.Max.Y; y++ {
		for x := m.Rect.Min.X; x < m.Rect.Max.X; x++ {
			p.Set(x, y, m.At(x, y))
		}
	}
	return p
}

func TestProcessPhotoFormats(t *testing.T) {
	// 60×40 sources: the centre 40×40 square keeps the four quadrants.
	q := quadrants(60, 40, red, green, blue, yellow)
	blueFrame := paletted(quadrants(60, 40, blue, blue, blue, blue))
	cases := []struct {
		name           string
		data           []byte
		tl, tr, bl, br color.RGBA
	}{
		{"jpeg", encodeJPEG(t, q), red, green, blue, yellow},
		{"png", encodePNG(t, q), red, green, blue, yellow},
		{"gif", encodeGIF(t, &gif.GIF{ // only the first frame counts
			Image: []*image.Paletted{paletted(q), blueFrame},
			Delay: []int{10, 10},
		}), red, green, blue, yellow},
		{"webp", webpTwoColours(48, 32, func(x, y int) bool { return x >= 24 }), red, green, red, green},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if k := Sniff(c.data); k != c.name {
				t.Fatalf("Sniff = %q, want %q", k, c.name)
			}
			out, err := process(t, c.data)
			if err != nil {
				t.Fatal(err)
			}
			m := decodeOutput(t, out, testSize)
			wantQuadrants(t, m, c.tl, c.tr, c.bl, c.br, c.name)
		})
	}
}

func TestProcessPhotoSizes(t *testing.T) {
	src := encodeJPEG(t, photo(300, 200))
	for _, size := range []int{1, 17, 128, 512} { // 512 upscales
		out, err := ProcessPhoto(bytes.NewReader(src), testLimits, size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		decodeOutput(t, out, size)
	}
}

func TestProcessPhotoTransparencyOnWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 40; x++ {
			if x < 20 {
				m.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 0}) // transparent red
			} else {
				m.SetNRGBA(x, y, color.NRGBA{0, 0, 255, 255})
			}
		}
	}
	out, err := process(t, encodePNG(t, m))
	if err != nil {
		t.Fatal(err)
	}
	wantQuadrants(t, decodeOutput(t, out, testSize), white, blue, white, blue, "png")
}

func TestProcessPhotoGIFPartialFirstFrame(t *testing.T) {
	// A 40×40 screen whose first frame covers only the left half; the
	// rest of the screen is transparent and so comes out white.
	left := paletted(quadrants(20, 40, red, red, red, red))
	full := paletted(quadrants(40, 40, blue, blue, blue, blue))
	data := encodeGIF(t, &gif.GIF{
		Image:  []*image.Paletted{left, full},
		Delay:  []int{10, 10},
		Config: image.Config{Width: 40, Height: 40},
	})
	out, err := process(t, data)
	if err != nil {
		t.Fatal(err)
	}
	wantQuadrants(t, decodeOutput(t, out, testSize), red, white, red, white, "gif")
}

func TestProcessPhotoEXIFOrientation(t *testing.T) {
	// Stored image: 60×40 (landscape), quadrants R G / B Y. The expected
	// quadrants follow the EXIF definitions of orientations 1-8.
	src := encodeJPEG(t, quadrants(60, 40, red, green, blue, yellow))
	R, G, B, Y := red, green, blue, yellow
	want := map[int][4]color.RGBA{
		1: {R, G, B, Y},
		2: {G, R, Y, B}, // mirrored
		3: {Y, B, G, R}, // 180°
		4: {B, Y, R, G}, // flipped
		5: {R, B, G, Y}, // transposed
		6: {B, R, Y, G}, // turned 90° clockwise: left column becomes top row
		7: {Y, G, B, R}, // transversed
		8: {G, Y, R, B}, // turned 90° counter-clockwise
	}
	for o := 1; o <= 8; o++ {
		t.Run(fmt.Sprint(o), func(t *testing.T) {
			data := withOrientation(src, o)
			if got := jpegOrientation(data); got != o {
				t.Fatalf("jpegOrientation = %d, want %d", got, o)
			}
			out, err := process(t, data)
			if err != nil {
				t.Fatal(err)
			}
			w := want[o]
			wantQuadrants(t, decodeOutput(t, out, testSize), w[0], w[1], w[2], w[3], fmt.Sprint("orientation ", o))
		})
	}
}

func TestProcessPhotoEXIFOrientation6Portrait(t *testing.T) {
	// A phone photo stored sideways: 90×30, three tiles R G B from left to
	// right. Displayed (turned clockwise) it is 30×90 with R on top, G in
	// the middle and B at the bottom; the centre square is the G tile, and
	// within it the stored left-to-right gradient runs top to bottom.
	m := image.NewRGBA(image.Rect(0, 0, 90, 30))
	for y := 0; y < 30; y++ {
		for x := 0; x < 90; x++ {
			c := [3]color.RGBA{red, green, blue}[x/30]
			if x >= 30 && x < 60 && x%30 >= 15 {
				c = yellow // right half of the middle tile
			}
			m.SetRGBA(x, y, c)
		}
	}
	out, err := process(t, withOrientation(encodeJPEG(t, m), 6))
	if err != nil {
		t.Fatal(err)
	}
	// Stored left half (green) → displayed top; right half (yellow) → bottom.
	wantQuadrants(t, decodeOutput(t, out, testSize), green, green, yellow, yellow, "portrait")
}

// patchJPEGSize sets the dimensions in the SOF0 segment of the JPEG j.
func patchJPEGSize(t testing.TB, j []byte, w, h uint16) []byte {
	t.Helper()
	j = append([]byte{}, j...)
	i := bytes.Index(j, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 segment")
	}
	binary.BigEndian.PutUint16(j[i+5:], h)
	binary.BigEndian.PutUint16(j[i+7:], w)
	return j
}

// webpSolid returns a lossless WebP whose pixels are all coded with zero
// bits: a w×h image of any size in a few dozen bytes.
func webpSolid(w, h int) []byte {
	var bw bitWriter
	bw.write(0x2f, 8)
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	bw.write(0, 1+3+1+1+1) // alpha unused, version 0, no transform, no cache, no meta
	bw.simpleCode(0)       // green
	bw.simpleCode(0)       // red
	bw.simpleCode(255)     // blue
	bw.simpleCode(255)     // alpha
	bw.simpleCode(0)       // distance
	return riffWebP("VP8L", bw.bytes())
}

func TestProcessPhotoPixelBombs(t *testing.T) {
	smallGIF := encodeGIF(t, &gif.GIF{Image: []*image.Paletted{paletted(quadrants(8, 8, red, red, red, red))}, Delay: []int{0}})
	hugeGIF := append([]byte{}, smallGIF...)
	binary.LittleEndian.PutUint16(hugeGIF[6:], 65535) // logical screen
	binary.LittleEndian.PutUint16(hugeGIF[8:], 65535)

	cases := []struct {
		name string
		data []byte
	}{
		{"png 100000x100000", pngClaiming(100000, 100000)},
		{"png 1x2^31-1", pngClaiming(1, 1<<31-1)},
		{"png 50000x1000", pngClaiming(50000, 1000)}, // just over 40 Mpx
		{"jpeg 65535x65535", patchJPEGSize(t, encodeJPEG(t, photo(16, 16)), 65535, 65535)},
		{"gif 65535x65535", hugeGIF},
		{"webp 16384x16384", webpSolid(16384, 16384)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.data) > 4096 {
				t.Fatalf("bomb is %d bytes, meant to be tiny", len(c.data))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := process(t, c.data)
			runtime.ReadMemStats(&after)
			wantCode(t, err, jokster.ETOOLARGE)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 10<<20 {
				t.Errorf("refusing it allocated %d bytes", alloc)
			}
		})
	}

	// The small ones are fine and really decode: the bombs differ only in
	// what their headers claim.
	for _, data := range [][]byte{webpSolid(30, 20), smallGIF} {
		out, err := process(t, data)
		if err != nil {
			t.Fatal(err)
		}
		decodeOutput(t, out, testSize)
	}
}

func TestProcessPhotoPixelLimitBoundary(t *testing.T) {
	data := encodePNG(t, photo(100, 50))
	if _, err := ProcessPhoto(bytes.NewReader(data), Limits{MaxBytes: 1 << 20, MaxPixels: 5000}, 16); err != nil {
		t.Fatalf("exactly MaxPixels: %v", err)
	}
	_, err := ProcessPhoto(bytes.NewReader(data), Limits{MaxBytes: 1 << 20, MaxPixels: 4999}, 16)
	wantCode(t, err, jokster.ETOOLARGE)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless yields a JPEG start followed by zeros, forever.
type endless struct{ started bool }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	if !e.started && len(p) >= 3 {
		copy(p, jpegMagic)
		e.started = true
	}
	return len(p), nil
}

func TestProcessPhotoTooManyBytes(t *testing.T) {
	data := encodeJPEG(t, photo(200, 100))
	n := int64(len(data))

	if _, err := ProcessPhoto(bytes.NewReader(data), Limits{MaxBytes: n, MaxPixels: 1 << 20}, 16); err != nil {
		t.Fatalf("exactly MaxBytes: %v", err)
	}
	_, err := ProcessPhoto(bytes.NewReader(data), Limits{MaxBytes: n - 1, MaxPixels: 1 << 20}, 16)
	wantCode(t, err, jokster.ETOOLARGE)

	// An endless upload is cut off after MaxBytes+1 bytes.
	cr := &countingReader{r: &endless{}}
	_, err = ProcessPhoto(cr, Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}, 16)
	wantCode(t, err, jokster.ETOOLARGE)
	if cr.n > 1<<20+1 {
		t.Errorf("read %d bytes, want at most %d", cr.n, 1<<20+1)
	}

	// The HTTP layer's own body limit is reported the same way.
	body := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(data)), 100)
	_, err = ProcessPhoto(body, testLimits, 16)
	wantCode(t, err, jokster.ETOOLARGE)
}

func TestProcessPhotoUnsupported(t *testing.T) {
	// The API never sees a name here: "photo.jpg" holding HTML is just HTML.
	cases := map[string][]byte{
		"text":                   []byte("hello, this is not a picture\n"),
		"html":                   []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"),
		"svg":                    []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`),
		"pdf":                    []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
		"bmp":                    append([]byte("BM"), make([]byte, 60)...),
		"mp4":                    append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), make([]byte, 32)...),
		"zeros":                  make([]byte, 100),
		"jpeg magic at offset 1": append([]byte{0}, encodeJPEG(t, photo(8, 8))...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := process(t, data)
			wantCode(t, err, jokster.EUNSUPPORTED)
		})
	}
}

func TestProcessPhotoCorrupt(t *testing.T) {
	j := encodeJPEG(t, photo(200, 150))
	p := encodePNG(t, photo(60, 40))
	badCRC := append([]byte{}, p...)
	badCRC[len(pngMagic)+8+13] ^= 0xff // IHDR CRC
	cases := map[string][]byte{
		"empty":             {},
		"jpeg magic only":   jpegMagic,
		"jpeg garbage":      append(append([]byte{}, jpegMagic...), bytes.Repeat([]byte("junk"), 100)...),
		"png bad crc":       badCRC,
		"png zero width":    pngClaiming(0, 10),
		"png truncated":     p[:len(p)/2],
		"png header only":   p[:len(pngMagic)+25],
		"gif truncated":     encodeGIF(t, &gif.GIF{Image: []*image.Paletted{paletted(photo(40, 40))}, Delay: []int{0}})[:40],
		"webp truncated":    webpTwoColours(48, 32, func(x, y int) bool { return x > y })[:30],
		"webp only riff":    []byte("RIFF\x04\x00\x00\x00WEBP"),
		"jpeg header only":  j[:bytes.Index(j, []byte{0xFF, 0xDA})],
		"jpeg cut after 1%": j[:len(j)/100],
	}
	for _, frac := range []int{10, 30, 50, 70, 90} {
		cases[fmt.Sprintf("jpeg truncated at %d%%", frac)] = j[:len(j)*frac/100]
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := process(t, data)
			wantCode(t, err, jokster.EINVALID)
		})
	}
}

func TestProcessPhotoBadArguments(t *testing.T) {
	data := encodeJPEG(t, photo(8, 8))
	for _, c := range []struct {
		limits Limits
		size   int
	}{
		{testLimits, 0},
		{testLimits, -1},
		{Limits{MaxPixels: 100}, 16},
		{Limits{MaxBytes: 100}, 16},
	} {
		_, err := ProcessPhoto(bytes.NewReader(data), c.limits, c.size)
		if err == nil || jokster.ErrorCode(err) != jokster.EINTERNAL {
			t.Errorf("ProcessPhoto(%+v, %d) = %v, want an internal error", c.limits, c.size, err)
		}
	}
}

func FuzzProcessPhoto(f *testing.F) {
	q := quadrants(12, 8, red, green, blue, yellow)
	f.Add(encodeJPEG(f, q))
	f.Add(withOrientation(encodeJPEG(f, q), 6))
	f.Add(encodePNG(f, q))
	f.Add(encodeGIF(f, &gif.GIF{Image: []*image.Paletted{paletted(q)}, Delay: []int{0}}))
	f.Add(webpTwoColours(12, 8, func(x, y int) bool { return x < y }))
	f.Add(webpSolid(9, 9))
	f.Add(pngClaiming(3, 3))
	limits := Limits{MaxBytes: 1 << 16, MaxPixels: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := ProcessPhoto(bytes.NewReader(data), limits, 8)
		if err != nil {
			switch code := jokster.ErrorCode(err); code {
			case jokster.EINVALID, jokster.ETOOLARGE, jokster.EUNSUPPORTED:
			default:
				t.Fatalf("error with code %s: %v", code, err)
			}
			return
		}
		decodeOutput(t, out, 8)
	})
}

func BenchmarkProcessPhoto(b *testing.B) {
	src := encodeJPEG(b, photo(2000, 1500))
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"2000x1500", src},
		{"2000x1500-orientation6", withOrientation(src, 6)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ProcessPhoto(bytes.NewReader(bc.data), testLimits, 256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestHumanMessages(t *testing.T) {
	for n, want := range map[int64]string{1000: "1 KB", 10 << 20: "10 MB", 1536 << 10: "1.5 MB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	_, err := ProcessPhoto(strings.NewReader(strings.Repeat("x", 2000)), Limits{MaxBytes: 1000, MaxPixels: 1}, 8)
	if msg := jokster.ErrorMessage(err); !strings.Contains(msg, "1 KB") {
		t.Errorf("message %q does not name the limit", msg)
	}
}
