package media

import (
	"encoding/binary"
	"testing"
)

func TestJPEGOrientation(t *testing.T) {
	base := encodeJPEG(t, quadrants(16, 8, red, green, blue, yellow))
	exif := func(tiff []byte) []byte { return app1(append(append([]byte{}, exifHeader...), tiff...)) }
	xmp := app1([]byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))
	com := []byte{0xFF, 0xFE, 0x00, 0x05, 'h', 'i', '!'}

	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"none", base, 1},
		{"big endian 6", insertSegments(base, exif(exifTIFF(binary.BigEndian, 3, 6))), 6},
		{"little endian 8", insertSegments(base, exif(exifTIFF(binary.LittleEndian, 3, 8))), 8},
		{"long 3", insertSegments(base, exif(exifTIFF(binary.LittleEndian, 4, 3))), 3},
		{"after comment and xmp", insertSegments(base, com, xmp, exif(exifTIFF(binary.BigEndian, 3, 5))), 5},
		{"fill bytes", insertSegments(base, []byte{0xFF, 0xFF}, exif(exifTIFF(binary.BigEndian, 3, 7))), 7},
		{"zero", insertSegments(base, exif(exifTIFF(binary.BigEndian, 3, 0))), 1},
		{"nine", insertSegments(base, exif(exifTIFF(binary.BigEndian, 3, 9))), 1},
		{"wrong type", insertSegments(base, exif(exifTIFF(binary.BigEndian, 2, 6))), 1},
		{"bad byte order", insertSegments(base, exif(append([]byte("XX"), exifTIFF(binary.BigEndian, 3, 6)[2:]...))), 1},
		{"truncated ifd", insertSegments(base, exif(exifTIFF(binary.BigEndian, 3, 6)[:20])), 1},
		{"ifd offset past end", insertSegments(base, exif([]byte("MM\x00\x2a\xff\xff\xff\xf0"))), 1},
		{"first exif wins", insertSegments(base, exif(exifTIFF(binary.BigEndian, 3, 2)), exif(exifTIFF(binary.BigEndian, 3, 6))), 2},
		{"segment longer than file", insertSegments(base[:2], []byte{0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'}), 1},
		{"not a jpeg", []byte("MM\x00\x2a"), 1},
		{"empty", nil, 1},
	}
	for _, c := range cases {
		if got := jpegOrientation(c.data); got != c.want {
			t.Errorf("%s: jpegOrientation = %d, want %d", c.name, got, c.want)
		}
	}

	// Only segments before the image data count.
	trailing := append(append([]byte{}, base...), exif(exifTIFF(binary.BigEndian, 3, 6))...)
	if got := jpegOrientation(trailing); got != 1 {
		t.Errorf("EXIF after the image data: jpegOrientation = %d, want 1", got)
	}
}

func FuzzJPEGOrientation(f *testing.F) {
	base := encodeJPEG(f, quadrants(4, 4, red, green, blue, yellow))
	f.Add(base)
	f.Add(withOrientation(base, 6))
	f.Add(insertSegments(base, app1(append(append([]byte{}, exifHeader...), exifTIFF(binary.LittleEndian, 4, 8)...))))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
