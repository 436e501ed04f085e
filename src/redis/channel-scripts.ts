/**
 * The Lua of {@link RedisChannel}: one script per operation, each atomic on Redis, reading time
 * only from Redis's own clock (`TIME`, in milliseconds).
 *
 * Every script gets the same KEYS, all under the channel's hash tag `sluice:{<name>}:`:
 *
 * | # | key | type | holds |
 * |---|---|---|---|
 * | 1 | `meta` | hash | `epoch` (a random id written when the channel is created) and `order` |
 * | 2 | `ready` | list, or sorted set with priorities | ids waiting to be received |
 * | 3 | `items` | hash | id → payload, for every item in the channel or its dead letters: the idempotency index |
 * | 4 | `inflight` | sorted set | id → lease expiry (ms, server time); also delayed nacks |
 * | 5 | `deliveries` | hash | id → times delivered |
 * | 6 | `tokens` | hash | id → fencing token of its current lease (absent: not leased) |
 * | 7 | `dead` | list | ids of dead letters, oldest first |
 * | 8 | `hint:space` | list | wake-up hints for producers waiting for room |
 * | 9 | `hint:items` | list | wake-up hints for consumers waiting for an item |
 * | 10 | `seq` | string | counter: fencing tokens and arrival order |
 * | 11 | `ranks` | hash | priorities only: id → `"<score> <member>"`, to put an item back in its place |
 *
 * Invariants (each script keeps them; the tests check them from outside):
 * 1. An id is in at most one of `ready`, `inflight`, `dead`; it has a payload in `items` exactly
 *    while it is in one of them.
 * 2. Occupancy is `|ready| + |inflight|`, derived on every call and never stored, so nothing a
 *    crashed client fails to do can leak capacity. Dead letters do not count.
 * 3. An id has a token in `tokens` exactly while it is leased (in `inflight`, not delayed);
 *    every lease gets a new token from `seq`, so a holder whose lease was reclaimed cannot
 *    ack, nack or extend the next holder's lease.
 * 4. Hints never outnumber what they announce, as far as the caller's capacity goes: after
 *    each script `|hint:items| <= |ready|` and `|hint:space| <= capacity − occupancy`, topped
 *    up to those counts 64 at a time. A waiter that pops a hint usually finds what it was
 *    told about; when another process took it first, it looks again and waits again.
 * 5. `meta.epoch` never changes while the data lives. Every call states the epoch it knows;
 *    when the hash is gone (a restart without persistence, a flush) or holds another epoch,
 *    the call does nothing and answers LOST, so the loss is reported instead of passing
 *    silently.
 *
 * Replies are arrays whose first element is a code (below). The second is the epoch when the
 * caller sent an empty one (it is learning it), else 0.
 *
 * Numbers handed to `redis.call` are formatted by Lua with 14 significant digits: times in ms
 * (13 digits) and counters stay exact; the priority member is formatted with `%016d`.
 *
 * @module
 */
import { Script } from './connection.js';

/** Reply codes shared by the scripts. */
export const LOST = -1;
export const ORDER_MISMATCH = -2;
export const SENT = 1;
export const DUPLICATE = 2;
export const EVICTED = 3;
export const FULL = 4;
export const GOT = 5;
export const EMPTY = 6;

/** The key suffixes, in KEYS order. */
export const KEY_NAMES: readonly string[] = [
  'meta',
  'ready',
  'items',
  'inflight',
  'deliveries',
  'tokens',
  'dead',
  'hint:space',
  'hint:items',
  'seq',
  'ranks',
];

/**
 * Shared by every script. ARGV[1] the epoch the caller knows (`''`: none yet), ARGV[2] a fresh
 * epoch to create the channel with (`''`: this call must not create it), ARGV[3] the order
 * (`fifo` or `priority`), ARGV[4] the caller's capacity.
 */
