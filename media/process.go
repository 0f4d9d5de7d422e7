package media

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"

	"github.com/corona10/goimagehash"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
	"golang.org/x/sync/semaphore"

	"github.com/jokster/jokster"
)

// Folders of the renditions under the media root. Everything in them is
// content-addressed and free of metadata, so it may be served as is.
const (
	DisplayDir = "display"
	ThumbsDir  = "thumbs"
	PostersDir = "posters"
)

// Rendition sizes.
const (
	DisplaySize = 1280 // the display rendition fits DisplaySize×DisplaySize
	ThumbSize   = 400  // thumbnails are ThumbSize×ThumbSize, centre-cropped
)

// maxProcessPixels is a last guard for Process, which trusts the Upload it
// is given to have passed Ingest's limits.
const maxProcessPixels = 1 << 28

// Result are the renditions of a processed upload (paths relative to the
// media root, forward slashes).
type Result struct {
	// Display is what a post shows. Images: re-encoded (EXIF orientation
	// applied, no metadata) to fit DisplaySize×DisplaySize (never
	// enlarged), JPEG (quality JPEGQuality), or PNG if the image has
	// transparency. GIFs: the animation re-encoded with image/gif (only the
	// looping extension kept), scaled down when the screen is larger than
	// DisplaySize. Videos: the first video and audio streams remuxed
	// without metadata or chapters (MP4 with faststart).
	Display string
	// Thumb is a ThumbSize×ThumbSize centre-cropped JPEG.
	Thumb string
	// Poster is a JPEG of a GIF's first frame (full size) or of a video
	// frame (at 1 s for videos of 2 s or more, else the first); "" for
	// still images.
	Poster string
	// Width and Height are the Display rendition's size as seen (after
	// EXIF orientation, or a video's rotation).
	Width, Height int
	// DurationMS is a video's length.
	DurationMS int
	// PHash is the perceptual hash (goimagehash PerceptionHash) of the
	// picture, the GIF's first frame or the video's poster; compare with
	// HashDistance.
	PHash uint64
}

// HashDistance is the Hamming distance of two perceptual hashes: 0 for the
// same picture, ≤ 8 for probably the same picture (resized, re-encoded), up
// to 64.
func HashDistance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// Process makes the renditions of u, an upload accepted by Ingest into the
// same root. Outputs are content-addressed, so running it again (a retried
// task) returns the same Result and writes nothing new. An original that
// turns out to be damaged beyond what Ingest checks is EINVALID (mark the
// post failed with the message); other errors are internal and worth a
// retry. ctx cancels ffmpeg (each run is bounded by ctx's deadline, or
// ToolTimeout without one); decoding an image is not interruptible.
// Process does not hold a video to a length: ProcessWithin does.
func Process(ctx context.Context, root string, u Upload, tools Tools) (Result, error) {
	return ProcessWithin(ctx, root, u, tools, UploadLimits{})
}

