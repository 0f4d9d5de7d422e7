package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/media"
)

// post sends a multipart post: an optional file and form fields.
func (c *client) newPost(file []byte, filename string, fields ...string) *resp {
	c.e.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = w.WriteField(fields[i], fields[i+1])
	}
	if file != nil {
		fw, _ := w.CreateFormFile("media", filename)
		_, _ = fw.Write(file)
	}
	_ = w.Close()
	req, _ := http.NewRequest("POST", c.e.base+"/api/v1/posts", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.send(req)
}

type postView struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	Kind    string   `json:"kind"`
	Caption string   `json:"caption"`
	Tags    []string `json:"tags"`
	Failure *string  `json:"failure"`
	Author  struct {
		Username string `json:"username"`
	} `json:"author"`
	Media *struct {
		URL       string  `json:"url"`
		ThumbURL  *string `json:"thumb_url"`
		PosterURL *string `json:"poster_url"`
		Width     *int    `json:"width"`
		Height    *int    `json:"height"`
	} `json:"media"`
	DuplicateOf      *string        `json:"duplicate_of"`
	StatsVersion     int64          `json:"stats_version"`
	ReactionsVersion int64          `json:"reactions_version"`
	CommentCount     int            `json:"comment_count"`
	CommentsVersion  int64          `json:"comments_version"`
	Reactions        map[string]int `json:"reactions"`
	MyReactions      []string       `json:"my_reactions"`
	Removed          *struct {
		Reason string `json:"reason"`
	} `json:"removed"`
}

func (r *resp) post() postView {
	r.t.Helper()
	var p postView
	r.json(&p)
	return p
}

// waitReady polls the post until it leaves processing.
func (c *client) waitReady(id string) postView {
	c.e.t.Helper()
	var p postView
	c.e.eventually("post "+id+" is processed", func() bool {
		p = c.get("/api/v1/posts/" + id).want(200).post()
		return p.Status != "processing"
	})
	return p
}

func jpegOf(w, h int, seed uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// A coarse pattern of blocks decided by seed: a picture with
			// structure, as perceptual hashing expects.
			bx, by := x*6/w, y*6/h
			v := uint8((bx*7+by*13+int(seed)*29)%5) * 60
			img.Set(x, y, color.RGBA{v, 255 - v, uint8(bx * 40), 255})
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}

// withGPS inserts an EXIF APP1 segment carrying GPS coordinates (and a
// marker string) right after the JPEG's SOI.
func withGPS(j []byte) []byte {
	le := binary.LittleEndian
	var t bytes.Buffer
	t.WriteString("II*\x00")
	_ = binary.Write(&t, le, uint32(8))
	// IFD0: one entry, the GPS IFD pointer (0x8825), at offset 26.
	_ = binary.Write(&t, le, uint16(1))
	_ = binary.Write(&t, le, [4]uint32{0})
	b := t.Bytes()
	le.PutUint16(b[10:], 0x8825)
	le.PutUint16(b[12:], 4) // LONG
	le.PutUint32(b[14:], 1)
	le.PutUint32(b[18:], 26)
	t.Truncate(22)
	_ = binary.Write(&t, le, uint32(0)) // next IFD
	// GPS IFD: LatitudeRef "N", Latitude 3 RATIONALs, and a ProcessingMethod marker.
	entries := 3
	_ = binary.Write(&t, le, uint16(entries))
	dataOff := uint32(26 + 2 + entries*12 + 4)
	entry := func(tag, typ uint16, count, value uint32) {
		_ = binary.Write(&t, le, tag)
		_ = binary.Write(&t, le, typ)
		_ = binary.Write(&t, le, count)
		_ = binary.Write(&t, le, value)
	}
	entry(1, 2, 2, uint32('N'))         // GPSLatitudeRef
	entry(2, 5, 3, dataOff)             // GPSLatitude → 24 bytes
	entry(27, 7, 16, dataOff+24)        // GPSProcessingMethod → marker
	_ = binary.Write(&t, le, uint32(0)) // next IFD
	for _, v := range []uint32{48, 1, 51, 1, 2944, 100} {
		_ = binary.Write(&t, le, v)
	}
	t.WriteString("SECRET-GPS-HOME!")
	app1 := append([]byte("Exif\x00\x00"), t.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(app1)+2))
	out := append([]byte{}, j[:2]...)
	out = append(out, seg...)
	out = append(out, app1...)
	return append(out, j[2:]...)
}

