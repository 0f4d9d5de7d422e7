// Package ratelimit owns Jokster's rate-limit keys in Redis (the family
// "<prefix>rl:…") and the policies built on them.
package ratelimit

import (
	"context"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backoff throttles repeated failures (log-in attempts) with a growing delay:
// after Free failures on a key, each further attempt must wait 1s, 2s, 4s …
// up to Max since the last failure. A success resets the key. Keys are
// caller-chosen strings such as "acct:alice" or "ip:10.0.0.1"; Free may differ
// per key kind, so it is passed with each key.
type Backoff struct {
	rdb    redis.UniversalClient
	prefix string
	max    time.Duration
}

// NewBackoff returns a Backoff keeping its counters under prefix+"rl:backoff:".
func NewBackoff(rdb redis.UniversalClient, prefix string, max time.Duration) *Backoff {
	// Its own sub-family, apart from Limiter's keys of the same names.
	return &Backoff{rdb: rdb, prefix: prefix + "rl:backoff:", max: max}
}

// Key is one throttled identity and the failures it may have for free.
type Key struct {
	Name string
	Free int
}

// failScript records one failure.
// KEYS[1] the counter hash; ARGV[1] its lifetime in ms after the last failure.
// Fields: n = failures, t = time of the last one in ms (Redis clock, so every
// node agrees).
var failScript = redis.NewScript(`
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 't', ms)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`)

// luaWait defines waitOf(maxDelay): the milliseconds still to wait, the
// largest over KEYS (the counter hashes; ARGV[i] is each key's free
// failures). Attempts in flight (Attempt) count as failures: a burst of
// parallel guesses sees itself and gets no more than the free attempts.
const luaWait = `
local function waitOf(maxDelay)
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  local wait = 0
  for i, key in ipairs(KEYS) do
    local v = redis.call('HMGET', key, 'n', 't')
    local n = tonumber(v[1]) or 0
    local t = tonumber(v[2])
    local f = tonumber(redis.call('GET', key .. ':f')) or 0
    local free = tonumber(ARGV[i])
    if t and n >= free then
      local delay = math.min(maxDelay, 1000 * 2 ^ (n - free))
      local left = t + delay - ms
      if left > wait then wait = left end
    end
    if f > 0 and n + f >= free and wait < 1000 then wait = 1000 end
  end
  return wait
end
`

// checkScript returns waitOf. ARGV: for each key its free failures, then
// (last) the maximum delay in ms.
var checkScript = redis.NewScript(luaWait + `return waitOf(tonumber(ARGV[#ARGV]))`)

// attemptScript returns waitOf, or, when nothing makes the caller wait,
// counts the attempt in flight (on its own key "<key>:f", with a short life
// so that a crashed caller cannot leave it behind) and returns 0. The
// caller then says how the attempt ended: Fail records a failure, Done
// forgets it. The failure record (n, t) is only ever written by Fail, so a
// success behind a busy address (a NAT) neither restarts its delay nor
// prolongs it. ARGV: each key's free failures, then the maximum delay in
// ms, then the in-flight counters' lifetime in ms.
var attemptScript = redis.NewScript(luaWait + `
local wait = waitOf(tonumber(ARGV[#ARGV - 1]))
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key .. ':f')
  redis.call('PEXPIRE', key .. ':f', ARGV[#ARGV])
end
return 0
`)

// doneScript ends attempts in flight: KEYS the counter hashes.
var doneScript = redis.NewScript(`
for _, key in ipairs(KEYS) do
  local f = tonumber(redis.call('GET', key .. ':f'))
  if f and f > 1 then redis.call('DECR', key .. ':f') elseif f then redis.call('DEL', key .. ':f') end
end
return 0
`)

func (b *Backoff) ttl() int64 { return max(time.Hour, 2*b.max).Milliseconds() }

// inFlight bounds how long an attempt counts as in flight (a password
// check takes well under a second).
const inFlight = time.Minute

// Attempt returns how long the caller must wait (and then counts nothing),
// or 0 after counting the attempt in flight on every key; the caller then
// reports the outcome with Fail (wrong password) or Done (anything else),
// and Resets the keys a success clears. Unlike Wait followed by Fail,
// concurrent attempts cannot all pass the check before any of them counts.
func (b *Backoff) Attempt(ctx context.Context, ks ...Key) (time.Duration, error) {
	names, args := b.keys(ks)
	ms, err := attemptScript.Run(ctx, b.rdb, names, append(args, inFlight.Milliseconds())...).Int64()
	if err != nil {
		return 0, err
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Done ends attempts counted by Attempt that were not failures.
func (b *Backoff) Done(ctx context.Context, ks ...Key) error {
	names, _ := b.keys(ks)
	return doneScript.Run(ctx, b.rdb, names).Err()
}

func (b *Backoff) keys(ks []Key) ([]string, []any) {
	names := make([]string, len(ks))
	args := make([]any, 0, len(ks)+1)
	for i, k := range ks {
		names[i] = b.prefix + k.Name
		args = append(args, k.Free)
	}
	return names, append(args, b.max.Milliseconds())
}

// Wait returns how long the caller must wait before trying again (0: go on).
func (b *Backoff) Wait(ctx context.Context, ks ...Key) (time.Duration, error) {
	names, args := b.keys(ks)
	ms, err := checkScript.Run(ctx, b.rdb, names, args...).Int64()
	if err != nil {
		return 0, err
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Fail records a failure on every key (and ends the attempt in flight
// that Attempt counted, if any).
func (b *Backoff) Fail(ctx context.Context, ks ...Key) error {
	for _, k := range ks {
		if err := failScript.Run(ctx, b.rdb, []string{b.prefix + k.Name}, b.ttl()).Err(); err != nil {
			return err
		}
	}
	return b.Done(ctx, ks...)
}

// Reset forgets the failures of the given keys.
func (b *Backoff) Reset(ctx context.Context, ks ...Key) error {
	names, _ := b.keys(ks)
	for _, n := range names[:len(names):len(names)] {
		names = append(names, n+":f")
	}
	return b.rdb.Del(ctx, names...).Err()
}

// Seconds rounds d up to whole seconds, at least 1, for Retry-After.
func Seconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