// ProcessWithin is Process that also holds a video to lim.MaxVideoSeconds
// (no limit if not positive). Ingest checks the length a container
// declares, which a forged header can understate; the remux rewrites it
// from the packets, so the length of the display rendition is checked
// again, and a longer one is ETOOLARGE (mark the post failed).
func ProcessWithin(ctx context.Context, root string, u Upload, tools Tools, lim UploadLimits) (Result, error) {
	if root == "" {
		return Result{}, errors.New("media: empty storage root")
	}
	if !isLocal(u.Path) {
		return Result{}, fmt.Errorf("media: process %q: %w", u.Path, ErrUnsafePath)
	}
	f, ok := formats[u.Format]
	if !ok || f.kind != u.Kind {
		return Result{}, fmt.Errorf("media: process: unknown kind %q / format %q", u.Kind, u.Format)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if f.kind == KindVideo && !tools.CanVideo() {
		return Result{}, noFFmpeg()
	}

	rt, err := os.OpenRoot(root)
	if err != nil {
		return Result{}, fmt.Errorf("media: %w", err)
	}
	defer rt.Close()
	file, err := rt.Open(filepath.FromSlash(u.Path))
	if err != nil {
		return Result{}, fmt.Errorf("media: %w", err)
	}
	defer file.Close()
	head := make([]byte, SniffLen)
	n, _ := io.ReadFull(file, head)
	if got := Sniff(head[:n]); got != u.Format {
		return Result{}, fmt.Errorf("media: %s holds %q, not %q", u.Path, got, u.Format)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return Result{}, fmt.Errorf("media: %w", err)
	}

	switch f.kind {
	case KindImage:
		return processImage(ctx, root, file, u.Format)
	case KindGIF:
		return processGIF(ctx, root, file)
	default:
		return processVideo(ctx, root, rt, u, tools, lim.MaxVideoSeconds)
	}
}

// decodeBudget bounds the memory the image and GIF decodes of this
// process hold at once, in bytes. Decoding cannot be made to stream, and a
// GIF within the upload limits (6000×6000, 5 frames: 127 KB) took 1.6 GB
// to process; ten at once (WORKER_CONCURRENCY) would have the process
// killed for its memory, API and all. Decodes wait for their share; one
// larger than the whole budget runs alone.
const decodeBudget = 1 << 30

var decodeSem = semaphore.NewWeighted(decodeBudget)

// reserve waits for n bytes of the decode budget (at most all of it) and
// returns the function that gives them back.
func reserve(ctx context.Context, n int64) (func(), error) {
	n = min(max(n, 1), decodeBudget)
	if err := decodeSem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { decodeSem.Release(n) }, nil
}

// processImage makes the renditions of a still image.
func processImage(ctx context.Context, root string, file *os.File, format string) (Result, error) {
	name := formats[format].name
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch format {
	case "jpeg":
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case "png":
		decodeConfig, decode = png.DecodeConfig, png.Decode
	default:
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	}
	br := bufio.NewReaderSize(file, 64<<10)
	cfg, err := decodeConfig(br)
	if err != nil {
		return Result{}, damaged(name)
	}
	if err := checkPixels(cfg.Width, cfg.Height, maxProcessPixels); err != nil {
		return Result{}, err
	}
	if format == "jpeg" {
		// Uploads are walked when they arrive; this also stops a scan
		// bomb stored before that walk counted scans.
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return Result{}, fmt.Errorf("media: %w", err)
		}
		br.Reset(file)
		if err := structureError(walkJPEG(br), name); err != nil {
			return Result{}, err
		}
	}
	// Decoded (up to 8 bytes a pixel for 16-bit PNGs), oriented and scaled.
	release, err := reserve(ctx, 16*int64(cfg.Width)*int64(cfg.Height))
	if err != nil {
		return Result{}, err
	}
	defer release()
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return Result{}, fmt.Errorf("media: %w", err)
	}
	br.Reset(file)
	img, err := decode(br)
	if err != nil {
		return Result{}, damaged(name)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	orientation := 1
	if format == "jpeg" {
		// The EXIF segment comes before the image data, near the start.
		prefix := make([]byte, 1<<20)
		n, err := file.ReadAt(prefix, 0)
		if err != nil && err != io.EOF {
			return Result{}, fmt.Errorf("media: %w", err)
		}
		orientation = jpegOrientation(prefix[:n])
	}

	transparent := !isOpaque(img)
	display := fitOriented(img, orientation, DisplaySize)
	var res Result
	if transparent {
		res.Display, err = storePNG(root, DisplayDir, display)
	} else {
		res.Display, err = storeJPEG(root, DisplayDir, display)
	}
	if err != nil {
		return Result{}, err
	}
	// The thumbnail comes from the display rendition (already turned, and at
	// least as large as the thumbnail in one side): scaling the original
	// again would cost as much as the display did.
	if res.Thumb, err = storeJPEG(root, ThumbsDir, squareThumbnail(display, 1, ThumbSize)); err != nil {
		return Result{}, err
	}
	hashed := image.Image(display)
	if transparent {
		hashed = onWhite(display)
	}
	if res.PHash, err = perceptionHash(hashed); err != nil {
		return Result{}, err
	}
	res.Width, res.Height = display.Rect.Dx(), display.Rect.Dy()
	return res, nil
}