// mediaFiles lists the files under MEDIA_ROOT (temp folders included).
func (e *env) mediaFiles() []string {
	var files []string
	_ = filepath.WalkDir(e.cfg.MediaRoot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(e.cfg.MediaRoot, p)
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

func TestTextPost_201(t *testing.T) {
	e := newEnv(t)
	c := e.signup("tess")
	p := c.newPost(nil, "", "caption", "Why did the chicken cross the road?", "tags", "#Jokes, Classic", "tags", "jokes").want(201).post()
	if p.Status != "ready" || p.Kind != "text" || p.Media != nil || strings.Join(p.Tags, ",") != "classic,jokes" {
		t.Fatalf("%+v", p)
	}
	e.client().get("/api/v1/posts/" + p.ID).want(200)
	// A multi-line caption as a browser's form data sends it (CRLF) is
	// stored with plain newlines.
	two := c.newPost(nil, "", "caption", "Knock knock.\r\nWho's there?").want(201).post()
	if two.Caption != "Knock knock.\nWho's there?" {
		t.Fatalf("caption stored as %q", two.Caption)
	}
	var list struct {
		Items []postView `json:"items"`
	}
	e.client().get("/api/v1/posts?tag=%23JOKES").want(200).json(&list)
	if len(list.Items) != 1 || list.Items[0].ID != p.ID {
		t.Fatalf("%+v", list)
	}
	c.newPost(nil, "").want(400)
	c.newPost(nil, "", "caption", strings.Repeat("x", 501)).want(400)
	c.newPost(nil, "", "caption", "ok", "tags", "no spaces allowed").want(400)
	// Letters with their marks are letters: a Hindi word, a Turkish city.
	hi := c.newPost(nil, "", "caption", "मज़ेदार", "tags", "हिंदी, İstanbul").want(201).post()
	if strings.Join(hi.Tags, ",") != "istanbul,हिंदी" {
		t.Fatalf("tags %q", hi.Tags)
	}
	// As the web app asks for it: the whole name percent-encoded.
	var board struct {
		Items []struct {
			Post struct{ ID string } `json:"post"`
		} `json:"items"`
	}
	e.waitRanked()
	e.client().get("/api/v1/leaderboards/" + url.PathEscape("tag:हिंदी")).want(200).json(&board)
	if len(board.Items) != 1 || board.Items[0].Post.ID != hi.ID {
		t.Fatalf("tag board %+v", board)
	}
	e.client().get("/api/v1/leaderboards/" + strings.ReplaceAll(url.PathEscape("tag:हिंदी"), ":", "%3A")).want(200)
	c.newPost(nil, "", "caption", "ok", "colour", "red").want(400)
	e.client().newPost(nil, "", "caption", "anonymous").want(401)
	c.do("POST", "/api/v1/posts", map[string]string{"caption": "json"}).want(415)
	if n := e.count(`SELECT count(*) FROM posts`); n != 3 { // the three above, nothing from the bad requests
		t.Fatalf("%d posts", n)
	}
	e.client().get("/api/v1/posts/999999").want(404)
	e.client().get("/api/v1/posts/abc").want(404)
	e.client().get("/api/v1/posts?sort=sideways").want(400)
	e.client().get("/api/v1/posts?author=nobody").want(404)
	for _, bad := range []string{"%00", "%ff", "a%00b"} { // no username is like these
		if code := e.client().get("/api/v1/posts?author=" + bad).errCode(); code != "invalid" && code != "not_found" {
			t.Fatalf("author=%s: %s", bad, code)
		}
	}
}

func TestImagePost_ProcessedAndStripped(t *testing.T) {
	e := newEnv(t)
	e.startWorker()
	c := e.signup("uri")
	src := withGPS(jpegOf(1600, 1200, 7))
	if !bytes.Contains(src, []byte("SECRET-GPS-HOME!")) {
		t.Fatal("test image lacks its GPS marker")
	}
	p := c.newPost(src, "holiday.png", "caption", "Guess where I was").want(201).post()
	if p.Status != "processing" || p.Kind != "image" {
		t.Fatalf("%+v", p)
	}
	// Not visible to others until it is ready.
	if e.client().get("/api/v1/posts/"+p.ID).Status == 200 && e.count(`SELECT count(*) FROM posts WHERE status = 'processing'`) == 1 {
		t.Fatal("a processing post is visible to others")
	}
	p = c.waitReady(p.ID)
	if p.Status != "ready" || p.Media == nil || p.Media.ThumbURL == nil || *p.Media.Width != 1280 || *p.Media.Height != 960 {
		t.Fatalf("%+v", p)
	}
	for _, u := range []string{p.Media.URL, *p.Media.ThumbURL} {
		r := e.client().get(u).want(200)
		if v := r.Header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" || !strings.HasPrefix(r.Header.Get("Content-Type"), "image/") {
			t.Fatalf("%s: %v", u, r.Header)
		}
		if bytes.Contains(r.Body, []byte("SECRET-GPS-HOME!")) || bytes.Contains(r.Body, []byte("Exif")) {
			t.Fatalf("%s still carries EXIF/GPS", u)
		}
		if _, _, err := image.Decode(bytes.NewReader(r.Body)); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	// The original upload keeps its metadata on disk but is never served,
	// whatever its name.
	for _, f := range e.mediaFiles() {
		data, _ := os.ReadFile(filepath.Join(e.cfg.MediaRoot, f))
		if !bytes.Contains(data, []byte("SECRET-GPS-HOME!")) {
			continue
		}
		if r := e.client().get("/media/" + filepath.ToSlash(f)); r.Status != 404 {
			t.Fatalf("/media/%s (with GPS) answered %d", f, r.Status)
		}
	}

	// The same picture again, smaller, by someone else: flagged as a repost.
	d := e.signup("vic")
	dup := d.newPost(jpegOf(800, 600, 7), "mine.jpg").want(201).post()
	dup = d.waitReady(dup.ID)
	if dup.DuplicateOf == nil || *dup.DuplicateOf != p.ID {
		t.Fatalf("repost not flagged: %+v", dup)
	}
	if e.count(`SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id WHERE u.username = 'vic' AND n.kind = 'duplicate'`) != 1 {
		t.Fatal("the reposter was not told")
	}
	if e.count(`SELECT count(*) FROM reports WHERE reason = 'duplicate' AND reporter_id IS NULL`) != 1 {
		t.Fatal("moderators were not told")
	}
	other := d.newPost(jpegOf(800, 600, 200), "other.jpg").want(201).post()
	if other = d.waitReady(other.ID); other.DuplicateOf != nil {
		t.Fatal("a different picture was flagged")
	}
}

func TestGIFPost_AnimatedWithPoster(t *testing.T) {
	e := newEnv(t)
	e.startWorker()
	c := e.signup("wes")
	anim := &gif.GIF{}
	pal := color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}}
	for i := 0; i < 6; i++ {
		img := image.NewPaletted(image.Rect(0, 0, 64, 48), pal)
		for x := 0; x < 64; x++ {
			img.SetColorIndex(x, i*8, 2)
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	_ = gif.EncodeAll(&buf, anim)
	p := c.waitReady(c.newPost(buf.Bytes(), "x.bin", "caption", "loop").want(201).post().ID)
	if p.Kind != "gif" || p.Media == nil || p.Media.PosterURL == nil {
		t.Fatalf("%+v", p)
	}
	r := e.client().get(p.Media.URL).want(200)
	g, err := gif.DecodeAll(bytes.NewReader(r.Body))
	if err != nil || len(g.Image) != 6 {
		t.Fatalf("animation not kept: %v", err)
	}
	e.client().get(*p.Media.PosterURL).want(200)
}

func TestBadUploads_4xx_NothingStored(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.UploadMaxBytes = 2 << 20 })
	c := e.signup("xena")
	elf, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	full := jpegOf(300, 200, 1)
	manyFrames := func() []byte {
		anim := &gif.GIF{}
		pal := color.Palette{color.Black, color.White}
		for i := 0; i < 3000; i++ {
			anim.Image = append(anim.Image, image.NewPaletted(image.Rect(0, 0, 2, 2), pal))
			anim.Delay = append(anim.Delay, 1)
		}
		var buf bytes.Buffer
		_ = gif.EncodeAll(&buf, anim)
		return buf.Bytes()
	}()
	cases := []struct {
		name   string
		data   []byte
		status int
	}{
		{"renamed executable", elf[:min(len(elf), 1<<20)], 415},
		{"html named jpg", []byte("<!doctype html><script>alert(1)</script>"), 415},
		{"truncated jpeg", full[:len(full)/2], 400},
		{"100k x 100k png", pngBomb(100_000, 100_000), 413},
		{"thousands of gif frames", manyFrames, 413},
		{"oversized body", append(jpegOf(10, 10, 1), make([]byte, 3<<20)...), 413},
		{"empty file", []byte{}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := c.newPost(tc.data, "funny.jpg", "caption", "look")
			runtime.ReadMemStats(&after)
			if tc.name == "empty file" {
				// An empty file part is a post without a file: fine with a caption.
				r.want(201)
				return
			}
			r.want(tc.status)
			r.errCode()
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 300<<20 {
				t.Fatalf("allocated %d MB handling it: it was decoded", grew>>20)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM posts WHERE kind <> 'text'`); n != 0 {
		t.Fatalf("%d media posts stored", n)
	}
	e.eventually("refused uploads leave no files", func() bool {
		for _, f := range e.mediaFiles() {
			if !strings.HasPrefix(f, "avatars/") {
				return false
			}
		}
		return true
	})
}

func TestPagination_NoDuplicatesNoGaps(t *testing.T) {
	e := newEnv(t)
	c := e.signup("yara")
	var want []string
	for i := 0; i < 7; i++ {
		want = append(want, c.newPost(nil, "", "caption", "joke "+string(rune('a'+i))).want(201).post().ID)
	}
	var seen []string
	var list struct {
		Items      []postView `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}
	path := "/api/v1/posts?limit=3"
	for i := 0; ; i++ {
		e.client().get(path).want(200).json(&list)
		for _, p := range list.Items {
			seen = append(seen, p.ID)
		}
		// New posts arrive between page fetches.
		c.newPost(nil, "", "caption", "late arrival").want(201)
		if list.NextCursor == nil {
			break
		}
		path = "/api/v1/posts?limit=3&cursor=" + *list.NextCursor
	}
	sort.Strings(want)
	sort.Strings(seen)
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("saw %v, want exactly %v", seen, want)
	}
}

func TestEditDeleteAndFeed_200_204_403(t *testing.T) {
	e := newEnv(t)
	e.startWorker()
	admin := e.signup("zoe")
	if _, err := e.db.Exec(context.Background(), `UPDATE users SET is_admin = true WHERE username = 'zoe'`); err != nil {
		t.Fatal(err)
	}
	a, b := e.signup("abe"), e.signup("boz")
	p := a.waitReady(a.newPost(jpegOf(200, 200, 9), "p.jpg", "caption", "first").want(201).post().ID)
	q := a.newPost(nil, "", "caption", "second").want(201).post()
	b.newPost(nil, "", "caption", "by bo").want(201)

	r := a.do("PATCH", "/api/v1/posts/"+q.ID, map[string]any{"caption": "second, edited", "tags": []string{"#Edits"}}).want(200).post()
	if r.Caption != "second, edited" || strings.Join(r.Tags, ",") != "edits" {
		t.Fatalf("%+v", r)
	}
	b.do("PATCH", "/api/v1/posts/"+q.ID, map[string]any{"caption": "hijack"}).want(403)
	a.do("PATCH", "/api/v1/posts/"+q.ID, map[string]any{"caption": ""}).want(400)
	a.do("PATCH", "/api/v1/posts/"+q.ID, map[string]any{"tags": []string{}}).want(200)

	// Feed: bo follows abe.
	b.post("/api/v1/profiles/abe/follow", nil).want(200)
	var feed struct {
		Items []postView `json:"items"`
	}
	b.get("/api/v1/feed").want(200).json(&feed)
	if len(feed.Items) != 2 || feed.Items[0].ID != q.ID || feed.Items[1].ID != p.ID {
		t.Fatalf("feed %+v", feed.Items)
	}
	e.client().get("/api/v1/feed").want(401)

	b.do("DELETE", "/api/v1/posts/"+p.ID, nil).want(403)
	files := e.mediaFiles()
	if len(files) < 3 {
		t.Fatalf("files %v", files)
	}
	a.do("DELETE", "/api/v1/posts/"+p.ID, nil).want(204)
	a.get("/api/v1/posts/" + p.ID).want(404)
	e.eventually("the deleted post's files are collected", func() bool { return len(e.mediaFiles()) == 0 })
	admin.do("DELETE", "/api/v1/posts/"+q.ID, nil).want(204)
	a.do("DELETE", "/api/v1/posts/"+q.ID, nil).want(404)
}

func TestCommentsAndReactions_201_200(t *testing.T) {
	e := newEnv(t)
	a, b := e.signup("cleo"), e.signup("dan")
	p := a.newPost(nil, "", "caption", "knock knock").want(201).post()
	path := "/api/v1/posts/" + p.ID
	c1 := b.post(path+"/comments", map[string]string{"body": "who's there?"}).want(201).m()
	a.post(path+"/comments", map[string]string{"body": "interrupting cow"}).want(201)
	b.post(path+"/comments", map[string]string{"body": "   "}).want(400)
	b.post(path+"/comments", map[string]string{"body": strings.Repeat("m", 1001)}).want(400)
	b.post("/api/v1/posts/424242/comments", map[string]string{"body": "hi"}).want(404)
	var list struct {
		Items []struct {
			Body   string `json:"body"`
			Author struct {
				Username string `json:"username"`
			} `json:"author"`
		} `json:"items"`
	}
	e.client().get(path + "/comments").want(200).json(&list)
	if len(list.Items) != 2 || list.Items[0].Body != "who's there?" || list.Items[0].Author.Username != "dan" {
		t.Fatalf("%+v", list)
	}
	if got := e.client().get(path).want(200).post().CommentCount; got != 2 {
		t.Fatalf("comment_count %d", got)
	}
	a.do("DELETE", path+"/comments/"+c1["id"].(string), nil).want(403)
	b.do("DELETE", path+"/comments/"+c1["id"].(string), nil).want(204)

	r := b.do("PUT", path+"/reactions/laugh", nil).want(200).post()
	b.do("PUT", path+"/reactions/laugh", nil).want(200)
	r = b.do("PUT", path+"/reactions/fire", nil).want(200).post()
	if r.Reactions["laugh"] != 1 || r.Reactions["fire"] != 1 || strings.Join(r.MyReactions, ",") != "fire,laugh" {
		t.Fatalf("%+v", r)
	}
	b.do("PUT", path+"/reactions/poop", nil).want(400)
	r = b.do("DELETE", path+"/reactions/fire", nil).want(200).post()
	if _, ok := r.Reactions["fire"]; ok || r.Reactions["laugh"] != 1 {
		t.Fatalf("%+v", r.Reactions)
	}
	// cleo heard about dan's comment and dan's first reaction, once.
	if n := e.count(`SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id WHERE u.username = 'cleo' AND kind IN ('commented', 'reacted')`); n != 2 {
		t.Fatalf("%d notifications", n)
	}
}

func TestModeration_202_403(t *testing.T) {
	e := newEnv(t)
	e.startWorker()
	mod := e.signup("mod")
	if _, err := e.db.Exec(context.Background(), `UPDATE users SET is_admin = true WHERE username = 'mod'`); err != nil {
		t.Fatal(err)
	}
	a, b := e.signup("eli"), e.signup("fay")
	p := a.waitReady(a.newPost(jpegOf(100, 100, 3), "p.jpg", "caption", "edgy").want(201).post().ID)
	path := "/api/v1/posts/" + p.ID
	b.post(path+"/report", map[string]string{"reason": "offensive", "note": "not funny"}).want(202)
	b.post(path+"/report", map[string]string{"reason": "spam"}).want(202) // updates, not twice
	b.post(path+"/report", map[string]string{"reason": "boring"}).want(400)
	b.get("/api/v1/admin/reports").want(403)
	var reports struct {
		Items []struct {
			ID     string `json:"id"`
			Reason string `json:"reason"`
		} `json:"items"`
	}
	mod.get("/api/v1/admin/reports").want(200).json(&reports)
	if len(reports.Items) != 1 || reports.Items[0].Reason != "spam" {
		t.Fatalf("%+v", reports)
	}
	b.post("/api/v1/admin/posts/"+p.ID+"/remove", map[string]string{"reason": "rule 3"}).want(403)
	r := mod.post("/api/v1/admin/posts/"+p.ID+"/remove", map[string]string{"reason": "rule 3"}).want(200).post()
	if r.Status != "removed" || r.Media != nil || r.Removed == nil || r.Removed.Reason != "rule 3" {
		t.Fatalf("%+v", r)
	}
	// Its words go with it, except for its author and the moderators.
	for who, c := range map[string]*client{"another user": b, "a visitor": e.client()} {
		if got := c.get(path).want(200).post(); got.Status != "removed" || got.Caption != "" || len(got.Tags) != 0 || got.Removed == nil {
			t.Fatalf("%s sees the removed post as %+v; want no caption", who, got)
		}
	}
	if a.get(path).want(200).post().Caption != "edgy" || mod.get(path).want(200).post().Caption != "edgy" {
		t.Fatal("the author or the moderator lost the removed post's caption")
	}
	e.eventually("a removed post's files are deleted", func() bool { return len(e.mediaFiles()) == 0 })
	mod.get("/api/v1/admin/reports").want(200).json(&reports)
	if len(reports.Items) != 0 {
		t.Fatal("removing did not resolve the report")
	}
	a.post(path+"/comments", map[string]string{"body": "why?"}).want(409)

	own := b.newPost(nil, "", "caption", "before the ban").want(201).post()
	mod.do("PUT", "/api/v1/admin/users/fay/ban", map[string]any{"hours": 24, "reason": "spam"}).want(200)
	if r := b.newPost(nil, "", "caption", "let me out").want(403); !strings.Contains(string(r.Body), "banned") {
		t.Fatal(string(r.Body))
	}
	// Nor can a banned user rewrite what they posted before.
	b.do("PATCH", "/api/v1/posts/"+own.ID, map[string]string{"caption": "spam spam spam"}).want(403)
	if got := b.get("/api/v1/posts/" + own.ID).want(200).post(); got.Caption != "before the ban" {
		t.Fatalf("caption now %q", got.Caption)
	}
	q := a.newPost(nil, "", "caption", "still here").want(201).post()
	b.post("/api/v1/posts/"+q.ID+"/comments", map[string]string{"body": "hi"}).want(403)
	mod.do("PUT", "/api/v1/admin/users/nobody/ban", map[string]any{"hours": 1}).want(404)
	mod.do("PUT", "/api/v1/admin/users/fay/ban", map[string]any{"hours": 0}).want(400)
	mod.do("DELETE", "/api/v1/admin/users/fay/ban", nil).want(204)
	b.newPost(nil, "", "caption", "free").want(201)
}

func TestVideoPost_LocationStripped(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed (make test installs it)")
	}
	e := newEnv(t)
	e.startWorker()
	c := e.signup("gil")
	src := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=10",
		"-pix_fmt", "yuv420p", "-movflags", "use_metadata_tags", "-metadata", "location=+48.8584+002.2945/", "-metadata", "title=SECRET-TITLE", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	data, _ := os.ReadFile(src)
	if !bytes.Contains(data, []byte("+48.8584")) {
		t.Fatal("the test video lacks its location")
	}
	p := c.waitReady(c.newPost(data, "clip.gif", "caption", "cat video").want(201).post().ID)
	if p.Status != "ready" || p.Kind != "video" || p.Media == nil || p.Media.PosterURL == nil {
		t.Fatalf("%+v", p)
	}
	r := e.client().get(p.Media.URL).want(200)
	if bytes.Contains(r.Body, []byte("+48.8584")) || bytes.Contains(r.Body, []byte("SECRET-TITLE")) || bytes.Contains(r.Body, []byte("\xa9xyz")) {
		t.Fatal("the served video still carries its metadata")
	}
	if r.Header.Get("Content-Type") != "video/mp4" {
		t.Fatal(r.Header)
	}
}

