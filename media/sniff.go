package media

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// SniffLen is the number of leading bytes Sniff looks at; passing fewer may
// leave a WebM file undetected.
const SniffLen = 64

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	webmMagic = []byte{0x1A, 0x45, 0xDF, 0xA3} // EBML
)

// mp4Brands are the ISO base media major brands taken as MP4 video.
// QuickTime ("qt  "), HEIF and AVIF share the container but are not MP4.
var mp4Brands = map[string]bool{
	"isom": true, "iso2": true, "iso3": true, "iso4": true, "iso5": true, "iso6": true,
	"mp41": true, "mp42": true, "avc1": true, "dash": true, "M4V ": true, "mmp4": true,
	"MSNV": true,
}

// Sniff returns the kind of media detected from its first bytes: "jpeg",
// "png", "gif", "webp", "mp4" or "webm"; "" if unknown. It never consults
// the file name or the client's content type.
func Sniff(head []byte) string {
	if len(head) > SniffLen {
		head = head[:SniffLen]
	}
	switch {
	case bytes.HasPrefix(head, jpegMagic):
		return "jpeg"
	case bytes.HasPrefix(head, pngMagic):
		return "png"
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return "gif"
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return "webp"
	case isMP4(head):
		return "mp4"
	case isWebM(head):
		return "webm"
	}
	return ""
}

// isMP4 reports whether head starts with an ftyp box of an MP4 brand.
func isMP4(head []byte) bool {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return false
	}
	if n := binary.BigEndian.Uint32(head); n < 12 {
		return false
	}
	return mp4Brands[string(head[8:12])]
}

// isWebM reports whether head is an EBML header whose DocType is "webm"
// (Matroska files share the header with DocType "matroska").
func isWebM(head []byte) bool {
	if !bytes.HasPrefix(head, webmMagic) {
		return false
	}
	i := bytes.Index(head[len(webmMagic):], []byte{0x42, 0x82}) // DocType element
	if i < 0 {
		return false
	}
	p := len(webmMagic) + i + 2
	if p >= len(head) {
		return false
	}
	// The element size is an EBML variable-length integer: the number of
	// leading zero bits of its first byte says how many bytes follow.
	n := bits.LeadingZeros8(head[p]) + 1
	if n > 8 || p+n > len(head) {
		return false
	}
	size := uint64(head[p] & (0xFF >> n))
	for k := 1; k < n; k++ {
		size = size<<8 | uint64(head[p+k])
	}
	p += n
	return size == 4 && p+4 <= len(head) && string(head[p:p+4]) == "webm"
}