// processGIF makes the renditions of a GIF.
func processGIF(ctx context.Context, root string, file *os.File) (Result, error) {
	br := bufio.NewReaderSize(file, 64<<10)
	cfg, err := gif.DecodeConfig(br)
	if err != nil {
		return Result{}, damaged("GIF")
	}
	if err := checkPixels(cfg.Width, cfg.Height, maxProcessPixels); err != nil {
		return Result{}, err
	}
	// Every frame decoded (a byte a pixel), then the screen as RGBA several
	// times over (the canvas, the poster, a frame before and after
	// scaling): the frames are counted first, without decoding.
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return Result{}, fmt.Errorf("media: %w", err)
	}
	br.Reset(file)
	hd, err := walkGIF(br, UploadLimits{MaxPixels: math.MaxInt64, MaxGIFFrames: math.MaxInt, MaxGIFPixels: math.MaxInt64})
	if err != nil {
		return Result{}, structureError(err, "GIF")
	}
	screen := int64(cfg.Width) * int64(cfg.Height)
	release, err := reserve(ctx, int64(hd.frames)*screen+16*screen)
	if err != nil {
		return Result{}, err
	}
	defer release()
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return Result{}, fmt.Errorf("media: %w", err)
	}
	br.Reset(file)
	g, err := gif.DecodeAll(br)
	if err != nil {
		return Result{}, damaged("GIF")
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	w, h := g.Config.Width, g.Config.Height

	// The poster: the first frame on the screen, onto white.
	first := image.NewRGBA(image.Rect(0, 0, w, h))
	fillWhite(first)
	drawFrame(first, g.Image[0])

	tw, th := fitSize(w, h, DisplaySize)
	out := g
	if tw != w || th != h {
		out = scaleGIF(g, tw, th)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, out); err != nil {
		return Result{}, fmt.Errorf("media: encoding GIF: %w", err)
	}
	var res Result
	if res.Display, err = Store(root, DisplayDir, buf.Bytes(), "gif"); err != nil {
		return Result{}, err
	}
	if res.Poster, err = storeJPEG(root, PostersDir, first); err != nil {
		return Result{}, err
	}
	if res.Thumb, err = storeJPEG(root, ThumbsDir, squareThumbnail(first, 1, ThumbSize)); err != nil {
		return Result{}, err
	}
	if res.PHash, err = perceptionHash(first); err != nil {
		return Result{}, err
	}
	res.Width, res.Height = tw, th
	return res, nil
}

// scaleGIF returns the animation g scaled to tw×th. Each frame is scaled
// on its own, to its own rectangle scaled, with its own palette, delay and
// disposal: frames that cover part of the screen, local palettes and
// transparency keep working as in the original. Scaled pixels are mapped
// back to the frame's palette (the transparent entry for pixels less than
// half opaque).
func scaleGIF(g *gif.GIF, tw, th int) *gif.GIF {
	w, h := g.Config.Width, g.Config.Height
	out := &gif.GIF{
		LoopCount:       g.LoopCount,
		BackgroundIndex: g.BackgroundIndex,
		Config:          image.Config{ColorModel: g.Config.ColorModel, Width: tw, Height: th},
	}
	mappers := map[string]*paletteMapper{}
	for i, fr := range g.Image {
		r := fr.Rect
		dr := image.Rect(r.Min.X*tw/w, r.Min.Y*th/h, (r.Max.X*tw+w-1)/w, (r.Max.Y*th+h-1)/h)
		if dr.Dx() == 0 {
			dr.Max.X = min(dr.Min.X+1, tw)
			dr.Min.X = dr.Max.X - 1
		}
		if dr.Dy() == 0 {
			dr.Max.Y = min(dr.Min.Y+1, th)
			dr.Min.Y = dr.Max.Y - 1
		}
		src := image.NewRGBA(r)
		drawFrame(src, fr)
		scaled := image.NewRGBA(dr)
		draw.BiLinear.Scale(scaled, dr, src, r, draw.Src, nil)

		key := paletteKey(fr.Palette)
		pm := mappers[key]
		if pm == nil {
			pm = newPaletteMapper(fr.Palette)
			mappers[key] = pm
		}
		of := image.NewPaletted(dr, fr.Palette)
		pm.mapImage(of, scaled)
		out.Image = append(out.Image, of)
		out.Delay = append(out.Delay, valueAt(g.Delay, i))
		out.Disposal = append(out.Disposal, byte(valueAt(g.Disposal, i)))
	}
	return out
}

