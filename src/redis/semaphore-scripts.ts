/**
 * The Lua scripts of {@link RedisSemaphore}: one per operation, each atomic, each reading the
 * time from Redis (`TIME`, integer microseconds) and never from a client.
 *
 * Keys (one hash tag, so all of them live in one Cluster slot):
 *   KEYS[1] `sluice:{name}:holders`  sorted set: lease id → lease end (server µs)
 *   KEYS[2] `sluice:{name}:queue`    sorted set: ticket id → arrival number (FIFO order)
 *   KEYS[3] `sluice:{name}:owners`   sorted set: owner (one per RedisSemaphore object) → end of
 *                                    its waiters' liveness (server µs)
 *   KEYS[4] `sluice:{name}:seq`      counter: arrival numbers and fencing tokens
 *   `sluice:{name}:wake:<owner>`     list: wake-up hints for one owner's BLPOP loop. Built in
 *                                    the script from ARGV[5] (the owner to wake is only known
 *                                    there); it shares the hash tag, so it is in the same slot.
 *
 * Common arguments: ARGV[1] capacity, ARGV[2] the caller's owner id, ARGV[3] the caller's
 * liveness in µs (0: it has no waiters), ARGV[4] the lease in µs for grants, ARGV[5] the wake key
 * prefix; the operation's own arguments follow.
 *
 * Every script first (1) drops expired leases and dead owners, then does its own change, then
 * (2) settles: walks the queue from its head, drops tickets of dead owners, grants the caller's
 * tickets among the first `free` live ones, and — if anything was freed — pushes one hint to
 * every other owner with a ticket among them. Tickets are granted only to their own owner, so
 * a grant is always answered to the process that will use it.
 *
 * Every script replies `{status, wakeInUs, grants, wasAlive}`: `wakeInUs` is the time until the
 * earliest lease ends (-1: none), `grants` the caller's granted `id, token` pairs, `wasAlive`
 * whether the caller's owner entry was alive before this call (its tickets were kept).
 */
import { Script } from './connection.js';

const PRELUDE = `
local holders, queue, owners, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local capacity = tonumber(ARGV[1])
local me = ARGV[2]
local ownerTtl = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local wakePrefix = ARGV[5]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local changed = redis.call('ZREMRANGEBYSCORE', holders, '-inf', now) > 0
redis.call('ZREMRANGEBYSCORE', owners, '-inf', now)
local wasAlive = redis.call('ZSCORE', owners, me) and 1 or 0
if ownerTtl > 0 then
  redis.call('ZADD', owners, now + ownerTtl, me)
else
  redis.call('ZREM', owners, me)
end

local function ownerOf(id)
  return string.match(id, '^[^:]*')
end

local function grant(id)
  local token = redis.call('INCR', seq)
  redis.call('ZADD', holders, now + lease, id)
  return token
end

local function wake(owner, untilUs)
  local key = wakePrefix .. owner
  if redis.call('LLEN', key) == 0 then
    redis.call('RPUSH', key, '1')
  end
  redis.call('PEXPIRE', key, math.max(1, math.ceil((untilUs - now) / 1000)))
end

local function settle()
  local grants, others = {}, {}
  local free = capacity - redis.call('ZCARD', holders)
  local found, index = 0, 0
  while found < free do
    local batch = redis.call('ZRANGE', queue, index, index + free - found - 1)
    if #batch == 0 then
      break
    end
    for _, id in ipairs(batch) do
      local owner = ownerOf(id)
      local alive = redis.call('ZSCORE', owners, owner)
      if not alive then
        redis.call('ZREM', queue, id)
        changed = true
      elseif owner == me then
        redis.call('ZREM', queue, id)
        grants[#grants + 1] = id
        grants[#grants + 1] = grant(id)
        found = found + 1
      else
        others[#others + 1] = owner
        others[#others + 1] = alive
        found = found + 1
        index = index + 1
      end
    end
  end
  if changed then
    for i = 1, #others, 2 do
      wake(others[i], tonumber(others[i + 1]))
    end
  end
  return grants, math.max(0, free - found)
end

local function wakeIn()
  local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
  if first[2] == nil then
    return -1
  end
  return tonumber(first[2]) - now
end
`;

/**
 * ARGV[6] mode, ARGV[7] id. `try`: a lease for `id` if a slot is free beyond every live ticket
 * (it never jumps the queue). `join`: the same, or else a ticket for `id` at the tail; status is
 * its arrival number. `wait`: only settles (the BLPOP loop after a wake-up or a timeout). An id
 * that already holds a lease or a ticket is left where it is (a re-join keeps its place).
 */
export const ACQUIRE: Script = new Script(`${PRELUDE}
local mode, id = ARGV[6], ARGV[7]
local grants, spare = settle()
local status = 0
if mode ~= 'wait' and not redis.call('ZSCORE', holders, id) and not redis.call('ZSCORE', queue, id) then
  if spare > 0 then
    grants[#grants + 1] = id
    grants[#grants + 1] = grant(id)
  elseif mode == 'join' then
    status = redis.call('INCR', seq)
    redis.call('ZADD', queue, status, id)
  end
end
return {status, wakeIn(), grants, wasAlive}
`);

/** ARGV[6..] ids: removes their leases and tickets. Status: how many leases were removed. */
export const DROP: Script = new Script(`${PRELUDE}
local removed = 0
for i = 6, #ARGV do
  if redis.call('ZREM', holders, ARGV[i]) == 1 then
    removed = removed + 1
    changed = true
  end
  if redis.call('ZREM', queue, ARGV[i]) == 1 then
    changed = true
  end
end
local grants = settle()
return {removed, wakeIn(), grants, wasAlive}
`);

/**
 * ARGV[6] µs, ARGV[7..] ids: each live lease ends no sooner than µs from now. Status: one flag
 * per id, 1 if its lease was live.
 */
export const EXTEND: Script = new Script(`${PRELUDE}
local us = tonumber(ARGV[6])
local alive = {}
for i = 7, #ARGV do
  if redis.call('ZSCORE', holders, ARGV[i]) then
    redis.call('ZADD', holders, 'GT', now + us, ARGV[i])
    alive[#alive + 1] = 1
  else
    alive[#alive + 1] = 0
  end
end
local grants = settle()
return {alive, wakeIn(), grants, wasAlive}
`);

/** Drops every dead ticket, settles, and reports `{holders, waiting}`. */
export const STATS: Script = new Script(`${PRELUDE}
local ids = redis.call('ZRANGE', queue, 0, -1)
for _, id in ipairs(ids) do
  if not redis.call('ZSCORE', owners, ownerOf(id)) then
    redis.call('ZREM', queue, id)
    changed = true
  end
end
local grants = settle()
return {{redis.call('ZCARD', holders), redis.call('ZCARD', queue)}, wakeIn(), grants, wasAlive}
`);
