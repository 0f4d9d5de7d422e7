package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"github.com/jokster/jokster"
)

// header is what inspecting an image file found.
type header struct {
	width, height int
	frames        int
}

// inspectImage checks the image file in r (of the given format, as sniffed)
// from its header and structure, without decoding any pixels: its
// dimensions against lim.MaxPixels first, then that the file is whole. For
// GIFs it counts the frames and their cost. r is read from its start.
func inspectImage(r io.ReadSeeker, format string, lim UploadLimits) (header, error) {
	name := formats[format].name
	br := bufio.NewReaderSize(r, 64<<10)
	rewind := func() error {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("media: %w", err)
		}
		br.Reset(r)
		return nil
	}
	if err := rewind(); err != nil {
		return header{}, err
	}

	if format == "gif" {
		h, err := walkGIF(br, lim)
		return h, structureError(err, name)
	}

	var cfg image.Config
	var err error
	switch format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(br)
	case "png":
		cfg, err = png.DecodeConfig(br)
	case "webp":
		cfg, err = webp.DecodeConfig(br)
	default:
		return header{}, fmt.Errorf("media: inspectImage: unexpected format %q", format)
	}
	if err != nil {
		return header{}, headerError(err, name)
	}
	if err := checkPixels(cfg.Width, cfg.Height, lim.MaxPixels); err != nil {
		return header{}, err
	}

	if err := rewind(); err != nil {
		return header{}, err
	}
	switch format {
	case "jpeg":
		err = walkJPEG(br)
	case "png":
		err = walkPNG(br)
	case "webp":
		err = walkWebP(br)
	}
	if err != nil {
		return header{}, structureError(err, name)
	}
	return header{width: cfg.Width, height: cfg.Height, frames: 1}, nil
}

// headerError reports a header a decoder could not read.
func headerError(err error, name string) error {
	if errors.As(err, new(jpeg.UnsupportedError)) || errors.As(err, new(png.UnsupportedError)) {
		return &jokster.Error{Code: jokster.EUNSUPPORTED,
			Message: fmt.Sprintf("this kind of %s image is not supported (%s); save it again as a common %[1]s", name, err)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return incomplete(name)
	}
	return damaged(name)
}

// errDamaged and errIncomplete are what the structure walks report; the
// caller turns them into messages naming the format.
var (
	errDamaged    = errors.New("damaged")
	errIncomplete = errors.New("incomplete")
)

// structureError turns an error of a structure walk into the error to
// report. Errors that are *jokster.Error already pass unchanged; read
// errors other than an early end of file are internal.
func structureError(err error, name string) error {
	var je *jokster.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &je):
		return err
	case errors.Is(err, errIncomplete), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return incomplete(name)
	case errors.Is(err, errDamaged):
		return damaged(name)
	}
	return fmt.Errorf("media: reading upload: %w", err)
}

func incomplete(name string) error {
	return &jokster.Error{Code: jokster.EINVALID,
		Message: fmt.Sprintf("the %s image is incomplete: the file ends before the image does", name)}
}

func damaged(name string) error {
	return &jokster.Error{Code: jokster.EINVALID,
		Message: fmt.Sprintf("the %s image is damaged and cannot be read", name)}
}

func animatedUnsupported(name string) error {
	return &jokster.Error{Code: jokster.EUNSUPPORTED,
		Message: fmt.Sprintf("animated %s images are not supported; upload the animation as a GIF or a video", name)}
}

// walkJPEG follows the markers of a JPEG from SOI to EOI, skipping segment
// bodies and entropy-coded data without decoding them. It wants a frame
// header before the first scan, at least one scan, and an EOI; bytes after
// the EOI are ignored. Stray bytes between segments are skipped, as
// libjpeg and image/jpeg do.
func walkJPEG(br *bufio.Reader) error {
	var b [2]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		return err
	}
	if b[0] != 0xFF || b[1] != 0xD8 {
		return errDamaged
	}
	seenSOF, seenSOS := false, false
	scans := 0
	m, err := jpegMarker(br)
	for {
		if err != nil {
			return err
		}
		switch {
		case m == 0xD9: // EOI
			if !seenSOS {
				return errDamaged
			}
			return nil
		case m == 0xD8: // a second SOI
			return errDamaged
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // no length
			m, err = jpegMarker(br)
			continue
		}
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint16(b[:]))
		if n < 2 {
			return errDamaged
		}
		if _, err := br.Discard(n - 2); err != nil {
			return err
		}
		switch {
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC: // SOFn
			seenSOF = true
		case m == 0xDA: // SOS: entropy-coded data follows
			if !seenSOF {
				return errDamaged
			}
			seenSOS = true
			if scans++; scans > maxJPEGScans {
				return errTooManyScans
			}
			m, err = skipScan(br)
			continue
		}
		m, err = jpegMarker(br)
	}
}