// A video whose header understates its length (mvhd, tkhd and mdhd say
// 1 s; its frames last 3 s) passes the upload's check of VIDEO_MAX_SECONDS,
// but processing checks the length of what it would serve and fails the
// post.
func TestVideoPost_ForgedLength_Failed(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed (make test installs it)")
	}
	e := newEnv(t, func(c *config.Config) { c.VideoMaxSeconds = 2 })
	e.startWorker()
	c := e.signup("hugo")
	src := filepath.Join(t.TempDir(), "long.mp4")
	out, err := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=3:size=64x64:rate=10",
		"-pix_fmt", "yuv420p", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	data, _ := os.ReadFile(src)
	c.newPost(data, "long.mp4").want(413)
	// The lengths declared in version 0 boxes (ffmpeg's for short files).
	var movieScale uint32
	patched := 0
	var walk func(start, end int)
	walk = func(start, end int) {
		for i := start; i+8 <= end; {
			n, box := int(binary.BigEndian.Uint32(data[i:])), string(data[i+4:i+8])
			if n < 8 || i+n > end {
				t.Fatalf("bad MP4 box at %d", i)
			}
			if (box == "mvhd" || box == "tkhd" || box == "mdhd") && data[i+8] != 0 {
				t.Fatalf("%s is not version 0", box)
			}
			switch box {
			case "moov", "trak", "mdia":
				walk(i+8, i+n)
			case "mvhd", "mdhd":
				scale := binary.BigEndian.Uint32(data[i+20:])
				if box == "mvhd" {
					movieScale = scale
				}
				binary.BigEndian.PutUint32(data[i+24:], scale)
				patched++
			case "tkhd":
				binary.BigEndian.PutUint32(data[i+28:], movieScale)
				patched++
			}
			i += n
		}
	}
	walk(0, len(data))
	if patched != 3 {
		t.Fatalf("patched %d lengths", patched)
	}
	p := c.waitReady(c.newPost(data, "long.mp4").want(201).post().ID)
	if p.Status != "failed" || p.Failure == nil || !strings.Contains(*p.Failure, "3 seconds long") || !strings.Contains(*p.Failure, "at most 2 seconds") {
		t.Fatalf("%+v (failure %v)", p, p.Failure)
	}
}

