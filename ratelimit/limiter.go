package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rule is a rate: Rate requests per Per, of which Burst may come at once.
// After a burst the bucket refills by one request every Per/Rate. Rate 0
// means unlimited; Burst 0 means Burst = Rate.
type Rule struct {
	Rate  int
	Per   time.Duration
	Burst int
}

// Unlimited reports whether the rule lets everything through.
func (r Rule) Unlimited() bool { return r.Rate <= 0 }

func (r Rule) burst() int {
	if r.Burst <= 0 {
		return r.Rate
	}
	return r.Burst
}

// units are the period names ParseRule accepts after the slash.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

// ParseRule reads a rule as written in settings: "30/h", "30/h burst 10",
// "5/m", "100/s", "10/30s" (any Go duration after the slash), and "0" for
// unlimited. Units: s, m, h, d (also sec, min, minute, hour, day).
func ParseRule(s string) (Rule, error) {
	f := strings.Fields(strings.ToLower(s))
	bad := func(why string) (Rule, error) {
		return Rule{}, fmt.Errorf("rate %q: %s (write e.g. \"30/h\", \"30/h burst 10\" or \"0\" for unlimited)", s, why)
	}
	if len(f) == 1 && (f[0] == "0" || f[0] == "unlimited" || f[0] == "off") {
		return Rule{}, nil
	}
	if len(f) != 1 && len(f) != 3 {
		return bad("not a rate")
	}
	n, unit, ok := strings.Cut(f[0], "/")
	if !ok {
		return bad("missing /period")
	}
	rate, err := strconv.Atoi(n)
	if err != nil || rate < 0 {
		return bad("the count must be a whole number ≥ 0")
	}
	per, ok := units[unit]
	if !ok {
		if per, err = time.ParseDuration(unit); err != nil || per <= 0 {
			return bad("unknown period " + strconv.Quote(unit))
		}
	}
	r := Rule{Rate: rate, Per: per}
	if len(f) == 3 {
		if f[1] != "burst" {
			return bad("expected \"burst N\" after the rate")
		}
		if r.Burst, err = strconv.Atoi(f[2]); err != nil || r.Burst < 1 {
			return bad("the burst must be a whole number ≥ 1")
		}
	}
	if rate == 0 {
		return Rule{}, nil
	}
	if per/time.Duration(rate) < time.Microsecond {
		return bad("faster than one request per microsecond")
	}
	return r, nil
}

// String writes the rule the way ParseRule reads it.
func (r Rule) String() string {
	if r.Unlimited() {
		return "0"
	}
	per := r.Per.String()
	for name, d := range map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour} {
		if r.Per == d {
			per = name
		}
	}
	s := strconv.Itoa(r.Rate) + "/" + per
	if r.Burst > 0 {
		s += " burst " + strconv.Itoa(r.Burst)
	}
	return s
}

// UnmarshalText lets configuration parse rules straight from the
// environment.
func (r *Rule) UnmarshalText(b []byte) error {
	v, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText is the inverse of UnmarshalText.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Result is the outcome of one Allow.
type Result struct {
	Allowed bool
	// Remaining is how many more requests would be allowed right now (-1
	// for an unlimited rule).
	Remaining int
	// RetryAfter is how long to wait before the next request is allowed
	// (0 when Allowed).
	RetryAfter time.Duration
}

// Limiter applies Rules to keys with the generic cell rate algorithm
// (GCRA): per key Redis keeps one number, the "theoretical arrival time",
// so a limit costs one small string key that expires once the bucket is
// full again. Every node shares the keys and Redis's clock.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewLimiter returns a Limiter keeping its keys under prefix+"rl:" (the
// same family as Backoff; callers choose distinct key names, such as
// "upload:u:42" or "login:ip:10.0.0.1").
func NewLimiter(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix + "rl:"}
}

// gcraScript takes one request from a GCRA bucket. It is a port of the
// script of github.com/go-redis/redis_rate (MIT licence, © The github.com/
// go-redis/redis_rate Authors) working in integer microseconds of Redis's
// own clock, with our key prefix chosen by the caller.
//
// KEYS[1] the bucket: a string holding the theoretical arrival time (TAT)
// in µs since the epoch; ARGV[1] the period in µs, ARGV[2] the rate (requests
// per period), ARGV[3] the burst. Returns {allowed 0|1, remaining, retry
// after in µs}.
var gcraScript = redis.NewScript(`
local period = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local interval = period / rate
local burst_offset = interval * burst

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end

local new_tat = tat + interval
local allow_at = new_tat - burst_offset
local diff = now - allow_at
if diff < 0 then
  return {0, 0, math.ceil(-diff)}
end

local ttl = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], math.ceil(new_tat), 'PX', math.max(ttl, 1))
return {1, math.floor(diff / interval), 0}
`)

// Allow takes one request from the bucket of key under rule r.
func (l *Limiter) Allow(ctx context.Context, key string, r Rule) (Result, error) {
	if r.Unlimited() {
		return Result{Allowed: true, Remaining: -1}, nil
	}
	if r.Per <= 0 {
		return Result{}, fmt.Errorf("ratelimit: rule %v has no period", r)
	}
	v, err := gcraScript.Run(ctx, l.rdb, []string{l.prefix + key}, r.Per.Microseconds(), r.Rate, r.burst()).Int64Slice()
	if err != nil {
		return Result{}, err
	}
	if len(v) != 3 {
		return Result{}, fmt.Errorf("ratelimit: unexpected script reply %v", v)
	}
	return Result{Allowed: v[0] == 1, Remaining: int(v[1]), RetryAfter: time.Duration(v[2]) * time.Microsecond}, nil
}
