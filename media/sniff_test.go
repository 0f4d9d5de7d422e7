package media

import "testing"

func TestSniff(t *testing.T) {
	cases := []struct {
		head string
		want string
	}{
		{"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", "jpeg"},
		{"\xFF\xD8\xFF\xE1", "jpeg"},
		{"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"},
		{"GIF87a\x01\x00", "gif"},
		{"GIF89a\x01\x00", "gif"},
		{"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"},
		{"RIFF\x24\x00\x00\x00WAVEfmt ", ""}, // audio in the same container
		{"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", "mp4"},
		{"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "mp4"},
		{"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", ""},     // QuickTime
		{"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heic", ""}, // HEIF photo
		{"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", ""},
		{"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04", "webm"},
		{"\x1A\x45\xDF\xA3\x01\x00\x00\x00\x00\x00\x00\x1F\x42\x82\x10\x00\x00\x04webm", "webm"}, // 4-byte size
		{"\x1A\x45\xDF\xA3\xA3\x42\x82\x88matroska", ""},
		{"\x1A\x45\xDF\xA3\xA3\x42\x82", ""},
		{"\x1A\x45\xDF\xA3\xA3\x42\x82\x00", ""},
		{"<!DOCTYPE html><html>", ""},
		{"<svg xmlns=", ""},
		{"%PDF-1.7", ""},
		{"BM", ""},
		{"\xFF\xD8", ""},
		{"GIF8", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := Sniff([]byte(c.head)); got != c.want {
			t.Errorf("Sniff(%q) = %q, want %q", c.head, got, c.want)
		}
	}

	// Only the first SniffLen bytes are looked at.
	late := make([]byte, 200)
	copy(late, "\x1A\x45\xDF\xA3")
	copy(late[100:], "\x42\x82\x84webm")
	if got := Sniff(late); got != "" {
		t.Errorf("DocType past SniffLen: Sniff = %q, want \"\"", got)
	}
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte("\x1A\x45\xDF\xA3\xA3\x42\x82\x84webm"))
	f.Add([]byte("\x00\x00\x00\x18ftypmp42"))
	f.Fuzz(func(t *testing.T, head []byte) {
		switch k := Sniff(head); k {
		case "", "jpeg", "png", "gif", "webp", "mp4", "webm":
		default:
			t.Fatalf("unknown kind %q", k)
		}
	})
}