func TestLostProcessingTask_Requeued(t *testing.T) {
	e := newEnv(t)
	c := e.signup("hana")
	p := c.newPost(jpegOf(120, 90, 5), "p.jpg").want(201).post()
	// The task is lost (Redis flushed) before any worker ran it.
	if err := e.rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := e.posts.Requeue(context.Background(), 0)
	if err != nil || n < 1 {
		t.Fatalf("requeued %d: %v", n, err)
	}
	e.startWorker()
	if got := c.waitReady(p.ID); got.Status != "ready" {
		t.Fatalf("%+v", got)
	}
}

// A multipart body cut off in the middle of its file (no closing boundary)
// is the client's mistake: 400, nothing stored, no file left behind.
func TestUploadCutOff_400(t *testing.T) {
	e := newEnv(t)
	c := e.signup("uri")
	img := pngOf(400, 300)
	for _, path := range []string{"/api/v1/posts", "/api/v1/me/profile/photo"} {
		field, method := "media", "POST"
		if strings.HasSuffix(path, "photo") {
			field, method = "photo", "PUT"
		}
		body := "--XX\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n" +
			string(img[:len(img)/2])
		req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
		if code := c.send(req).want(400).errCode(); code != "invalid" {
			t.Fatalf("%s: %s", path, code)
		}
	}
	if n := e.count(`SELECT count(*) FROM posts`); n != 0 {
		t.Fatalf("%d posts", n)
	}
	if files := e.mediaFiles(); len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
	if me := c.get("/api/v1/me").want(200).m(); me["photo_url"] != nil {
		t.Fatalf("photo set: %v", me["photo_url"])
	}
}

