package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jokster/jokster"
)

// Tools locates ffmpeg and ffprobe. With either path empty, videos are
// refused (EUNSUPPORTED "this server cannot take videos: ffmpeg is not
// installed").
type Tools struct{ FFmpeg, FFprobe string }

// FindTools looks ffmpeg and ffprobe up in PATH; a missing one is "".
func FindTools() Tools {
	var t Tools
	t.FFmpeg, _ = exec.LookPath("ffmpeg")
	t.FFprobe, _ = exec.LookPath("ffprobe")
	return t
}

// CanVideo reports whether both tools are there.
func (t Tools) CanVideo() bool { return t.FFmpeg != "" && t.FFprobe != "" }

// ToolTimeout bounds one ffprobe or ffmpeg run when the caller's context
// has no deadline of its own (callers should give one).
const ToolTimeout = 5 * time.Minute

// maxToolOutput bounds what is kept of a tool's stdout and stderr.
const maxToolOutput = 4 << 20

// videoCodecs are the codecs accepted per container: the ones browsers play.
var videoCodecs = map[string]map[string]bool{
	"mp4":  {"h264": true, "hevc": true, "av1": true, "vp9": true},
	"webm": {"vp8": true, "vp9": true, "av1": true},
}

// audioCodecs are the audio codecs accepted per container.
var audioCodecs = map[string]map[string]bool{
	"mp4":  {"aac": true, "mp3": true, "opus": true, "flac": true, "alac": true, "ac3": true, "eac3": true},
	"webm": {"opus": true, "vorbis": true},
}

// videoInfo is what ffprobe says about a video.
type videoInfo struct {
	width, height int // coded frame size
	rotation      int // display rotation in degrees
	durationMS    int
	videoCodec    string
	audioCodec    string // "" without audio
}

