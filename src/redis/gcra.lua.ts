/**
 * The Lua of {@link RedisRateLimiter}: GCRA (the "virtual scheduling" form of the leaky bucket)
 * on one key holding the theoretical arrival time (TAT), an integer count of microseconds of
 * Redis's own clock (`TIME`). No client clock enters a decision.
 *
 * With `T` the emission interval (µs per token) and `tau = burst·T`, a request for `n` at
 * server time `now` has its slot at `max(tat, now) + n·T − tau`; it may act at once when that
 * is not after `now`. A key that is absent, or whose TAT is not after `now`, is a full bucket,
 * so the key is set to expire at its TAT: it disappears when the bucket is full again.
 *
 * Every number is an integer below 2⁵³ (microseconds since 1970 are about 1.8·10¹⁵, and the
 * limiter refuses settings whose `tau` passes 10¹⁵ µs), so Lua's doubles hold them exactly.
 * They are written with `%.0f`, since Lua's default formatting of a number would round them.
 *
 * @module
 */

/**
 * Takes, or reserves, `n` tokens.
 *
 * KEYS[1]: the bucket's key. ARGV: `n·T` (µs), `tau` (µs), `maxWait` (µs; `-1`: no limit; `0`:
 * only at once, as `tryTake`), and optionally a 4th, `1`: a grant replies with just `now`.
 *
 * Returns `{granted, wait, tat, now}`: `granted` 1 when the TAT was moved (the slot is the
 * caller's, `wait` µs after `now`), 0 when the wait would pass `maxWait` (nothing changed;
 * `wait` is how long it would have been). `tat` is the TAT the call set (or would have set): the
 * token the give-back script compares. `now` is the server time of the decision. With the 4th
 * argument (`tryTake`, which never waits and never gives back), a grant returns just `now`, an
 * integer: a one-integer reply costs Redis about 0.6 µs less than a table of four (of about
 * 5 µs per call).
 *
 * The write is the cheapest that keeps the key's expiry at the TAT: on a bucket that was full
 * (no key, or a TAT already past) a SET with PX; on a busy one, INCRBY (in place, the integer
 * passed through as the client sent it) and PEXPIRE. Strings from Redis are coerced by Lua's
 * arithmetic, which costs less than `tonumber` calls.
 */
export const TAKE_LUA: string = `
local time = redis.call('TIME')
local now = time[1] * 1000000 + time[2]
local tat = tonumber(redis.call('GET', KEYS[1]))
local full = tat == nil or tat < now
if full then tat = now end
local newTat = tat + ARGV[1]
local wait = newTat - ARGV[2] - now
if wait < 0 then wait = 0 end
if wait > 0 then
  local maxWait = tonumber(ARGV[3])
  if maxWait >= 0 and wait > maxWait then return {0, wait, newTat, now} end
end
local ttl = math.ceil((newTat - now) / 1000)
if full then
  redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', ttl)
else
  redis.call('INCRBY', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if ARGV[4] then return now end
return {1, wait, newTat, now}
`;

/**
 * Gives a reservation back (x/time/rate's CancelAt, by identity rather than by count): moves the
 * TAT back by `n·T` only if it is still exactly the TAT the reservation set. Any later grant
 * moved the TAT on, and its slot was computed on top of this reservation, so then nothing is
 * given back. A give-back that leaves the TAT at or before `now` deletes the key (a full
 * bucket).
 *
 * KEYS[1]: the bucket's key. ARGV: the TAT the reservation set (µs), `n·T` (µs).
 * Returns 1 when the reservation was given back, 0 when not.
 */
export const GIVE_BACK_LUA: string = `
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat ~= tonumber(ARGV[1]) then return 0 end
local time = redis.call('TIME')
local now = time[1] * 1000000 + time[2]
local newTat = tat - ARGV[2]
if newTat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('DECRBY', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil((newTat - now) / 1000))
end
return 1
`;