// The same picture posted again after its first post was deleted, while
// the deleted post's files wait in the collection queue: a collector that
// runs while the new post's caption is still on its way must not take the
// file the new post reuses.
func TestReuploadWhileCollecting_201(t *testing.T) {
	e := newEnv(t)
	c := e.signup("vera")
	ctx := context.Background()
	pic := jpegOf(320, 240, 3)
	first, original := c.processedPicture(pic, "cat.jpg")
	c.do("DELETE", "/api/v1/posts/"+first.ID, nil).want(204)
	if n := e.count(`SELECT count(*) FROM media_garbage WHERE path = $1`, original); n != 1 {
		t.Fatalf("the deleted post's original is not queued (%d)", n)
	}

	// The same bytes again; the caption comes later.
	s := c.postStalled(pic, "cat again.jpg")
	e.eventually("the upload is stored", func() bool {
		return e.count(`SELECT count(*) FROM media_garbage WHERE path = $1`, original) == 0
	})
	if err := e.posts.Collect(ctx, original); err != nil {
		t.Fatal(err)
	}
	second := s.finish("the cat is back")
	if p := c.get("/api/v1/posts/" + second.ID).want(200).post(); p.Status != "ready" {
		t.Fatalf("second post %s: %+v", p.Status, p)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.MediaRoot, filepath.FromSlash(original))); err != nil {
		t.Fatalf("the reused original is gone: %v", err)
	}
}

// processedPicture posts pic, processes it, and returns the post and the
// path of its original.
func (c *client) processedPicture(pic []byte, name string) (postView, string) {
	c.e.t.Helper()
	ctx := context.Background()
	p := c.upload("POST", "/api/v1/posts", "media", name, pic).want(201).post()
	id, _ := strconv.ParseInt(p.ID, 10, 64)
	if err := c.e.posts.Process(ctx, id); err != nil {
		c.e.t.Fatal(err)
	}
	var original string
	if err := c.e.db.QueryRow(ctx, `SELECT original FROM posts WHERE id = $1`, id).Scan(&original); err != nil || original == "" {
		c.e.t.Fatalf("original %q %v", original, err)
	}
	return p, original
}

// stalledPost is a post request whose file has been sent and whose
// caption has not.
type stalledPost struct {
	c       *client
	mw      *multipart.Writer
	pw      *io.PipeWriter
	caption io.Writer
	done    chan stalledAnswer
}

type stalledAnswer struct {
	status int
	body   []byte
	err    error
}