// maxJPEGScans bounds the scans of a JPEG. Go's decoder walks every 8×8
// block of the image again for each scan of a progressive JPEG, and a scan
// can be a few dozen bytes: a 250 KB file of 3,000 scans over 6000×6000
// pixels took 47 s of a worker's CPU to decode (a "scan bomb"), and a whole
// upload's worth would take hours, with nothing able to stop the decoding.
// Encoders write about 10 scans (libjpeg's progressive default) and at
// most a few dozen.
const maxJPEGScans = 100

var errTooManyScans = &jokster.Error{Code: jokster.EINVALID,
	Message: fmt.Sprintf("the JPEG image has more than %d scans, which no camera or editor writes; save it again as a common JPEG", maxJPEGScans)}

// CheckJPEG walks a JPEG's structure (as uploads are inspected) without
// decoding it: damaged and scan-bomb files are refused before a decoder
// spends its time on them.
func CheckJPEG(data []byte) error {
	return structureError(walkJPEG(bufio.NewReader(bytes.NewReader(data))), "JPEG")
}

// jpegMarker reads the next marker: 0xFF, any fill bytes, the marker code.
func jpegMarker(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != 0xFF {
			continue // extraneous data
		}
		for c == 0xFF {
			if c, err = br.ReadByte(); err != nil {
				return 0, err
			}
		}
		if c != 0 { // 0xFF00 is extraneous data too
			return c, nil
		}
	}
}

// skipScan skips entropy-coded data (in which 0xFF is followed by 0x00,
// restart markers count as data) and returns the marker that ends it.
func skipScan(br *bufio.Reader) (byte, error) {
	for {
		_, err := br.ReadSlice(0xFF)
		if err == bufio.ErrBufferFull {
			continue
		} else if err != nil {
			return 0, err
		}
		c, err := br.ReadByte()
		for err == nil && c == 0xFF {
			c, err = br.ReadByte()
		}
		if err != nil {
			return 0, err
		}
		if c == 0 || (c >= 0xD0 && c <= 0xD7) {
			continue
		}
		return c, nil
	}
}

// walkPNG follows the chunks of a PNG from IHDR to IEND, checking each
// chunk's CRC without decompressing anything. An animated PNG (acTL) is
// EUNSUPPORTED: only its first frame would survive processing.
func walkPNG(br *bufio.Reader) error {
	var b [8]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		return err
	}
	if string(b[:]) != string(pngMagic) {
		return errDamaged
	}
	crc := crc32.NewIEEE()
	seenIDAT := false
	for first := true; ; first = false {
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(b[:4])
		typ := string(b[4:8])
		if n > 1<<31-1 || (first && typ != "IHDR") {
			return errDamaged
		}
		crc.Reset()
		crc.Write(b[4:8])
		if _, err := io.CopyN(crc, br, int64(n)); err != nil {
			return err
		}
		if _, err := io.ReadFull(br, b[:4]); err != nil {
			return err
		}
		if binary.BigEndian.Uint32(b[:4]) != crc.Sum32() {
			return errDamaged
		}
		switch typ {
		case "acTL":
			return animatedUnsupported("PNG")
		case "IDAT":
			seenIDAT = true
		case "IEND":
			if !seenIDAT {
				return errDamaged
			}
			return nil
		}
	}
}

// walkWebP follows the chunks of a WebP's RIFF container to its end. It
// wants a VP8 or VP8L bitstream chunk; an animated WebP is EUNSUPPORTED
// (x/image/webp cannot decode one).
func walkWebP(br *bufio.Reader) error {
	var b [12]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		return err
	}
	if string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return errDamaged
	}
	remaining := int64(binary.LittleEndian.Uint32(b[4:8])) - 4
	if remaining < 8 {
		return errDamaged
	}
	seenBitstream := false
	for remaining > 0 {
		if remaining < 8 {
			return errDamaged
		}
		if _, err := io.ReadFull(br, b[:8]); err != nil {
			return err
		}
		id := string(b[:4])
		n := int64(binary.LittleEndian.Uint32(b[4:8]))
		padded := n + n&1
		remaining -= 8
		if padded > remaining {
			return errDamaged
		}
		switch id {
		case "VP8X":
			if n < 1 {
				return errDamaged
			}
			flags, err := br.ReadByte()
			if err != nil {
				return err
			}
			if flags&0x02 != 0 {
				return animatedUnsupported("WebP")
			}
			padded--
			remaining--
		case "ANIM", "ANMF":
			return animatedUnsupported("WebP")
		case "VP8 ", "VP8L":
			seenBitstream = true
		}
		if _, err := br.Discard(int(padded)); err != nil {
			return err
		}
		remaining -= padded
	}
	if !seenBitstream {
		return errDamaged
	}
	return nil
}