// probeJSON is the part of ffprobe's JSON output read here.
type probeJSON struct {
	Streams []struct {
		CodecType string          `json:"codec_type"`
		CodecName string          `json:"codec_name"`
		Width     int             `json:"width"`
		Height    int             `json:"height"`
		Duration  string          `json:"duration"`
		SideData  []probeSideData `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

type probeSideData struct {
	Rotation json.Number `json:"rotation"`
}

// probe runs ffprobe on the file at path, read as format ("mp4" or
// "webm"). A file ffprobe cannot read is EINVALID with its reason.
func probe(ctx context.Context, tools Tools, path, format string) (videoInfo, error) {
	out, err := runTool(ctx, tools.FFprobe, "-v", "error", "-protocol_whitelist", "file",
		"-f", format, "-i", "file:"+path,
		"-show_entries", "format=duration:stream=codec_type,codec_name,width,height,duration:stream_side_data=rotation",
		"-of", "json")
	if err != nil {
		return videoInfo{}, toolError(err, path, "the "+formats[format].name+" video is damaged and cannot be read")
	}
	var p probeJSON
	if err := json.Unmarshal(out, &p); err != nil {
		return videoInfo{}, fmt.Errorf("media: reading ffprobe output: %w", err)
	}
	var info videoInfo
	seconds := parseSeconds(p.Format.Duration)
	seenVideo := false
	for _, s := range p.Streams {
		switch {
		case s.CodecType == "video" && !seenVideo:
			seenVideo = true
			info.width, info.height, info.videoCodec = s.Width, s.Height, s.CodecName
			for _, sd := range s.SideData {
				if r, err := sd.Rotation.Float64(); err == nil {
					info.rotation = int(math.Round(r))
				}
			}
			if seconds < 0 {
				seconds = parseSeconds(s.Duration)
			}
		case s.CodecType == "audio" && info.audioCodec == "":
			info.audioCodec = s.CodecName
		}
	}
	if !seenVideo {
		return videoInfo{}, &jokster.Error{Code: jokster.EINVALID, Message: "the video has no picture"}
	}
	if seconds < 0 {
		return videoInfo{}, &jokster.Error{Code: jokster.EINVALID, Message: "the video's length cannot be read"}
	}
	info.durationMS = int(math.Round(seconds * 1000))
	return info, nil
}

// inspectVideo probes the upload at path and checks it against lim.
func inspectVideo(ctx context.Context, tools Tools, path, format string, lim UploadLimits) (videoInfo, error) {
	info, err := probe(ctx, tools, path, format)
	if err != nil {
		return info, err
	}
	if w, h := info.width, info.height; w <= 0 || h <= 0 {
		return info, &jokster.Error{Code: jokster.EINVALID, Message: "the video's picture has no size"}
	} else if int64(w) > lim.MaxPixels || int64(h) > lim.MaxPixels || int64(w)*int64(h) > lim.MaxPixels {
		return info, &jokster.Error{Code: jokster.ETOOLARGE, Message: fmt.Sprintf(
			"the video is %d×%d pixels; at most %s megapixels are allowed", w, h, megapixels(lim.MaxPixels))}
	}
	if s := float64(info.durationMS) / 1000; s > lim.MaxVideoSeconds {
		return info, &jokster.Error{Code: jokster.ETOOLARGE, Message: fmt.Sprintf(
			"the video is %s seconds long; at most %s seconds are allowed", seconds(s), seconds(lim.MaxVideoSeconds))}
	}
	name := formats[format].name
	if !videoCodecs[format][info.videoCodec] {
		return info, &jokster.Error{Code: jokster.EUNSUPPORTED, Message: fmt.Sprintf(
			"the video's picture is coded as %s, which browsers cannot play in %s; use %s",
			orUnknown(info.videoCodec), name, codecList(videoCodecs[format]))}
	}
	if info.audioCodec != "" && !audioCodecs[format][info.audioCodec] {
		return info, &jokster.Error{Code: jokster.EUNSUPPORTED, Message: fmt.Sprintf(
			"the video's sound is coded as %s, which browsers cannot play in %s; use %s",
			orUnknown(info.audioCodec), name, codecList(audioCodecs[format]))}
	}
	return info, nil
}

// runTool runs a tool with args and returns its stdout. ctx (or
// ToolTimeout, when ctx has no deadline) bounds the run.
func runTool(ctx context.Context, bin string, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ToolTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	stdout := &limitedBuffer{limit: maxToolOutput}
	stderr := &limitedBuffer{limit: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("media: %s: %w", bin, ctx.Err())
	}
	if stdout.over {
		return nil, fmt.Errorf("media: %s wrote more than %d bytes", bin, maxToolOutput)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, &toolFailure{err: err, stderr: stderr.String()}
		}
		return nil, fmt.Errorf("media: running %s: %w", bin, err)
	}
	return stdout.Bytes(), nil
}

// toolFailure is a tool that ran and failed (non-zero exit).
type toolFailure struct {
	err    error
	stderr string
}

func (f *toolFailure) Error() string { return f.err.Error() + ": " + f.stderr }

// toolError turns the failure of a tool on the file at path into an
// EINVALID with the tool's reason (the path left out); other errors (the
// context, a tool that could not start) pass unchanged.
func toolError(err error, path, what string) error {
	var tf *toolFailure
	if !errors.As(err, &tf) {
		return err
	}
	reason := summarise(tf.stderr, path)
	if reason == "" {
		return &jokster.Error{Code: jokster.EINVALID, Message: what}
	}
	return &jokster.Error{Code: jokster.EINVALID, Message: what + " (" + reason + ")"}
}

var logPrefix = regexp.MustCompile(`^\[[^\]]*@ 0x[0-9a-f]+\] *`)

// summarise shortens a tool's stderr to a reason that can be shown: its
// distinct lines without log prefixes and without the file's name, joined,
// at most 200 bytes.
func summarise(stderr, path string) string {
	var parts []string
	seen := map[string]bool{}
	for _, line := range strings.Split(stderr, "\n") {
		line = logPrefix.ReplaceAllString(strings.TrimSpace(line), "")
		line = strings.ReplaceAll(line, "file:"+path+": ", "")
		line = strings.ReplaceAll(line, "file:"+path, "the file")
		line = strings.ReplaceAll(line, path, "the file")
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		parts = append(parts, line)
	}
	s := strings.Join(parts, "; ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// limitedBuffer keeps the first limit bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// parseSeconds parses ffprobe's seconds; -1 if missing or not a number.
func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return -1
	}
	return f
}

func seconds(s float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(s, 'f', 1, 64), ".0")
}

func orUnknown(codec string) string {
	if codec == "" {
		return "an unknown codec"
	}
	return codec
}

func codecList(m map[string]bool) string {
	names := map[string]string{"h264": "H.264", "hevc": "H.265", "av1": "AV1", "vp9": "VP9", "vp8": "VP8",
		"aac": "AAC", "mp3": "MP3", "opus": "Opus", "flac": "FLAC", "alac": "ALAC", "ac3": "AC-3",
		"eac3": "E-AC-3", "vorbis": "Vorbis"}
	order := []string{"h264", "hevc", "vp8", "vp9", "av1", "aac", "mp3", "opus", "vorbis", "flac", "alac", "ac3", "eac3"}
	var list []string
	for _, c := range order {
		if m[c] {
			list = append(list, names[c])
		}
	}
	if len(list) < 2 {
		return strings.Join(list, "")
	}
	return strings.Join(list[:len(list)-1], ", ") + " or " + list[len(list)-1]
}