// postStalled sends a post of pic up to the start of its caption part: the
// server then has the file (stored, or found stored) and waits for the rest.
func (c *client) postStalled(pic []byte, name string) *stalledPost {
	c.e.t.Helper()
	pr, pw := io.Pipe()
	s := &stalledPost{c: c, mw: multipart.NewWriter(pw), pw: pw, done: make(chan stalledAnswer, 1)}
	req, _ := http.NewRequest("POST", c.e.base+"/api/v1/posts", pr)
	req.Header.Set("Content-Type", s.mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	go func() {
		res, err := c.http.Do(req)
		if err != nil {
			s.done <- stalledAnswer{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		s.done <- stalledAnswer{status: res.StatusCode, body: b}
	}()
	fw, _ := s.mw.CreateFormFile("media", name)
	if _, err := fw.Write(pic); err != nil {
		c.e.t.Fatal(err)
	}
	s.caption, _ = s.mw.CreateFormField("caption")
	return s
}

// finish sends the caption and the end of the body, wants a 201 and
// processes the post.
func (s *stalledPost) finish(caption string) postView {
	t := s.c.e.t
	t.Helper()
	_, _ = s.caption.Write([]byte(caption))
	_ = s.mw.Close()
	_ = s.pw.Close()
	a := <-s.done
	if a.err != nil || a.status != 201 {
		t.Fatalf("post: %d %s %v", a.status, a.body, a.err)
	}
	var p postView
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.ParseInt(p.ID, 10, 64)
	if err := s.c.e.posts.Process(context.Background(), id); err != nil {
		t.Fatalf("processing the post: %v", err)
	}
	return p
}

// A post deleted or removed while its renditions are being made: the
// renditions are queued for collection, not left on disk for good.
func TestGoneWhileProcessing(t *testing.T) {
	e := newEnv(t)
	c := e.signup("wade")
	ctx := context.Background()
	p := c.upload("POST", "/api/v1/posts", "media", "pic.jpg", jpegOf(640, 480, 5)).want(201).post()
	id, _ := strconv.ParseInt(p.ID, 10, 64)
	// Processing reads the post, then makes the renditions; whatever
	// happens to the post meanwhile, its final UPDATE finds no processing
	// row. A trigger that skips the row stands in for a delete at that
	// moment (the row is then gone or no longer processing).
	for _, sql := range []string{
		`CREATE FUNCTION test_gone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
		`CREATE TRIGGER test_gone BEFORE UPDATE ON posts FOR EACH ROW WHEN (OLD.id = ` + p.ID + ` AND NEW.status = 'ready') EXECUTE FUNCTION test_gone()`,
	} {
		if _, err := e.db.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.posts.Process(ctx, id); err != nil {
		t.Fatal(err)
	}
	var queued []string
	rows, err := e.db.Query(ctx, `SELECT path FROM media_garbage ORDER BY path`)
	if err != nil {
		t.Fatal(err)
	}
	if queued, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(queued) < 2 { // the display picture and the thumbnail
		t.Fatalf("renditions queued for collection: %v", queued)
	}
	for _, f := range queued {
		if err := e.posts.Collect(ctx, f); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(e.cfg.MediaRoot, filepath.FromSlash(f))); !os.IsNotExist(err) {
			t.Fatalf("%s not collected: %v", f, err)
		}
	}
}

// A post that stayed processing far longer than every retry takes (its
// file crashed the worker each time) is given up by the re-enqueue job,
// which re-enqueued it for ever before.
func TestProcessingGivenUp(t *testing.T) {
	e := newEnv(t)
	c := e.signup("yann")
	ctx := context.Background()
	stuck := c.upload("POST", "/api/v1/posts", "media", "a.jpg", jpegOf(100, 80, 1)).want(201).post()
	fresh := c.upload("POST", "/api/v1/posts", "media", "b.jpg", jpegOf(100, 80, 2)).want(201).post()
	if _, err := e.db.Exec(ctx, `UPDATE posts SET updated_at = now() - interval '13 hours' WHERE id = $1`, stuck.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.posts.Requeue(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if p := c.get("/api/v1/posts/" + stuck.ID).want(200).post(); p.Status != "failed" || p.Failure == nil {
		t.Fatalf("stuck post: %+v", p)
	}
	if p := c.get("/api/v1/posts/" + fresh.ID).want(200).post(); p.Status != "processing" {
		t.Fatalf("a post processing for a moment was touched: %s", p.Status)
	}
	if n := e.count(`SELECT count(*) FROM notifications WHERE kind = 'processing_failed'`); n != 1 {
		t.Fatalf("%d failure notifications", n)
	}
}

// The other order: the same picture is posted again while its first post
// still has it, and the first post is deleted (its file queued) and a
// collector runs while the new post's caption is still on its way. The
// upload's claim keeps the file.
func TestReuploadWhileFirstDeleted_201(t *testing.T) {
	e := newEnv(t)
	c := e.signup("xavi")
	ctx := context.Background()
	pic := jpegOf(320, 240, 9)
	first, original := c.processedPicture(pic, "dog.jpg")

	s := c.postStalled(pic, "dog again.jpg")
	e.eventually("the upload to claim its file", func() bool {
		return e.count(`SELECT count(*) FROM media_claims WHERE path = $1`, original) == 1
	})
	c.do("DELETE", "/api/v1/posts/"+first.ID, nil).want(204)
	if n := e.count(`SELECT count(*) FROM media_garbage WHERE path = $1`, original); n != 1 {
		t.Fatalf("the deleted post's original is not queued (%d)", n)
	}
	if err := e.posts.Collect(ctx, original); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.MediaRoot, filepath.FromSlash(original))); err != nil {
		t.Fatalf("the collector took a claimed file: %v", err)
	}
	s.finish("the dog is back")
	if n := e.count(`SELECT count(*) FROM media_claims`); n != 0 {
		t.Fatalf("%d claims left after the post was saved", n)
	}
	if n := e.count(`SELECT count(*) FROM media_garbage WHERE path = $1`, original); n != 0 {
		t.Fatalf("the reused original is still queued for collection")
	}
}

// The server dies after an upload's file is stored and before its post is
// saved: once the claim runs out, the re-enqueue job queues the file for
// collection and enqueues its task, and the collector deletes it. A file
// that a post uses stays, stale claim or not.
func TestExpiredClaim_FileCollected(t *testing.T) {
	e := newEnv(t)
	c := e.signup("zora")
	ctx := context.Background()
	_, used := c.processedPicture(jpegOf(320, 240, 3), "kept.jpg")
	u, err := e.posts.Ingest(ctx, bytes.NewReader(jpegOf(320, 240, 4)))
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(e.cfg.MediaRoot, filepath.FromSlash(u.Path))
	if _, err := os.Stat(orphan); err != nil {
		t.Fatal(err)
	}
	// No post is made (the server was killed); the claims run out.
	if _, err := e.db.Exec(ctx, `INSERT INTO media_claims (path, until) VALUES ($1, now()) ON CONFLICT (path) DO UPDATE SET until = now()`, used); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `UPDATE media_claims SET until = now() - interval '1 minute'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.posts.Requeue(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM media_claims`); n != 0 {
		t.Fatalf("%d expired claims left", n)
	}
	e.startWorker()
	e.eventually("the orphan file to be collected", func() bool {
		_, err := os.Stat(orphan)
		return os.IsNotExist(err) && e.count(`SELECT count(*) FROM media_garbage`) == 0
	})
	if _, err := os.Stat(filepath.Join(e.cfg.MediaRoot, filepath.FromSlash(used))); err != nil {
		t.Fatalf("a file a post uses was collected: %v", err)
	}
}

// PostUpdate: an absent or null field is unchanged; `tags: []` clears.
func TestEditTags_NullKeeps_EmptyClears_200(t *testing.T) {
	e := newEnv(t)
	a := e.signup("tara")
	p := a.newPost(nil, "", "caption", "tagged", "tags", "one, two").want(201).post()
	path := "/api/v1/posts/" + p.ID
	if strings.Join(p.Tags, ",") != "one,two" {
		t.Fatalf("tags %v", p.Tags)
	}
	for _, body := range []string{`{"tags": null}`, `{"caption": "retitled", "tags": null}`, `{"caption": null, "tags": null}`, `{"caption": "again"}`} {
		if r := a.do("PATCH", path, body).want(200).post(); strings.Join(r.Tags, ",") != "one,two" {
			t.Fatalf("PATCH %s: tags now %v", body, r.Tags)
		}
	}
	if got := a.get(path).want(200).post(); strings.Join(got.Tags, ",") != "one,two" || got.Caption != "again" {
		t.Fatalf("after the edits: %+v", got)
	}
	if r := a.do("PATCH", path, `{"tags": []}`).want(200).post(); len(r.Tags) != 0 {
		t.Fatalf("tags: [] left %v", r.Tags)
	}
}

// A post still processing, or failed, does not exist for anyone but its
// author and the admins: editing or deleting it answers as GET does.
func TestHiddenPost_EditDelete_404(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signup("ada")
	if _, err := e.db.Exec(ctx, `UPDATE users SET is_admin = true WHERE username = 'ada'`); err != nil {
		t.Fatal(err)
	}
	a, b := e.signup("hal"), e.signup("ivy")
	// No worker runs: the upload stays processing.
	processing := a.upload("POST", "/api/v1/posts", "media", "p.jpg", jpegOf(100, 100, 1)).want(201).post()
	failed := a.upload("POST", "/api/v1/posts", "media", "f.jpg", jpegOf(100, 100, 2)).want(201).post()
	if _, err := e.db.Exec(ctx, `UPDATE posts SET status = 'failed', failure = 'broken' WHERE id = $1`, failed.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []postView{processing, failed} {
		path := "/api/v1/posts/" + p.ID
		b.get(path).want(404)
		if r := b.do("PATCH", path, map[string]string{"caption": "mine now"}).want(404); r.errCode() != "not_found" {
			t.Fatalf("PATCH: %s", r.Body)
		}
		if r := b.do("DELETE", path, nil).want(404); r.errCode() != "not_found" {
			t.Fatalf("DELETE: %s", r.Body)
		}
		// An admin sees the post, so is told why editing it is refused.
		admin.get(path).want(200)
		admin.do("PATCH", path, map[string]string{"caption": "mod's caption"}).want(403)
		a.do("PATCH", path, map[string]string{"caption": "still mine"}).want(200)
	}
	admin.do("DELETE", "/api/v1/posts/"+failed.ID, nil).want(204)
	a.do("DELETE", "/api/v1/posts/"+processing.ID, nil).want(204)
	if n := e.count(`SELECT count(*) FROM posts`); n != 0 {
		t.Fatalf("%d posts left", n)
	}
}

// A comment or reaction sent while a cull or a moderator's removal of the
// post is committing waits for it and is then refused, as it would be a
// moment later, instead of being written on a culled or removed post.
func TestSocialWhileStatusChanges_409(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.signup("jon"), e.signup("kim")
	for _, c := range []struct {
		action, status string
	}{
		{"comment", "culled"}, {"comment", "removed"},
		{"react", "culled"}, {"react", "removed"},
		{"unreact", "culled"}, {"unreact", "removed"},
	} {
		p := a.newPost(nil, "", "caption", c.action+" "+c.status).want(201).post()
		path := "/api/v1/posts/" + p.ID
		if c.action == "unreact" {
			b.do("PUT", path+"/reactions/laugh", nil).want(200)
		}
		// The status change, held open as a cull or removal is while it
		// does the rest of its work.
		tx, err := e.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE posts SET status = $2, removed_at = CASE WHEN $2 = 'removed' THEN now() END WHERE id = $1`, p.ID, c.status); err != nil {
			t.Fatal(err)
		}
		done := make(chan *resp, 1)
		go func() {
			switch c.action {
			case "comment":
				done <- b.post(path+"/comments", map[string]string{"body": "first!"})
			case "react":
				done <- b.do("PUT", path+"/reactions/fire", nil)
			case "unreact":
				done <- b.do("DELETE", path+"/reactions/laugh", nil)
			}
		}()
		e.eventually(c.action+" to wait for the post's row", func() bool {
			return e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
		})
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.Status != 409 || r.errCode() != "conflict" {
			t.Fatalf("%s on a post becoming %s: %d %s; want 409", c.action, c.status, r.Status, r.Body)
		}
		var counts map[string]int
		if err := e.db.QueryRow(ctx, `SELECT reaction_counts FROM posts WHERE id = $1`, p.ID).Scan(&counts); err != nil {
			t.Fatal(err)
		}
		comments := e.count(`SELECT count(*) FROM comments WHERE post_id = $1`, p.ID)
		reactions := e.count(`SELECT count(*) FROM reactions WHERE post_id = $1`, p.ID)
		wantReactions := 0
		if c.action == "unreact" {
			wantReactions = 1
		}
		if comments != 0 || reactions != wantReactions || len(counts) != wantReactions {
			t.Fatalf("%s on a post becoming %s wrote: %d comments, %d reactions, counts %v", c.action, c.status, comments, reactions, counts)
		}
	}
}

// Withdrawing a reaction answers like giving one: a culled or removed post
// takes neither (409) and keeps its counts; a hidden one is 404.
func TestUnreactCulled_409(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.signup("lea"), e.signup("max")
	p := a.newPost(nil, "", "caption", "soon gone").want(201).post()
	path := "/api/v1/posts/" + p.ID
	b.do("PUT", path+"/reactions/laugh", nil).want(200)
	for _, status := range []string{"culled", "removed"} {
		if _, err := e.db.Exec(ctx, `UPDATE posts SET status = $2 WHERE id = $1`, p.ID, status); err != nil {
			t.Fatal(err)
		}
		b.do("PUT", path+"/reactions/fire", nil).want(409)
		if r := b.do("DELETE", path+"/reactions/laugh", nil).want(409); r.errCode() != "conflict" {
			t.Fatal(string(r.Body))
		}
		// Not having reacted changes nothing either way, but the answer is
		// still the post's.
		b.do("DELETE", path+"/reactions/clap", nil).want(409)
		if got := b.get(path).want(200).post(); got.Reactions["laugh"] != 1 || strings.Join(got.MyReactions, ",") != "laugh" {
			t.Fatalf("%s post's reactions changed: %+v %v", status, got.Reactions, got.MyReactions)
		}
	}
	hiddenPost := a.upload("POST", "/api/v1/posts", "media", "p.jpg", jpegOf(100, 100, 1)).want(201).post()
	b.do("DELETE", "/api/v1/posts/"+hiddenPost.ID+"/reactions/laugh", nil).want(404)
	b.do("DELETE", "/api/v1/posts/424242/reactions/laugh", nil).want(404)
}

// Text that shows nothing, or that turns the text around it, is refused
// with a message for its field; invisible characters inside visible text
// (an emoji sequence's joiners) are kept.
func TestInvisibleAndBidiText_400(t *testing.T) {
	e := newEnv(t)
	a, b := e.signup("ned"), e.signup("ola")
	p := a.newPost(nil, "", "caption", "a joke").want(201).post()
	path := "/api/v1/posts/" + p.ID
	for _, body := range []string{"\u200b", "\u200b\u200b\u200b", " \u2060\ufeff\u200d ", "\u3164"} {
		r := b.post(path+"/comments", map[string]string{"body": body}).want(400)
		if r.errCode() != "invalid" || !strings.Contains(r.field("body"), "nothing visible") {
			t.Fatalf("comment %+q: %s", body, r.Body)
		}
	}
	r := b.post(path+"/comments", map[string]string{"body": "lol \u202Eexe.gnp"}).want(400)
	if !strings.Contains(r.field("body"), "direction") {
		t.Fatalf("comment with an override: %s", r.Body)
	}
	family := "👨\u200d👩\u200d👧 same"
	if c := b.post(path+"/comments", map[string]string{"body": family}).want(201).m(); c["body"] != family {
		t.Fatalf("comment %+q stored as %+q", family, c["body"])
	}
	if n := e.count(`SELECT count(*) FROM comments`); n != 1 {
		t.Fatalf("%d comments stored", n)
	}

	r = a.newPost(nil, "", "caption", "\u200b\u200b").want(400)
	if !strings.Contains(r.field("caption"), "nothing visible") {
		t.Fatalf("invisible caption: %s", r.Body)
	}
	r = a.newPost(nil, "", "caption", "gift for \u202Eyou").want(400)
	if !strings.Contains(r.field("caption"), "direction") {
		t.Fatalf("caption with an override: %s", r.Body)
	}
	r = a.do("PATCH", path, map[string]string{"caption": "x\u2067y\u2069"}).want(400)
	if !strings.Contains(r.field("caption"), "direction") {
		t.Fatalf("edited caption with an isolate: %s", r.Body)
	}
	for name, want := range map[string]string{"\u200b": "nothing visible", "\u2800\u2800": "nothing visible", "admin\u202E": "direction"} {
		r = a.do("PATCH", "/api/v1/me/profile", map[string]string{"display_name": name}).want(400)
		if !strings.Contains(r.field("display_name"), want) {
			t.Fatalf("display name %+q: %s", name, r.Body)
		}
	}
	if got := a.get(path).want(200).post(); got.Caption != "a joke" {
		t.Fatalf("caption now %+q", got.Caption)
	}
}

// Every change of a post's reactions is announced with the counts it left
// and the reactions version after it, so a client can drop counts older
// than those it holds however the messages are ordered.
func TestLive_ReactionsVersioned(t *testing.T) {
	e := newEnv(t)
	a := e.signup("pia")
	p := a.newPost(nil, "", "caption", "react to me").want(201).post()
	path := "/api/v1/posts/" + p.ID
	ch := "post:" + p.ID
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": ch})
	w.wait("snapshot", is(ch, "snapshot"))

	const n = 8
	kinds := []string{"laugh", "fire"}
	users := make([]*client, n)
	for i := range users {
		users[i] = e.signup(fmt.Sprintf("fan%d", i))
	}
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := u.do("PUT", path+"/reactions/"+kinds[i%2], nil); r.Status != 200 {
				t.Errorf("reaction %d: %d %s", i, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	users[0].do("PUT", path+"/reactions/laugh", nil).want(200) // no change: no message
	users[0].do("DELETE", path+"/reactions/laugh", nil).want(200)

	type reactionsMsg struct {
		counts  map[string]int
		version int64
	}
	read := func(m map[string]any) reactionsMsg {
		d := m["data"].(map[string]any)
		out := reactionsMsg{counts: map[string]int{}}
		v, ok := d["version"].(float64)
		if !ok {
			t.Fatalf("reactions message without a version: %v", m)
		}
		out.version = int64(v)
		for k, c := range d["reactions"].(map[string]any) {
			out.counts[k] = int(c.(float64))
		}
		return out
	}
	last := w.wait("the reactions after the withdrawal", func(m map[string]any) bool {
		return is(ch, "reactions")(m) && read(m).version == n+1
	})
	if got := read(last).counts; got["laugh"] != n/2-1 || got["fire"] != n/2 {
		t.Fatalf("newest counts %v", got)
	}
	w.mu.Lock()
	msgs := slices.Clone(w.msgs)
	w.mu.Unlock()
	seen := map[int64]bool{}
	for _, m := range msgs {
		if !is(ch, "reactions")(m) {
			continue
		}
		r := read(m)
		if seen[r.version] {
			t.Fatalf("version %d announced twice", r.version)
		}
		seen[r.version] = true
		// Only reactions were added before the withdrawal, one per change:
		// counts announced with version v hold v reactions, so no message
		// pairs counts with another change's version.
		total := r.counts["laugh"] + r.counts["fire"]
		if r.version <= n && total != int(r.version) {
			t.Fatalf("version %d announced with %d reactions: %v", r.version, total, r.counts)
		}
	}
	if len(seen) != n+1 {
		t.Fatalf("%d reactions messages for %d changes: %v", len(seen), n+1, seen)
	}
	rest := a.get(path).want(200).post()
	if got := rest.Reactions; got["laugh"] != n/2-1 || got["fire"] != n/2 {
		t.Fatalf("REST reactions %v", got)
	}
	if rest.ReactionsVersion != int64(n+1) {
		t.Fatalf("REST reactions_version %d; want %d, the last live message's", rest.ReactionsVersion, n+1)
	}
}

// The rules a client checks a file against before sending it are the
// server's own: its limits, and videos only where it can take them.
func TestPostRules_200(t *testing.T) {
	e := newEnv(t)
	var r struct {
		MaxBytes        int64    `json:"max_bytes"`
		Formats         []string `json:"formats"`
		Videos          bool     `json:"videos"`
		MaxVideoSeconds float64  `json:"max_video_seconds"`
		MaxCaption      int      `json:"max_caption_chars"`
		MaxTags         int      `json:"max_tags"`
	}
	e.client().get("/api/v1/posts/rules").want(200).json(&r)
	if r.MaxBytes != e.cfg.UploadMaxBytes || r.MaxCaption != 500 || r.MaxTags != 10 {
		t.Fatalf("rules %+v; want the server's limits (max_bytes %d)", r, e.cfg.UploadMaxBytes)
	}
	canVideo := media.FindTools().CanVideo()
	if r.Videos != canVideo || slices.Contains(r.Formats, "mp4") != canVideo || (r.MaxVideoSeconds > 0) != canVideo {
		t.Fatalf("rules %+v, but this server can take videos: %v", r, canVideo)
	}
}

// Every comment added or deleted is announced with the post's comment
// count as it left it and the comments version after it, the number every
// Post carries: a copy of the post with comments_version v counts exactly
// the changes announced with versions up to v, so a client merging copies
// and messages in any order neither counts a comment twice nor misses one.
func TestLive_CommentsVersioned(t *testing.T) {
	e := newEnv(t)
	a := e.signup("quinn")
	p := a.newPost(nil, "", "caption", "comment on me").want(201).post()
	path := "/api/v1/posts/" + p.ID
	ch := "post:" + p.ID
	w := e.ws(nil)
	w.send(map[string]any{"type": "subscribe", "ch": ch})
	snap := w.wait("snapshot", is(ch, "snapshot"))
	if v := snap["data"].(map[string]any)["post"].(map[string]any)["comments_version"]; v != 0.0 {
		t.Fatalf("snapshot comments_version %v; want 0", v)
	}

	const n = 8
	users := make([]*client, n)
	for i := range users {
		users[i] = e.signup(fmt.Sprintf("wit%d", i))
	}
	ids := make([]string, n)
	// Copies of the post read while the comments come in.
	var (
		copiesMu sync.Mutex
		copies   []postView
	)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := u.do("POST", path+"/comments", map[string]string{"body": fmt.Sprintf("joke %d", i)})
			if r.Status != 201 {
				t.Errorf("comment %d: %d %s", i, r.Status, r.Body)
				return
			}
			ids[i], _ = r.m()["id"].(string)
		}()
		go func() {
			defer wg.Done()
			var c postView
			if r := e.client().get(path); r.Status == 200 {
				r.json(&c)
				copiesMu.Lock()
				copies = append(copies, c)
				copiesMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Two deletions at once, then one of them again: gone already, so no
	// change and no message.
	for _, i := range []int{0, 1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := users[i].do("DELETE", path+"/comments/"+ids[i], nil); r.Status != 204 {
				t.Errorf("delete %d: %d %s", i, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	users[0].do("DELETE", path+"/comments/"+ids[0], nil).want(404)

	type change struct {
		typ, id string
		count   int
	}
	const changes = n + 2
	w.wait("the last change's message", func(m map[string]any) bool {
		d, _ := m["data"].(map[string]any)
		return (is(ch, "comment")(m) || is(ch, "comment_deleted")(m)) && d["comments_version"] == float64(changes)
	})
	time.Sleep(200 * time.Millisecond) // a message announced twice would come now
	w.mu.Lock()
	msgs := slices.Clone(w.msgs)
	w.mu.Unlock()
	byVersion := map[int64]change{}
	for _, m := range msgs {
		if !is(ch, "comment")(m) && !is(ch, "comment_deleted")(m) {
			continue
		}
		d := m["data"].(map[string]any)
		v, ok := d["comments_version"].(float64)
		count, ok2 := d["comment_count"].(float64)
		if !ok || !ok2 {
			t.Fatalf("%s message without comments_version and comment_count: %v", m["type"], d)
		}
		if _, dup := byVersion[int64(v)]; dup {
			t.Fatalf("comments_version %d announced twice", int64(v))
		}
		byVersion[int64(v)] = change{m["type"].(string), d["id"].(string), int(count)}
	}
	// Replayed in version order, the messages add up: each count is the one
	// before it plus or minus its own change.
	count := 0
	for v := int64(1); v <= changes; v++ {
		c, ok := byVersion[v]
		if !ok {
			t.Fatalf("no message with comments_version %d: %v", v, byVersion)
		}
		if c.typ == "comment" {
			count++
		} else {
			count--
		}
		if c.count != count {
			t.Fatalf("comments_version %d (%s %s) announced comment_count %d; the changes up to it make %d", v, c.typ, c.id, c.count, count)
		}
		if wantDeleted := v > n; wantDeleted != (c.typ == "comment_deleted") {
			t.Fatalf("comments_version %d is a %s", v, c.typ)
		}
	}
	if len(byVersion) != changes {
		t.Fatalf("%d comment messages for %d changes", len(byVersion), changes)
	}
	for _, c := range copies {
		want := 0
		if c.CommentsVersion > 0 {
			want = byVersion[c.CommentsVersion].count
		}
		if c.CommentsVersion > changes || c.CommentCount != want {
			t.Fatalf("a copy read meanwhile has comment_count %d at comments_version %d; the messages say %d", c.CommentCount, c.CommentsVersion, want)
		}
	}
	rest := a.get(path).want(200).post()
	if rest.CommentCount != n-2 || rest.CommentsVersion != changes {
		t.Fatalf("REST comment_count %d, comments_version %d; want %d, %d", rest.CommentCount, rest.CommentsVersion, n-2, changes)
	}
}