// walkGIF reads a GIF's header and walks its blocks to the trailer,
// skipping the LZW-compressed image data unread. It counts the frames and
// refuses, as soon as a limit is passed, a screen over lim.MaxPixels, more
// than lim.MaxGIFFrames frames, or frames × screen pixels over
// lim.MaxGIFPixels (processing composites every frame onto the screen).
// Frames outside the screen or without a colour table are refused as
// image/gif would.
func walkGIF(br *bufio.Reader, lim UploadLimits) (header, error) {
	var b [13]byte
	if _, err := io.ReadFull(br, b[:13]); err != nil {
		return header{}, err
	}
	if string(b[:6]) != "GIF87a" && string(b[:6]) != "GIF89a" {
		return header{}, errDamaged
	}
	w := int(binary.LittleEndian.Uint16(b[6:]))
	h := int(binary.LittleEndian.Uint16(b[8:]))
	if err := checkPixels(w, h, lim.MaxPixels); err != nil {
		return header{}, err
	}
	hasGlobal := b[10]&0x80 != 0
	if hasGlobal {
		if _, err := br.Discard(3 << (b[10]&7 + 1)); err != nil {
			return header{}, err
		}
	}
	screen := int64(w) * int64(h)
	frames := 0
	for {
		c, err := br.ReadByte()
		if err != nil {
			return header{}, err
		}
		switch c {
		case 0x21: // extension: label, then sub-blocks
			label, err := br.ReadByte()
			if err != nil {
				return header{}, err
			}
			switch label {
			case 0x01, 0xF9, 0xFE, 0xFF: // text, graphic control, comment, application
			default:
				return header{}, errDamaged // image/gif refuses other labels
			}
			if err := skipSubBlocks(br); err != nil {
				return header{}, err
			}
		case 0x2C: // image descriptor
			if _, err := io.ReadFull(br, b[:9]); err != nil {
				return header{}, err
			}
			left := int(binary.LittleEndian.Uint16(b[0:]))
			top := int(binary.LittleEndian.Uint16(b[2:]))
			fw := int(binary.LittleEndian.Uint16(b[4:]))
			fh := int(binary.LittleEndian.Uint16(b[6:]))
			if left+fw > w || top+fh > h {
				return header{}, errDamaged
			}
			if b[8]&0x80 != 0 {
				if _, err := br.Discard(3 << (b[8]&7 + 1)); err != nil {
					return header{}, err
				}
			} else if !hasGlobal {
				return header{}, errDamaged
			}
			lzw, err := br.ReadByte()
			if err != nil {
				return header{}, err
			}
			if lzw < 2 || lzw > 8 {
				return header{}, errDamaged
			}
			if err := skipSubBlocks(br); err != nil {
				return header{}, err
			}
			frames++
			if frames > lim.MaxGIFFrames {
				return header{}, &jokster.Error{Code: jokster.ETOOLARGE, Message: fmt.Sprintf(
					"the GIF has more than %d frames; at most %[1]d are allowed", lim.MaxGIFFrames)}
			}
			if int64(frames) > lim.MaxGIFPixels/screen {
				return header{}, &jokster.Error{Code: jokster.ETOOLARGE, Message: fmt.Sprintf(
					"the GIF is too large to process: %d or more frames of %d×%d pixels; "+
						"at most %s megapixels in all frames together are allowed",
					frames, w, h, megapixels(lim.MaxGIFPixels))}
			}
		case 0x3B: // trailer
			if frames == 0 {
				return header{}, &jokster.Error{Code: jokster.EINVALID, Message: "the GIF has no images"}
			}
			return header{width: w, height: h, frames: frames}, nil
		default:
			return header{}, errDamaged
		}
	}
}

// skipSubBlocks skips GIF data sub-blocks up to and including the
// terminating empty one.
func skipSubBlocks(br *bufio.Reader) error {
	for {
		n, err := br.ReadByte()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
	}
}
