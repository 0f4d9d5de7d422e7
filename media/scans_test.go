package media

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/jokster/jokster"
)

// withScans returns a JPEG whose one scan is repeated n times: the
// structure of a progressive file of n scans, as a scan bomb has it.
func withScans(t *testing.T, n int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(3, 3, color.Gray{Y: 7})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	sos := bytes.Index(b, []byte{0xFF, 0xDA})
	eoi := bytes.LastIndex(b, []byte{0xFF, 0xD9})
	if sos < 0 || eoi < sos {
		t.Fatal("no scan in the encoded JPEG")
	}
	out := append([]byte{}, b[:sos]...)
	for range n {
		out = append(out, b[sos:eoi]...)
	}
	return append(out, b[eoi:]...)
}

// A JPEG of more scans than any encoder writes is refused before it is
// decoded, for posts (the upload's structure walk) and profile photos
// alike: each scan costs the decoder a pass over the whole image, so a
// small file of thousands of tiny scans held a worker for hours.
func TestJPEGScanBombRefused(t *testing.T) {
	if err := CheckJPEG(withScans(t, 10)); err != nil {
		t.Fatalf("a JPEG of 10 scans: %v", err)
	}
	bomb := withScans(t, maxJPEGScans+1)
	for name, err := range map[string]error{"upload walk": CheckJPEG(bomb), "profile photo": func() error {
		_, err := ProcessPhoto(bytes.NewReader(bomb), Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}, 64)
		return err
	}()} {
		if jokster.ErrorCode(err) != jokster.EINVALID || !strings.Contains(jokster.ErrorMessage(err), "scans") {
			t.Errorf("%s: %v, want a 400 that names the scans", name, err)
		}
	}
}