func valueAt[T int | byte](s []T, i int) int {
	if i < len(s) {
		return int(s[i])
	}
	return 0
}

// drawFrame composites the GIF frame fr onto canvas: its transparent
// pixels leave the canvas as it is. (draw.Draw has no fast path for a
// paletted source drawn Over.)
func drawFrame(canvas *image.RGBA, fr *image.Paletted) {
	var lut [256][4]uint8
	for i, c := range fr.Palette {
		if i >= len(lut) {
			break
		}
		r, g, b, a := c.RGBA() // premultiplied, as canvas
		lut[i] = [4]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
	}
	r := fr.Rect.Intersect(canvas.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		src := fr.Pix[fr.PixOffset(r.Min.X, y):][:r.Dx()]
		dst := canvas.Pix[canvas.PixOffset(r.Min.X, y):][:4*r.Dx()]
		for x, idx := range src {
			c := lut[idx] // indices past the palette are transparent
			d := dst[4*x : 4*x+4]
			switch c[3] {
			case 0:
			case 255:
				copy(d, c[:])
			default:
				k := 255 - uint32(c[3])
				for j := range d {
					d[j] = c[j] + uint8((uint32(d[j])*k+127)/255)
				}
			}
		}
	}
}

// paletteMapper maps colours to the nearest entry of a palette, through a
// lazily filled table of 15-bit colours. Pixels less than half opaque map
// to the palette's transparent entry, if it has one.
type paletteMapper struct {
	pal         [][3]int32
	transparent int
	table       []int16 // -1: not yet computed
}

func newPaletteMapper(p color.Palette) *paletteMapper {
	m := &paletteMapper{transparent: -1, table: make([]int16, 1<<15)}
	for i := range m.table {
		m.table[i] = -1
	}
	for i, c := range p {
		r, g, b, a := c.RGBA()
		if a == 0 && m.transparent < 0 {
			m.transparent = i
		}
		m.pal = append(m.pal, [3]int32{int32(r >> 8), int32(g >> 8), int32(b >> 8)})
	}
	return m
}

func (m *paletteMapper) nearest(r, g, b uint8) uint8 {
	k := int(r>>3)<<10 | int(g>>3)<<5 | int(b>>3)
	if v := m.table[k]; v >= 0 {
		return uint8(v)
	}
	cr, cg, cb := int32(r&^7|4), int32(g&^7|4), int32(b&^7|4)
	best, bestD := 0, int32(1<<31-1)
	for i, c := range m.pal {
		if i == m.transparent {
			continue
		}
		dr, dg, db := c[0]-cr, c[1]-cg, c[2]-cb
		if d := dr*dr + dg*dg + db*db; d < bestD {
			best, bestD = i, d
		}
	}
	m.table[k] = int16(best)
	return uint8(best)
}

func (m *paletteMapper) mapImage(dst *image.Paletted, src *image.RGBA) {
	for y := 0; y < src.Rect.Dy(); y++ {
		row := src.Pix[y*src.Stride:]
		out := dst.Pix[y*dst.Stride:]
		for x := 0; x < src.Rect.Dx(); x++ {
			p := row[4*x : 4*x+4]
			a := p[3]
			switch {
			case a < 128 && m.transparent >= 0:
				out[x] = uint8(m.transparent)
			case a == 255:
				out[x] = m.nearest(p[0], p[1], p[2])
			case a == 0:
				out[x] = m.nearest(255, 255, 255)
			default: // un-premultiply
				out[x] = m.nearest(uint8(int(p[0])*255/int(a)), uint8(int(p[1])*255/int(a)), uint8(int(p[2])*255/int(a)))
			}
		}
	}
}

func paletteKey(p color.Palette) string {
	b := make([]byte, 0, 4*len(p))
	for _, c := range p {
		r, g, bl, a := c.RGBA()
		b = append(b, byte(r>>8), byte(g>>8), byte(bl>>8), byte(a>>8))
	}
	return string(b)
}

