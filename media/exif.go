package media

import (
	"bytes"
	"encoding/binary"
)

// exifHeader starts the APP1 segment that holds EXIF data in a JPEG.
var exifHeader = []byte("Exif\x00\x00")

const tagOrientation = 0x0112

// jpegOrientation returns the EXIF orientation (1-8) of the JPEG in data, or
// 1 if it has none or it cannot be read. Only the first EXIF APP1 segment
// before the image data is consulted.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return 1
		}
		m := data[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		i += 2
		switch {
		case m == 0x01 || (m >= 0xD0 && m <= 0xD8): // no length
			continue
		case m == 0xD9 || m == 0xDA: // end of image, start of scan
			return 1
		}
		n := int(data[i])<<8 | int(data[i+1]) // includes its own 2 bytes
		if n < 2 || i+n > len(data) {
			return 1
		}
		if seg := data[i+2 : i+n]; m == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			return tiffOrientation(seg[len(exifHeader):])
		}
		i += n
	}
	return 1
}

// tiffOrientation returns the Orientation tag of IFD0 in the TIFF structure
// t, or 1 if it is missing, out of range or t is malformed.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	off := uint64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > uint64(len(t)) {
		return 1
	}
	count := uint64(bo.Uint16(t[off:]))
	for k := uint64(0); k < count; k++ {
		e := off + 2 + 12*k
		if e+12 > uint64(len(t)) {
			return 1
		}
		entry := t[e : e+12]
		if bo.Uint16(entry) != tagOrientation {
			continue
		}
		var v uint32
		switch typ, n := bo.Uint16(entry[2:]), bo.Uint32(entry[4:]); {
		case typ == 3 && n == 1: // SHORT, as the standard says
			v = uint32(bo.Uint16(entry[8:]))
		case typ == 4 && n == 1: // LONG, written by some tools
			v = bo.Uint32(entry[8:])
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return int(v)
	}
	return 1
}
