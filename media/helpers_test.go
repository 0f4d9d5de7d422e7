package media

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/jokster/jokster"
)

// Test images are made here, in the test, from code.

var (
	red    = color.RGBA{255, 0, 0, 255}
	green  = color.RGBA{0, 255, 0, 255}
	blue   = color.RGBA{0, 0, 255, 255}
	yellow = color.RGBA{255, 255, 0, 255}
	white  = color.RGBA{255, 255, 255, 255}
)

// quadrants returns a w×h image whose quadrants are tl, tr, bl and br.
func quadrants(w, h int, tl, tr, bl, br color.RGBA) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := tl
			switch {
			case x >= w/2 && y < h/2:
				c = tr
			case x < w/2 && y >= h/2:
				c = bl
			case x >= w/2 && y >= h/2:
				c = br
			}
			m.SetRGBA(x, y, c)
		}
	}
	return m
}

// photo returns a w×h image with smooth gradients and some texture, closer
// to a photograph than flat colours.
func photo(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := m.PixOffset(x, y)
			m.Pix[i+0] = uint8(x * 255 / w)
			m.Pix[i+1] = uint8(y * 255 / h)
			m.Pix[i+2] = uint8((x*y)>>3 ^ (x + y))
			m.Pix[i+3] = 255
		}
	}
	return m
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(t testing.TB, g *gif.GIF) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exifTIFF returns a TIFF structure whose IFD0 holds an ImageDescription
// (to be skipped) and then the given Orientation entry.
func exifTIFF(bo binary.AppendByteOrder, typ uint16, orientation uint32) []byte {
	var b []byte
	if bo == binary.AppendByteOrder(binary.LittleEndian) {
		b = append(b, "II"...)
	} else {
		b = append(b, "MM"...)
	}
	b = bo.AppendUint16(b, 42)
	b = bo.AppendUint32(b, 8) // IFD0 offset
	b = bo.AppendUint16(b, 2) // entries
	// ImageDescription, ASCII, 4 bytes inline.
	b = bo.AppendUint16(b, 0x010E)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint32(b, 4)
	b = append(b, "abc\x00"...)
	// Orientation.
	b = bo.AppendUint16(b, tagOrientation)
	b = bo.AppendUint16(b, typ)
	b = bo.AppendUint32(b, 1)
	if typ == 4 {
		b = bo.AppendUint32(b, orientation)
	} else {
		b = bo.AppendUint16(b, uint16(orientation))
		b = append(b, 0, 0)
	}
	b = bo.AppendUint32(b, 0) // no next IFD
	return b
}

// app1 returns a JPEG APP1 segment holding payload.
func app1(payload []byte) []byte {
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	return append(seg, payload...)
}

// insertSegments returns the JPEG j with segs placed right after its SOI.
func insertSegments(j []byte, segs ...[]byte) []byte {
	out := append([]byte{}, j[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, j[2:]...)
}

// withOrientation returns the JPEG j with an EXIF APP1 segment that sets
// orientation o.
func withOrientation(j []byte, o int) []byte {
	payload := append(append([]byte{}, exifHeader...), exifTIFF(binary.BigEndian, 3, uint32(o))...)
	return insertSegments(j, app1(payload))
}

// pngChunk returns a PNG chunk with a valid CRC.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// pngClaiming returns a tiny, well-formed-looking RGBA PNG whose IHDR
// claims w×h pixels.
func pngClaiming(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, deflate, no filter, no interlace
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 64))
	zw.Close()
	b := append([]byte{}, pngMagic...)
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", z.Bytes())...)
	return append(b, pngChunk("IEND", nil)...)
}

// bitWriter writes a VP8L bit stream (least significant bit first).
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// simpleCode writes a VP8L "simple" prefix code of one or two symbols; with
// one symbol it costs no bits per pixel, with two (s0 < s1) one bit: 0 for
// s0, 1 for s1.
func (w *bitWriter) simpleCode(symbols ...uint64) {
	w.write(1, 1)
	w.write(uint64(len(symbols)-1), 1)
	w.write(1, 1) // first symbol in 8 bits
	for _, s := range symbols {
		w.write(s, 8)
	}
}

func (w *bitWriter) bytes() []byte {
	if w.n > 0 {
		return append(w.buf, byte(w.acc))
	}
	return w.buf
}

// webpTwoColours returns a lossless WebP of w×h pixels, red where
// isGreen(x, y) is false and green where it is true.
func webpTwoColours(w, h int, isGreen func(x, y int) bool) []byte {
	var bw bitWriter
	bw.write(0x2f, 8) // VP8L signature
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	bw.write(0, 1)        // alpha not used
	bw.write(0, 3)        // version 0
	bw.write(0, 1)        // no transform
	bw.write(0, 1)        // no colour cache
	bw.write(0, 1)        // no meta prefix codes
	bw.simpleCode(0, 255) // green
	bw.simpleCode(0, 255) // red
	bw.simpleCode(0)      // blue
	bw.simpleCode(255)    // alpha
	bw.simpleCode(0)      // distance (unused)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if isGreen(x, y) {
				bw.write(1, 1) // green 255
				bw.write(0, 1) // red 0
			} else {
				bw.write(0, 1) // green 0
				bw.write(1, 1) // red 255
			}
		}
	}
	return riffWebP("VP8L", bw.bytes())
}

func riffWebP(chunk string, payload []byte) []byte {
	body := append([]byte("WEBP"+chunk), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	body = append(body, payload...)
	if len(payload)%2 == 1 {
		body = append(body, 0)
	}
	b := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	return append(b, body...)
}

// wantCode fails t unless err is a *jokster.Error with the given code and a
// message.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var e *jokster.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want a *jokster.Error with code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %s (%q), want %s", e.Code, e.Message, code)
	}
	if e.Message == "" {
		t.Fatalf("error %s has no message", code)
	}
}

// decodeOutput decodes a ProcessPhoto result, checking that it is a
// size×size JPEG with no metadata.
func decodeOutput(t testing.TB, out []byte, size int) image.Image {
	t.Helper()
	if Sniff(out) != "jpeg" {
		t.Fatalf("output is not a JPEG: % x", out[:min(len(out), 16)])
	}
	if bytes.Contains(out, exifHeader) {
		t.Fatal("output still contains EXIF metadata")
	}
	m, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	if b := m.Bounds(); b.Dx() != size || b.Dy() != size {
		t.Fatalf("output is %dx%d, want %dx%d", b.Dx(), b.Dy(), size, size)
	}
	return m
}

// wantColour fails t unless the pixel of m at (x, y) is close to c.
func wantColour(t testing.TB, m image.Image, x, y int, c color.RGBA, what string) {
	t.Helper()
	r, g, b, _ := m.At(x, y).RGBA()
	got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	want := [3]int{int(c.R), int(c.G), int(c.B)}
	for i := range got {
		if d := got[i] - want[i]; d > 40 || d < -40 {
			t.Errorf("%s: pixel (%d,%d) = %v, want about %v", what, x, y, got, want)
			return
		}
	}
}

// wantQuadrants checks the colour at the centre of each quadrant of m.
func wantQuadrants(t testing.TB, m image.Image, tl, tr, bl, br color.RGBA, what string) {
	t.Helper()
	n := m.Bounds().Dx()
	lo, hi := n/4, 3*n/4
	wantColour(t, m, lo, lo, tl, what+" top left")
	wantColour(t, m, hi, lo, tr, what+" top right")
	wantColour(t, m, lo, hi, bl, what+" bottom left")
	wantColour(t, m, hi, hi, br, what+" bottom right")
}