const PRELUDE = `
local META, READY, ITEMS, INFLIGHT, DELIV, TOKENS, DEAD, SPACE, AVAIL, SEQ, RANKS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local FIFO = ARGV[3] == 'fifo'
local CAPACITY = tonumber(ARGV[4])

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The epoch check of invariant 5. Returns the epoch to report (0 when the caller knew it),
-- or nil and an error reply.
local function open_channel()
  local epoch = redis.call('HGET', META, 'epoch')
  local known = ARGV[1]
  if not epoch then
    if known ~= '' or ARGV[2] == '' then return nil, {${LOST}, 0} end
    redis.call('HSET', META, 'epoch', ARGV[2], 'order', ARGV[3])
    return ARGV[2]
  end
  if known ~= '' and epoch ~= known then return nil, {${LOST}, epoch} end
  local order = redis.call('HGET', META, 'order')
  if order ~= ARGV[3] then return nil, {${ORDER_MISMATCH}, order or ''} end
  if known == '' then return epoch end
  return 0
end

local function ready_count()
  if FIFO then return redis.call('LLEN', READY) end
  return redis.call('ZCARD', READY)
end

-- Takes the next ready id (or false).
local function take_ready()
  if FIFO then return redis.call('LPOP', READY) end
  local popped = redis.call('ZPOPMIN', READY)
  if popped[1] == nil then return false end
  return string.sub(popped[1], 17)
end

-- Puts a returned id back where it was: the head of the list, or its old place by priority.
local function return_ready(id)
  if FIFO then
    redis.call('LPUSH', READY, id)
  else
    local rank = redis.call('HGET', RANKS, id)
    local space = string.find(rank, ' ', 1, true)
    redis.call('ZADD', READY, string.sub(rank, 1, space - 1), string.sub(rank, space + 1))
  end
end

-- Adds an id at the tail (FIFO) or by its score, FIFO among equal scores.
local function add_ready(id, score)
  if FIFO then
    redis.call('RPUSH', READY, id)
  else
    local member = string.format('%016d', redis.call('INCR', SEQ)) .. id
    redis.call('ZADD', READY, score, member)
    redis.call('HSET', RANKS, id, score .. ' ' .. member)
  end
end

-- Removes every trace of an id.
local function forget(id)
  redis.call('HDEL', ITEMS, id)
  redis.call('HDEL', DELIV, id)
  redis.call('HDEL', TOKENS, id)
  if not FIFO then redis.call('HDEL', RANKS, id) end
end

local function sync_hints(key, want)
  local have = redis.call('LLEN', key)
  if have < want then
    local n = math.min(want - have, 64)
    local ones = {}
    for i = 1, n do ones[i] = '1' end
    redis.call('RPUSH', key, unpack(ones))
  elseif have > want then
    if want <= 0 then redis.call('DEL', key) else redis.call('LTRIM', key, 0, want - 1) end
  end
end

-- Invariant 4, after every change.
local function sync()
  local ready = ready_count()
  sync_hints(AVAIL, ready)
  sync_hints(SPACE, CAPACITY - ready - redis.call('ZCARD', INFLIGHT))
end

-- Moves expired leases and due delayed items back to ready, or to the dead letters once an
-- expired lease was the item's max_deliveries-th delivery. At most 100 per call.
local function reclaim(now, max_deliveries)
  local due = redis.call('ZRANGEBYSCORE', INFLIGHT, '-inf', now, 'LIMIT', 0, 100)
  for i = #due, 1, -1 do
    local id = due[i]
    redis.call('ZREM', INFLIGHT, id)
    local leased = redis.call('HDEL', TOKENS, id)
    if leased == 1 and tonumber(redis.call('HGET', DELIV, id) or '0') >= max_deliveries then
      redis.call('RPUSH', DEAD, id)
    else
      return_ready(id)
    end
  end
  return #due
end
`;

/**
 * Sends one item. ARGV[5] policy, ARGV[6] id, ARGV[7] payload, ARGV[8] score (priorities:
 * minus the priority). Returns `{SENT, e}`, `{DUPLICATE, e}` (an item with this id is in the
 * channel or its dead letters: nothing changed), `{EVICTED, e, id, payload}` (drop-oldest
 * made room by evicting the oldest ready item), or `{FULL, e}` (nothing changed; under
 * drop-oldest when every item is in flight).
 */
export const SEND: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
local id = ARGV[6]
if redis.call('HEXISTS', ITEMS, id) == 1 then return {${DUPLICATE}, epoch} end
local evicted, evicted_payload = false, false
if ready_count() + redis.call('ZCARD', INFLIGHT) >= CAPACITY then
  if ARGV[5] == 'drop-oldest' and ready_count() > 0 then
    evicted = take_ready()
    evicted_payload = redis.call('HGET', ITEMS, evicted)
    forget(evicted)
  else
    sync()
    return {${FULL}, epoch}
  end
end
redis.call('HSET', ITEMS, id, ARGV[7])
add_ready(id, ARGV[8])
sync()
if evicted then return {${EVICTED}, epoch, evicted, evicted_payload} end
return {${SENT}, epoch}
`);

/**
 * Receives one item: reclaims due leases first, then leases the next ready item.
 * ARGV[5] lease (ms), ARGV[6] maxDeliveries. Returns `{GOT, e, id, payload, token,
 * deliveries}`, or `{EMPTY, e, wait}` where `wait` is the ms until the earliest lease or
 * delay ends (-1: nothing in flight), so an idle consumer knows when to look again.
 */
export const RECEIVE: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
local now = now_ms()
reclaim(now, tonumber(ARGV[6]))
local id = take_ready()
if not id then
  sync()
  local first = redis.call('ZRANGE', INFLIGHT, 0, 0, 'WITHSCORES')
  local wait = -1
  if first[2] then wait = math.max(0, tonumber(first[2]) - now) end
  return {${EMPTY}, epoch, wait}
end
local deliveries = redis.call('HINCRBY', DELIV, id, 1)
local token = redis.call('INCR', SEQ)
redis.call('HSET', TOKENS, id, token)
redis.call('ZADD', INFLIGHT, now + tonumber(ARGV[5]), id)
sync()
return {${GOT}, epoch, id, redis.call('HGET', ITEMS, id), token, deliveries}
`);

