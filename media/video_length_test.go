package media

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/jokster/jokster"
)

// mp4ClaimingSeconds returns the MP4 m with the lengths its header declares
// (mvhd, every tkhd and mdhd) set to claim seconds; its packets are left
// as they are.
func mp4ClaimingSeconds(t testing.TB, m []byte, claim float64) []byte {
	t.Helper()
	out := append([]byte{}, m...)
	var movieScale uint32
	patched := 0
	var walk func(start, end int)
	walk = func(start, end int) {
		for i := start; i+8 <= end; {
			n := int(binary.BigEndian.Uint32(out[i:]))
			if n < 8 || i+n > end {
				t.Fatalf("bad MP4 box at %d", i)
			}
			box, v := string(out[i+4:i+8]), out[i+8]
			set := func(off int, scale uint32) {
				d := uint64(claim * float64(scale))
				if v == 1 {
					binary.BigEndian.PutUint64(out[i+off:], d)
				} else {
					binary.BigEndian.PutUint32(out[i+off:], uint32(d))
				}
				patched++
			}
			switch box {
			case "moov", "trak", "mdia":
				walk(i+8, i+n)
			case "mvhd", "mdhd": // version, flags, created, modified, scale, length
				scaleAt := 20
				if v == 1 {
					scaleAt = 28
				}
				scale := binary.BigEndian.Uint32(out[i+scaleAt:])
				if box == "mvhd" {
					movieScale = scale
				}
				set(scaleAt+4, scale)
			case "tkhd": // version, flags, created, modified, track, reserved, length
				if movieScale == 0 {
					t.Fatal("tkhd before mvhd")
				}
				if v == 1 {
					set(36, movieScale)
				} else {
					set(28, movieScale)
				}
			}
			i += n
		}
	}
	walk(0, len(out))
	if patched < 3 {
		t.Fatalf("patched %d lengths; want mvhd, tkhd and mdhd", patched)
	}
	return out
}

// A video whose header understates its length passes Ingest, but the
// remux writes its real length: processing refuses it, and keeps no
// rendition.
func TestVideoLengthCheckedAfterRemux(t *testing.T) {
	t.Parallel()
	tools := videoTools(t)
	real := ffmpegFile(t, tools, "v.mp4", "-f", "lavfi", "-i", "testsrc=duration=3:size=64x64:rate=10",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
	forged := mp4ClaimingSeconds(t, real, 1)
	lim := testUploadLimits
	lim.MaxVideoSeconds = 2
	ctx := testCtx(t)

	root := t.TempDir()
	if _, err := Ingest(ctx, root, bytes.NewReader(real), lim, tools); jokster.ErrorCode(err) != jokster.ETOOLARGE {
		t.Fatalf("Ingest of the honest 3 s video: %v; want ETOOLARGE", err)
	}
	u, err := Ingest(ctx, root, bytes.NewReader(forged), lim, tools)
	if err != nil {
		t.Fatalf("Ingest of the forged video: %v", err)
	}
	if u.DurationMS != 1000 {
		t.Fatalf("the forged header declares %d ms; want 1000", u.DurationMS)
	}
	before := map[string]bool{DisplayDir: true} // the folder may be made
	for _, e := range entries(t, root) {
		before[e] = true
	}
	_, err = ProcessWithin(ctx, root, u, tools, lim)
	wantCode(t, err, jokster.ETOOLARGE)
	if msg := jokster.ErrorMessage(err); !strings.Contains(msg, "3 seconds long (its header claims 1); at most 2 seconds") {
		t.Errorf("message %q", msg)
	}
	var kept []string
	for _, e := range entries(t, root) {
		if !before[e] {
			kept = append(kept, e)
		}
	}
	if len(kept) > 0 {
		t.Errorf("files left by the refused processing: %v", kept)
	}

	// Within a limit it is over, the post shows the length it has.
	lim.MaxVideoSeconds = 5
	res, err := ProcessWithin(ctx, root, u, tools, lim)
	if err != nil {
		t.Fatal(err)
	}
	if res.DurationMS != 3000 {
		t.Errorf("Result.DurationMS = %d; want the real 3000", res.DurationMS)
	}
}
