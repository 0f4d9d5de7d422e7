package api_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/ratelimit"
)

func pngOf(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// pngBomb is a tiny PNG whose header claims w×h pixels.
func pngBomb(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		buf.WriteString(typ)
		buf.Write(data)
		_ = binary.Write(&buf, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return buf.Bytes()
}

func TestProfiles_200_404(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"zed", "amy", "Bea", "cyd"} {
		e.signup(n)
	}
	anon := e.client()
	var page struct {
		Items []struct {
			Username     string `json:"username"`
			FollowedByMe *bool  `json:"followed_by_me"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	var names []string
	path := "/api/v1/profiles?limit=3"
	for i := 0; ; i++ {
		anon.get(path).want(200).json(&page)
		for _, it := range page.Items {
			names = append(names, it.Username)
			if it.FollowedByMe != nil {
				t.Fatal("followed_by_me for an anonymous caller")
			}
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/profiles?limit=3&cursor=" + *page.NextCursor
		if i > 3 {
			t.Fatal("pagination does not end")
		}
	}
	if strings.Join(names, ",") != "amy,Bea,cyd,zed" {
		t.Fatalf("names %v", names)
	}
	anon.get("/api/v1/profiles?q=b").want(200).json(&page)
	if len(page.Items) != 1 || page.Items[0].Username != "Bea" {
		t.Fatalf("search: %+v", page)
	}
	anon.get("/api/v1/profiles?limit=0").want(400)
	anon.get("/api/v1/profiles?limit=abc").want(400)
	anon.get("/api/v1/profiles?cursor=%%%").want(400)
	anon.get("/api/v1/profiles/BEA").want(200)
	if anon.get("/api/v1/profiles/nobody").want(404).errCode() != "not_found" {
		t.Fatal("code")
	}
}

func TestUpdateProfile_200_400_403(t *testing.T) {
	e := newEnv(t)
	c := e.signup("dora")
	e.signup("eve")
	p := c.do("PATCH", "/api/v1/me/profile", map[string]string{"display_name": "  Dora the Explorer ", "country": "br", "city": "Recife", "about": "Maps.\nBackpacks."}).want(200).m()
	if p["display_name"] != "Dora the Explorer" || p["country"] != "BR" || p["city"] != "Recife" || p["about"] != "Maps.\nBackpacks." {
		t.Fatal(p)
	}
	// Partial: other fields stay.
	p = c.do("PATCH", "/api/v1/profiles/dora", map[string]string{"city": "Olinda"}).want(200).m()
	if p["display_name"] != "Dora the Explorer" || p["city"] != "Olinda" {
		t.Fatal(p)
	}
	for name, body := range map[string]any{
		"country":      map[string]string{"country": "XX"},
		"country3":     map[string]string{"country": "BRA"},
		"display_name": map[string]string{"display_name": strings.Repeat("a", 51)},
		"about":        map[string]string{"about": strings.Repeat("a", 501)},
		"city":         map[string]string{"city": "two\nlines"},
	} {
		if c.do("PATCH", "/api/v1/me/profile", body).want(400).field(name[:min(len(name), len(strings.TrimRight(name, "3")))]) == "" {
			t.Fatalf("%s: no field message", name)
		}
	}
	c.do("PATCH", "/api/v1/me/profile", `{"city": 5}`).want(400)
	if r := c.do("PATCH", "/api/v1/profiles/eve", map[string]string{"city": "Hacked"}).want(403); r.errCode() != "forbidden" {
		t.Fatal(string(r.Body))
	}
	c.do("PATCH", "/api/v1/profiles/nobody", map[string]string{"city": "x"}).want(404)
	e.client().do("PATCH", "/api/v1/me/profile", map[string]string{"city": "x"}).want(401)
	if got := e.client().get("/api/v1/profiles/eve").want(200).m()["city"]; got != "" {
		t.Fatalf("eve's city changed to %v", got)
	}
	p = c.get("/api/v1/profiles/dora").want(200).m()
	if p["city"] != "Olinda" || p["country"] != "BR" {
		t.Fatal("rejected updates changed something", p)
	}
}

func TestProfilePhoto_200_413_415(t *testing.T) {
	e := newEnv(t)
	c := e.signup("finn")
	p := c.upload("PUT", "/api/v1/me/profile/photo", "photo", "me.png", pngOf(800, 600)).want(200).m()
	url, _ := p["photo_url"].(string)
	if !strings.HasPrefix(url, "/media/avatars/") || !strings.HasSuffix(url, ".jpg") {
		t.Fatalf("photo_url %q", url)
	}
	r := c.get(url).want(200)
	if r.Header.Get("Content-Type") != "image/jpeg" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
		t.Fatal(r.Header)
	}
	img, format, err := image.Decode(bytes.NewReader(r.Body))
	if err != nil || format != "jpeg" || img.Bounds().Dx() != e.cfg.PhotoSize || img.Bounds().Dy() != e.cfg.PhotoSize {
		t.Fatalf("served photo: %v %s %v", err, format, img.Bounds())
	}
	c.get("/media/avatars/").want(404)
	c.get("/media/../go.mod").want(404)
	c.get("/media/avatars/..%2f..%2fgo.mod").want(404)

	// A 100k × 100k pixel PNG is refused from its header, nothing changes.
	if r := c.upload("PUT", "/api/v1/me/profile/photo", "photo", "bomb.png", pngBomb(100_000, 100_000)).want(413); r.errCode() != "too_large" {
		t.Fatal(string(r.Body))
	}
	html := []byte("<html><script>alert(1)</script></html>")
	if r := c.upload("PUT", "/api/v1/me/profile/photo", "photo", "evil.jpg", html).want(415); r.errCode() != "unsupported" {
		t.Fatal(string(r.Body))
	}
	c.upload("PUT", "/api/v1/me/profile/photo", "other", "me.png", pngOf(10, 10)).want(400)
	big := append(pngOf(10, 10), bytes.Repeat([]byte{0}, int(e.cfg.PhotoMaxBytes))...)
	c.upload("PUT", "/api/v1/me/profile/photo", "photo", "big.png", big).want(413)
	c.do("PUT", "/api/v1/me/profile/photo", map[string]string{"photo": "x"}).want(415)
	// A good photo followed by a field that is not: the request is refused
	// whole, and the photo it carried is neither used nor kept.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("photo", "new.png")
	_, _ = fw.Write(pngOf(200, 100))
	_ = mw.WriteField("extra", "field")
	_ = mw.Close()
	before := e.mediaFiles()
	req, _ := http.NewRequest("PUT", e.base+"/api/v1/me/profile/photo", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	c.send(req).want(400)
	if after := e.mediaFiles(); !slices.Equal(after, before) {
		t.Fatalf("files before %v, after %v", before, after)
	}
	if got := c.get("/api/v1/profiles/finn").want(200).m()["photo_url"]; got != url {
		t.Fatalf("a refused upload changed the photo to %v", got)
	}

	// Replacing removes the old file; deleting clears the URL.
	p = c.upload("PUT", "/api/v1/me/profile/photo", "photo", "me2.png", pngOf(300, 300)).want(200).m()
	if p["photo_url"] == url {
		t.Fatal("same url for a different photo")
	}
	c.get(url).want(404)
	p = c.do("DELETE", "/api/v1/me/profile/photo", nil).want(200).m()
	if p["photo_url"] != nil {
		t.Fatal(p)
	}
}

func TestFollowsAndNotifications_200_400(t *testing.T) {
	e := newEnv(t)
	gus := e.signup("gus")
	fans := []*client{e.signup("hal"), e.signup("ida"), e.signup("jon")}
	for _, f := range fans {
		p := f.post("/api/v1/profiles/gus/follow", nil).want(200).m()
		if p["followed_by_me"] != true {
			t.Fatal(p)
		}
	}
	fans[0].post("/api/v1/profiles/gus/follow", nil).want(200) // again: no-op
	if r := gus.post("/api/v1/profiles/gus/follow", nil).want(400); r.errCode() != "invalid" {
		t.Fatal(string(r.Body))
	}
	gus.post("/api/v1/profiles/nobody/follow", nil).want(404)
	e.client().post("/api/v1/profiles/gus/follow", nil).want(401)
	gus.post("/api/v1/profiles/hal/follow", nil).want(200)

	p := fans[1].get("/api/v1/profiles/gus").want(200).m()
	if p["followers_count"] != 3.0 || p["following_count"] != 1.0 || p["followed_by_me"] != true {
		t.Fatal(p)
	}
	var list struct {
		Items []struct {
			Username string `json:"username"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	gus.get("/api/v1/profiles/gus/followers?limit=2").want(200).json(&list)
	if len(list.Items) != 2 || list.Items[0].Username != "jon" || list.NextCursor == nil {
		t.Fatalf("%+v", list)
	}
	gus.get("/api/v1/profiles/gus/followers?limit=2&cursor=" + *list.NextCursor).want(200).json(&list)
	if len(list.Items) != 1 || list.Items[0].Username != "hal" || list.NextCursor != nil {
		t.Fatalf("%+v", list)
	}
	gus.get("/api/v1/profiles/gus/following").want(200).json(&list)
	if len(list.Items) != 1 || list.Items[0].Username != "hal" {
		t.Fatalf("%+v", list)
	}
	e.client().get("/api/v1/profiles/nobody/followers").want(404)

	// Each new follower is one notification; following again within a day
	// does not repeat it.
	fans[2].do("DELETE", "/api/v1/profiles/gus/follow", nil).want(200)
	fans[2].post("/api/v1/profiles/gus/follow", nil).want(200)
	if n := gus.get("/api/v1/notifications/unread-count").want(200).m()["count"]; n != 3.0 {
		t.Fatalf("unread %v", n)
	}
	var notes struct {
		Items []struct {
			ID    string  `json:"id"`
			Kind  string  `json:"kind"`
			Actor *string `json:"actor"`
			Read  bool    `json:"read"`
		} `json:"items"`
	}
	gus.get("/api/v1/notifications").want(200).json(&notes)
	if len(notes.Items) != 3 || notes.Items[0].Kind != "followed" || *notes.Items[0].Actor != "jon" || notes.Items[0].Read {
		t.Fatalf("%+v", notes)
	}
	// Marking someone else's notification does nothing.
	fans[0].post("/api/v1/notifications/read", map[string]any{"ids": []string{notes.Items[0].ID}}).want(200)
	r := gus.post("/api/v1/notifications/read", map[string]any{"ids": []string{notes.Items[0].ID}}).want(200).m()
	if r["unread_count"] != 2.0 {
		t.Fatal(r)
	}
	gus.get("/api/v1/notifications?unread=true").want(200).json(&notes)
	if len(notes.Items) != 2 {
		t.Fatalf("%+v", notes)
	}
	gus.post("/api/v1/notifications/read", map[string]any{"ids": []string{"x"}}).want(400)
	gus.post("/api/v1/notifications/read", map[string]any{}).want(400)
	gus.get("/api/v1/notifications?unread=maybe").want(400)
	if gus.post("/api/v1/notifications/read", map[string]any{"all": true}).want(200).m()["unread_count"] != 0.0 {
		t.Fatal("not all read")
	}
	e.client().get("/api/v1/notifications").want(401)
	if n := fans[0].get("/api/v1/notifications/unread-count").want(200).m()["count"]; n != 1.0 {
		t.Fatalf("hal was followed by gus: unread %v", n)
	}
}

func TestOperations_200(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	c.get("/healthz").want(200)
	r := c.get("/readyz").want(200).m()
	checks := r["checks"].(map[string]any)
	if checks["postgres"] != "ok" || checks["redis"] != "ok" || checks["live"] != "ok" {
		t.Fatal(r)
	}
	r2 := c.get("/api/openapi.yaml").want(200)
	if !strings.HasPrefix(string(r2.Body), "openapi: 3") {
		t.Fatal("not the document")
	}
	page := c.get("/redoc").want(200)
	if !strings.Contains(string(page.Body), `src="/redoc/redoc.standalone.js"`) || strings.Contains(string(page.Body), "cdn") {
		t.Fatal("redoc page must load its script locally")
	}
	js := c.get("/redoc/redoc.standalone.js").want(200)
	if len(js.Body) < 100_000 {
		t.Fatal("redoc bundle missing")
	}
	h := c.get("/api/v1/profiles").want(200).Header
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "strict-origin-when-cross-origin"} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Error("no CSP")
	}
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS must be off by default")
	}
	if c.get("/api/v1/no/such/route").want(404).errCode() != "not_found" {
		t.Fatal("404 body")
	}
	req, _ := http.NewRequest("PUT", e.base+"/healthz", nil)
	if c.send(req).Status < 400 {
		t.Fatal("PUT /healthz accepted")
	}
	home := c.get("/").want(200)
	if !strings.Contains(string(home.Body), "make web") {
		t.Fatal("no 'not built' page")
	}
}

// Two people following each other at the same moment, over and over: no
// request fails (their triggers took the two profiles in opposite orders
// and deadlocked), and the counters end right.
func TestFollowEachOtherAtOnce_200(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.RateWrite, c.RateIP = ratelimit.Rule{}, ratelimit.Rule{} })
	a, b := e.signup("ann_f"), e.signup("bo_f")
	for round := range 200 {
		for _, method := range []string{"POST", "DELETE"} {
			var wg sync.WaitGroup
			codes := make([]int, 2)
			for i, c := range []*client{a, b} {
				other := []string{"bo_f", "ann_f"}[i]
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = c.do(method, "/api/v1/profiles/"+other+"/follow", nil).Status
				}()
			}
			wg.Wait()
			if codes[0] != 200 || codes[1] != 200 {
				t.Fatalf("round %d, %s: statuses %v", round, method, codes)
			}
		}
	}
	for _, name := range []string{"ann_f", "bo_f"} {
		p := a.get("/api/v1/profiles/" + name).want(200).m()
		if p["followers_count"] != 0.0 || p["following_count"] != 0.0 {
			t.Fatalf("%s: %v followers, %v following after all the unfollows", name, p["followers_count"], p["following_count"])
		}
	}
}
