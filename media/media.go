// Package media validates, stores and processes user media.
//
// Posts: Ingest streams an upload into the media root under a
// content-addressed name ("originals/<sha256>.<ext>") after checking it
// from its headers (type by content, bytes, pixels, GIF frames, video
// length); Process then makes the renditions a post shows (display,
// thumbnail, poster; see Result) and a perceptual hash. Videos need ffmpeg
// and ffprobe (Tools). Originals keep the metadata they were uploaded with
// (EXIF, GPS): serve only the renditions.
//
// Profile photos: ProcessPhoto turns an uploaded photo into a small square
// JPEG, and Store and Remove keep files in the same content-addressed tree.
//
// Every decision about an upload is made from its bytes (see Sniff), never
// from the file name or the content type the client sent. Bad input is
// reported as a *jokster.Error (EINVALID, ETOOLARGE, EUNSUPPORTED) with a
// message that can be shown to the user; any other error is internal.
package media

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strconv"
	"strings"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/jokster/jokster"
)

// Limits bounds what a user may upload.
type Limits struct {
	MaxBytes  int64 // size of the upload
	MaxPixels int64 // width*height, checked from the header BEFORE any full decode
}

// JPEGQuality is the quality ProcessPhoto encodes its output with.
const JPEGQuality = 85

// photoKinds are the kinds ProcessPhoto accepts.
var photoKinds = map[string]struct {
	name         string
	decodeConfig func(io.Reader) (image.Config, error)
	decode       func(io.Reader) (image.Image, error)
}{
	"jpeg": {"JPEG", jpeg.DecodeConfig, jpeg.Decode},
	"png":  {"PNG", png.DecodeConfig, png.Decode},
	"gif":  {"GIF", gif.DecodeConfig, gif.Decode}, // Decode returns the first frame
	"webp": {"WebP", webp.DecodeConfig, webp.Decode},
}

// ProcessPhoto reads an uploaded profile photo from r and returns it as a
// size×size JPEG (quality JPEGQuality, no metadata).
//
// It reads at most limits.MaxBytes+1 bytes (more is ETOOLARGE), accepts JPEG,
// PNG, GIF (first frame) and WebP as detected by Sniff (anything else is
// EUNSUPPORTED), and checks width*height against limits.MaxPixels from the
// image header before decoding, so a small file that claims huge dimensions
// is refused (ETOOLARGE) without allocating its pixels. It then decodes the
// image, applies the JPEG EXIF orientation, crops the centre square, resizes
// it with a Catmull-Rom filter and flattens transparency onto white. Corrupt
// or truncated images are EINVALID.
func ProcessPhoto(r io.Reader, limits Limits, size int) ([]byte, error) {
	if limits.MaxBytes <= 0 || limits.MaxPixels <= 0 {
		return nil, fmt.Errorf("media: invalid limits %+v", limits)
	}
	if size <= 0 || size > 1<<14 {
		return nil, fmt.Errorf("media: invalid output size %d", size)
	}

	data, err := io.ReadAll(io.LimitReader(r, limits.MaxBytes+1))
	if err != nil {
		return nil, readError(err, limits.MaxBytes)
	}
	if int64(len(data)) > limits.MaxBytes {
		return nil, tooManyBytes(limits.MaxBytes)
	}
	if len(data) == 0 {
		return nil, &jokster.Error{Code: jokster.EINVALID, Message: "the uploaded file is empty"}
	}

	kind := Sniff(data)
	codec, ok := photoKinds[kind]
	if !ok {
		return nil, &jokster.Error{Code: jokster.EUNSUPPORTED,
			Message: "this file type is not supported; upload a JPEG, PNG, GIF or WebP image"}
	}

	cfg, err := codec.decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, &jokster.Error{Code: jokster.EINVALID,
			Message: fmt.Sprintf("the %s image is damaged: its header could not be read", codec.name)}
	}
	if err := checkPixels(cfg.Width, cfg.Height, limits.MaxPixels); err != nil {
		return nil, err
	}
	if kind == "jpeg" {
		if err := CheckJPEG(data); err != nil {
			return nil, err
		}
	}

	img, err := codec.decode(bytes.NewReader(data))
	if err != nil {
		return nil, &jokster.Error{Code: jokster.EINVALID,
			Message: fmt.Sprintf("the %s image is damaged or incomplete and could not be read", codec.name)}
	}
	b := img.Bounds()
	if err := checkPixels(b.Dx(), b.Dy(), limits.MaxPixels); err != nil {
		return nil, err // a decoder disagreeing with its own header
	}
	if kind == "gif" && b != image.Rect(0, 0, cfg.Width, cfg.Height) {
		// The first frame may cover only part of the logical screen.
		canvas := image.NewRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
		draw.Draw(canvas, b, img, b.Min, draw.Src)
		img = canvas
	}

	orientation := 1
	if kind == "jpeg" {
		orientation = jpegOrientation(data)
	}
	out := squareThumbnail(img, orientation, size)

	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: JPEGQuality}); err != nil {
		return nil, fmt.Errorf("media: encoding JPEG: %w", err)
	}
	return buf.Bytes(), nil
}

