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

// checkScript returns the milliseconds still to wait, the largest over all
// keys. KEYS: the counter hashes; ARGV: for each key its free failures, then
// (last) the maximum delay in ms.
var checkScript = redis.NewScript(`
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local maxDelay = tonumber(ARGV[#ARGV])
local wait = 0
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'n', 't')
  local n = tonumber(v[1])
  local t = tonumber(v[2])
  local free = tonumber(ARGV[i])
  if n and t and n >= free then
    local delay = math.min(maxDelay, 1000 * 2 ^ (n - free))
    local left = t + delay - ms
    if left > wait then wait = left end
  end
end
return wait
`)

// attemptScript is checkScript and failScript in one step: if no key makes
// the caller wait, it counts the attempt on every key as a failure at once
// and returns 0; else it returns the milliseconds to wait and counts
// nothing. Counting before the password is checked is what keeps a burst
// of parallel guesses to the free attempts: each one sees the others.
// KEYS: the counter hashes; ARGV: each key's free failures, then the
// maximum delay in ms, then the counters' lifetime in ms.
var attemptScript = redis.NewScript(`
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local maxDelay = tonumber(ARGV[#ARGV - 1])
local wait = 0
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'n', 't')
  local n = tonumber(v[1])
  local t = tonumber(v[2])
  local free = tonumber(ARGV[i])
  if n and t and n >= free then
    local delay = math.min(maxDelay, 1000 * 2 ^ (n - free))
    local left = t + delay - ms
    if left > wait then wait = left end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 't', ms)
  redis.call('PEXPIRE', key, ARGV[#ARGV])
end
return 0
`)

// refundScript takes back one counted attempt from each key that has one.
var refundScript = redis.NewScript(`
for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('HGET', key, 'n'))
  if n and n > 0 then redis.call('HINCRBY', key, 'n', -1) end
end
return 0
`)

func (b *Backoff) ttl() int64 { return max(time.Hour, 2*b.max).Milliseconds() }

// Attempt returns how long the caller must wait (and then counts nothing),
// or 0 after counting this attempt as a failure on every key: the caller
// then Resets or Refunds the keys if the attempt succeeds. Unlike Wait
// followed by Fail, concurrent attempts cannot all pass the check before
// any of them is counted.
func (b *Backoff) Attempt(ctx context.Context, ks ...Key) (time.Duration, error) {
	names, args := b.keys(ks)
	ms, err := attemptScript.Run(ctx, b.rdb, names, append(args, b.ttl())...).Int64()
	if err != nil {
		return 0, err
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Refund takes back an attempt counted by Attempt (it was not a failure).
func (b *Backoff) Refund(ctx context.Context, ks ...Key) error {
	names, _ := b.keys(ks)
	return refundScript.Run(ctx, b.rdb, names).Err()
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

// Fail records a failure on every key.
func (b *Backoff) Fail(ctx context.Context, ks ...Key) error {
	for _, k := range ks {
		if err := failScript.Run(ctx, b.rdb, []string{b.prefix + k.Name}, b.ttl()).Err(); err != nil {
			return err
		}
	}
	return nil
}

// Reset forgets the failures of the given keys.
func (b *Backoff) Reset(ctx context.Context, ks ...Key) error {
	names, _ := b.keys(ks)
	return b.rdb.Del(ctx, names...).Err()
}

// Seconds rounds d up to whole seconds, at least 1, for Retry-After.
func Seconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