// processVideo remuxes a video without metadata and takes a poster frame.
// A remux longer than maxSeconds (if positive) is ETOOLARGE.
func processVideo(ctx context.Context, root string, rt *os.Root, u Upload, tools Tools, maxSeconds float64) (Result, error) {
	src := filepath.Join(root, filepath.FromSlash(u.Path))
	ext := formats[u.Format].ext
	if err := rt.MkdirAll(DisplayDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("media: %w", err)
	}
	tmp := DisplayDir + "/" + tempPrefix + rand.Text() + "." + ext
	defer rt.Remove(filepath.FromSlash(tmp)) // a no-op once renamed

	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file",
		"-f", u.Format, "-i", "file:" + src,
		"-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
		"-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1",
		"-fflags", "+bitexact"}
	if u.Format == "mp4" {
		args = append(args, "-movflags", "+faststart")
	}
	args = append(args, "-f", u.Format, "-y", "file:"+filepath.Join(root, filepath.FromSlash(tmp)))
	if _, err := runTool(ctx, tools.FFmpeg, args...); err != nil {
		return Result{}, toolError(err, src, "the video cannot be processed")
	}
	// The remux copies every packet and writes the length they make, not
	// the one the upload's header declared (which Ingest checked): that is
	// the length served, checked before the rendition is kept.
	info, err := probe(ctx, tools, filepath.Join(root, filepath.FromSlash(tmp)), u.Format)
	if err != nil {
		return Result{}, err
	}
	if s := float64(info.durationMS) / 1000; maxSeconds > 0 && s > maxSeconds {
		claim := ""
		if u.DurationMS > 0 {
			claim = " (its header claims " + seconds(float64(u.DurationMS)/1000) + ")"
		}
		return Result{}, &jokster.Error{Code: jokster.ETOOLARGE, Message: fmt.Sprintf(
			"the video is %s seconds long%s; at most %s seconds are allowed", seconds(s), claim, seconds(maxSeconds))}
	}
	display, err := renameContentAddressed(rt, tmp, DisplayDir, ext)
	if err != nil {
		return Result{}, err
	}
	displayAbs := filepath.Join(root, filepath.FromSlash(display))

	poster, err := videoFrame(ctx, root, rt, tools, displayAbs, u.Format, info.durationMS)
	if err != nil {
		return Result{}, err
	}
	res := Result{Display: display, DurationMS: info.durationMS}
	if res.Poster, err = storeJPEG(root, PostersDir, poster); err != nil {
		return Result{}, err
	}
	if res.Thumb, err = storeJPEG(root, ThumbsDir, squareThumbnail(poster, 1, ThumbSize)); err != nil {
		return Result{}, err
	}
	if res.PHash, err = perceptionHash(poster); err != nil {
		return Result{}, err
	}
	res.Width, res.Height = poster.Rect.Dx(), poster.Rect.Dy()
	return res, nil
}

// videoFrame returns a frame of the video at path (as displayed: ffmpeg
// applies its rotation) onto white: at 1 s for videos of 2 s or more,
// else the first.
func videoFrame(ctx context.Context, root string, rt *os.Root, tools Tools, path, format string, durationMS int) (*image.RGBA, error) {
	if err := rt.MkdirAll(PostersDir, 0o755); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	tmp := filepath.FromSlash(PostersDir + "/" + tempPrefix + rand.Text() + ".png")
	defer rt.Remove(tmp)
	at := 0
	if durationMS >= 2000 {
		at = 1
	}
	for ; at >= 0; at-- {
		rt.Remove(tmp)
		_, err := runTool(ctx, tools.FFmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
			"-protocol_whitelist", "file", "-ss", strconv.Itoa(at), "-f", format, "-i", "file:"+path,
			"-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn", "-map_metadata", "-1",
			"-c:v", "png", "-f", "image2", "-update", "1", "-y", "file:"+filepath.Join(root, tmp))
		if err != nil {
			if at > 0 {
				continue
			}
			return nil, toolError(err, path, "no picture could be taken from the video")
		}
		f, err := rt.Open(tmp)
		if errors.Is(err, fs.ErrNotExist) && at > 0 {
			continue // nothing at that time
		} else if errors.Is(err, fs.ErrNotExist) {
			return nil, &jokster.Error{Code: jokster.EINVALID, Message: "no picture could be taken from the video"}
		} else if err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
		m, err := png.Decode(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("media: reading the poster frame: %w", err)
		}
		rgba := image.NewRGBA(image.Rect(0, 0, m.Bounds().Dx(), m.Bounds().Dy()))
		fillWhite(rgba)
		draw.Draw(rgba, rgba.Rect, m, m.Bounds().Min, draw.Over)
		return rgba, nil
	}
	return nil, &jokster.Error{Code: jokster.EINVALID, Message: "no picture could be taken from the video"}
}