// checkPixels refuses empty images and images over maxPixels pixels.
func checkPixels(w, h int, maxPixels int64) error {
	if w <= 0 || h <= 0 {
		return &jokster.Error{Code: jokster.EINVALID, Message: "the image has no pixels"}
	}
	// Comparing each side first keeps the product from overflowing.
	if int64(w) > maxPixels || int64(h) > maxPixels || int64(w)*int64(h) > maxPixels {
		return &jokster.Error{Code: jokster.ETOOLARGE, Message: fmt.Sprintf(
			"the image is %d×%d pixels; at most %s megapixels are allowed", w, h, megapixels(maxPixels))}
	}
	return nil
}

func tooManyBytes(max int64) error {
	return &jokster.Error{Code: jokster.ETOOLARGE,
		Message: fmt.Sprintf("the file is too large; the limit is %s", humanBytes(max))}
}

// squareThumbnail crops the centre square of img as it is meant to be seen
// (after the EXIF orientation o), scales it to size×size onto a white
// background and returns it upright.
//
// Rotating and flipping commute with taking the centre square and with
// scaling, so the crop is computed in the stored orientation and only the
// small result is turned, instead of the full image.
func squareThumbnail(img image.Image, o, size int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h // dimensions as displayed
	if o >= 5 {
		ow, oh = h, w
	}
	side := min(w, h)
	ox, oy := (ow-side)/2, (oh-side)/2
	x0, y0 := orientSource(o, ox, oy, w, h)
	x1, y1 := orientSource(o, ox+side-1, oy+side-1, w, h)
	crop := image.Rect(min(x0, x1), min(y0, y1), max(x0, x1)+1, max(y0, y1)+1).Add(b.Min)

	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := range dst.Pix {
		dst.Pix[i] = 0xff // opaque white
	}
	// Over composites transparent pixels onto the white background; for
	// opaque sources x/image/draw switches to its faster Src paths itself.
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, crop, draw.Over, nil)
	return orient(dst, o)
}

// orientSource maps the displayed pixel (x, y) of an image with EXIF
// orientation o to its pixel in the stored w×h image.
func orientSource(o, x, y, w, h int) (int, int) {
	switch o {
	case 2: // mirrored horizontally
		return w - 1 - x, y
	case 3: // rotated 180°
		return w - 1 - x, h - 1 - y
	case 4: // mirrored vertically
		return x, h - 1 - y
	case 5: // transposed
		return y, x
	case 6: // needs a 90° clockwise turn
		return y, h - 1 - x
	case 7: // transversed
		return w - 1 - y, h - 1 - x
	case 8: // needs a 90° counter-clockwise turn
		return w - 1 - y, x
	}
	return x, y
}

// orient returns the square image m as displayed with EXIF orientation o.
func orient(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	n := m.Bounds().Dx()
	out := image.NewRGBA(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			sx, sy := orientSource(o, x, y, n, n)
			copy(out.Pix[out.PixOffset(x, y):][:4], m.Pix[m.PixOffset(sx, sy):][:4])
		}
	}
	return out
}

func humanBytes(n int64) string {
	const mb = 1 << 20
	if n < mb {
		return fmt.Sprintf("%d KB", (n+1023)/1024)
	}
	return strings.TrimSuffix(strconv.FormatFloat(float64(n)/mb, 'f', 1, 64), ".0") + " MB"
}

func megapixels(n int64) string {
	if n < 100_000 { // 0.01, not 0
		return strconv.FormatFloat(float64(n)/1e6, 'g', 2, 64)
	}
	return strings.TrimSuffix(strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64), ".0")
}