/**
 * Acknowledges a delivery: the item leaves the channel. ARGV[5] id, ARGV[6] token. Returns
 * `{1}`, or `{0}` when the token is not the id's current lease (reclaimed, redelivered,
 * already settled): then nothing changes.
 */
export const ACK: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
local id = ARGV[5]
if redis.call('HGET', TOKENS, id) ~= ARGV[6] then return {0} end
redis.call('ZREM', INFLIGHT, id)
forget(id)
sync()
return {1}
`);

/**
 * Gives a delivery back. ARGV[5] id, ARGV[6] token, ARGV[7] delay (ms), ARGV[8]
 * maxDeliveries, ARGV[9] mode: `nack` (back to ready, after the delay if any; a dead letter
 * once delivered maxDeliveries times), `release` (back to ready, the delivery uncounted: a
 * receive that was cancelled), `bury` (straight to the dead letters: undecodable). Returns
 * `{1, where}` (1 ready, 2 dead, 3 delayed), or `{0}` for a stale token (nothing changes).
 */
export const GIVE_BACK: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
local id = ARGV[5]
if redis.call('HGET', TOKENS, id) ~= ARGV[6] then return {0} end
redis.call('HDEL', TOKENS, id)
local mode = ARGV[9]
local deliveries = tonumber(redis.call('HGET', DELIV, id) or '0')
if mode == 'bury' or (mode == 'nack' and deliveries >= tonumber(ARGV[8])) then
  redis.call('ZREM', INFLIGHT, id)
  redis.call('RPUSH', DEAD, id)
  sync()
  return {1, 2}
end
if mode == 'release' then redis.call('HINCRBY', DELIV, id, -1) end
local delay = tonumber(ARGV[7])
if delay > 0 then
  redis.call('ZADD', INFLIGHT, now_ms() + delay, id)
  return {1, 3}
end
redis.call('ZREM', INFLIGHT, id)
return_ready(id)
sync()
return {1, 1}
`);

/**
 * Extends leases to `now + ms`. ARGV[5] ms, then pairs of id and token from ARGV[6]. Returns
 * `{code, e, r1, r2, …}`: 1 for each lease extended, 0 for each stale token.
 */
export const EXTEND: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
local expiry = now_ms() + tonumber(ARGV[5])
local out = {${SENT}, epoch}
for i = 6, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', TOKENS, id) == ARGV[i + 1] then
    redis.call('ZADD', INFLIGHT, 'XX', expiry, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`);

/** Counts. Returns `{SENT, e, ready, inflight, leased, dead}`. Changes nothing but the epoch. */
export const STATS: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
return {${SENT}, epoch, ready_count(), redis.call('ZCARD', INFLIGHT), redis.call('HLEN', TOKENS),
  redis.call('LLEN', DEAD)}
`);

/**
 * Lists dead letters, oldest first. ARGV[5] start, ARGV[6] count. Returns `{SENT, e, id1,
 * payload1, deliveries1, …}`.
 */
export const DEAD_LIST: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
local start = tonumber(ARGV[5])
local ids = redis.call('LRANGE', DEAD, start, start + tonumber(ARGV[6]) - 1)
local out = {${SENT}, epoch}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', ITEMS, id) or ''
  out[#out + 1] = tonumber(redis.call('HGET', DELIV, id) or '0')
end
return out
`);

/**
 * Requeues (ARGV[6] = `requeue`) or deletes (`delete`) the dead letter ARGV[5]. A requeued item
 * goes to the tail of ready (its place by priority) with its delivery count reset, if there is
 * room. Returns `{SENT, e, r}`: r = 1 done, 0 no such dead letter, 2 full (nothing changed).
 */
export const DEAD_MOVE: Script = new Script(`${PRELUDE}
local epoch, failure = open_channel()
if not epoch then return failure end
local id = ARGV[5]
if not redis.call('LPOS', DEAD, id) then return {${SENT}, epoch, 0} end
if ARGV[6] == 'requeue' then
  if ready_count() + redis.call('ZCARD', INFLIGHT) >= CAPACITY then return {${SENT}, epoch, 2} end
  redis.call('LREM', DEAD, 1, id)
  redis.call('HDEL', DELIV, id)
  if FIFO then redis.call('RPUSH', READY, id) else return_ready(id) end
else
  redis.call('LREM', DEAD, 1, id)
  forget(id)
end
sync()
return {${SENT}, epoch, 1}
`);

/** Leaves one wake-up token in KEYS[1] (at most one, expiring) to end a blocked BLPOP early. */
export const WAKE: Script = new Script(`
redis.call('LPUSH', KEYS[1], '1')
redis.call('LTRIM', KEYS[1], 0, 0)
redis.call('PEXPIRE', KEYS[1], 60000)
return 1
`);