// renameContentAddressed hashes the file tmp (inside rt) and renames it to
// dir/<sha256>.<ext>, or drops it if that file exists already.
func renameContentAddressed(rt *os.Root, tmp, dir, ext string) (string, error) {
	ftmp := filepath.FromSlash(tmp)
	f, err := rt.OpenFile(ftmp, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	rel := dir + "/" + hex.EncodeToString(h.Sum(nil)) + "." + ext
	name := filepath.FromSlash(rel)
	if fi, err := rt.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		rt.Remove(ftmp)
		return rel, nil
	}
	if err := rt.Rename(ftmp, name); err != nil {
		return "", fmt.Errorf("media: storing %s: %w", rel, err)
	}
	syncDir(rt, dir)
	return rel, nil
}

// fitSize returns w×h scaled down to fit box×box, keeping the aspect
// ratio; sizes that fit already are returned as they are.
func fitSize(w, h, box int) (int, int) {
	if w <= box && h <= box {
		return w, h
	}
	if w >= h {
		return box, max(1, int((int64(h)*int64(box)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(box)+int64(h)/2)/int64(h))), box
}

// fitOriented returns img as displayed with EXIF orientation o, scaled down
// to fit box×box. It scales first, in the stored orientation, and turns
// only the small result.
func fitOriented(img image.Image, o, box int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	turned := o >= 5 && o <= 8
	dw, dh := w, h
	if turned {
		dw, dh = h, w
	}
	tw, th := fitSize(dw, dh, box)
	sw, sh := tw, th
	if turned {
		sw, sh = th, tw
	}
	dst := image.NewRGBA(image.Rect(0, 0, sw, sh))
	if sw == w && sh == h {
		draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	} else {
		draw.CatmullRom.Scale(dst, dst.Rect, img, b, draw.Src, nil)
	}
	return orientRGBA(dst, o)
}

// orientRGBA returns m as displayed with EXIF orientation o.
func orientRGBA(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	sw, sh := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := sw, sh
	if o >= 5 {
		dw, dh = sh, sw
	}
	out := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			sx, sy := orientSource(o, x, y, sw, sh)
			copy(out.Pix[out.PixOffset(x, y):][:4], m.Pix[m.PixOffset(sx+m.Rect.Min.X, sy+m.Rect.Min.Y):][:4])
		}
	}
	return out
}

// isOpaque reports whether img has no transparent pixel.
func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xffff {
				return false
			}
		}
	}
	return true
}

func fillWhite(m *image.RGBA) {
	for i := range m.Pix {
		m.Pix[i] = 0xff
	}
}

// onWhite returns m composited onto white.
func onWhite(m *image.RGBA) *image.RGBA {
	out := image.NewRGBA(m.Rect)
	fillWhite(out)
	draw.Draw(out, out.Rect, m, m.Rect.Min, draw.Over)
	return out
}

func perceptionHash(m image.Image) (uint64, error) {
	h, err := goimagehash.PerceptionHash(m)
	if err != nil {
		return 0, fmt.Errorf("media: perceptual hash: %w", err)
	}
	return h.GetHash(), nil
}

func storeJPEG(root, dir string, m image.Image) (string, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: JPEGQuality}); err != nil {
		return "", fmt.Errorf("media: encoding JPEG: %w", err)
	}
	return Store(root, dir, buf.Bytes(), "jpg")
}

func storePNG(root, dir string, m image.Image) (string, error) {
	var buf bytes.Buffer
	enc := png.Encoder{}
	if err := enc.Encode(&buf, m); err != nil {
		return "", fmt.Errorf("media: encoding PNG: %w", err)
	}
	return Store(root, dir, buf.Bytes(), "png")
}
