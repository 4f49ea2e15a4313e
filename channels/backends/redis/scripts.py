"""The Lua scripts that make each Redis operation atomic.

Storage layout (``P`` is the backend's PREFIX, every key carries a TTL):

``P q:<inbox>`` (list)
    the messages of one channel, or of every ``<inbox>suffix`` channel of a
    process inbox. Each element is ``<expires_at_ms>:<channel>:<payload>``;
    ``<channel>`` is empty for a plain channel (the key names it) and the
    full ``name!suffix`` for a process-local one, so the inbox receiver knows
    whom a message is for. Channel names never hold ``:``.
``P n:<inbox>`` (hash, process inboxes only)
    full channel name -> messages waiting, so that every reply channel of a
    process has its own capacity although they share one list. A plain
    channel's count is simply the length of its list.
``P g:<group>`` (sorted set)
    member channel -> membership expiry (ms).
``P w:<token>`` (list)
    short-lived wake-up keys of a multi-shard blocking receive.
``P h:<id>`` (string)
    a worker's or interface server's heartbeat record, expiring by itself.

Times are milliseconds of the sender's clock (``time.time()``), passed in as
arguments rather than read with ``TIME`` inside the scripts, so the scripts
stay deterministic on every Redis version.

Scripts touch keys they derive from the PREFIX (the group fan-out cannot
name its members' keys in advance); on a Redis Cluster every key a script
touches shares one hash tag, so one slot (see :class:`.keys.KeyLayout`).
"""

from __future__ import annotations

import hashlib

# Shared helpers, prepended to every script that needs them.
_LIB = """
local function parse(e)
  local c1 = string.find(e, ':', 1, true)
  local c2 = string.find(e, ':', c1 + 1, true)
  return tonumber(string.sub(e, 1, c1 - 1)), string.sub(e, c1 + 1, c2 - 1)
end

local function uncount(nkey, ch)
  if redis.call('hincrby', nkey, ch, -1) <= 0 then
    redis.call('hdel', nkey, ch)
  end
end

-- Drop expired messages from the head of a list, fixing the counters of
-- process-local channels as they go.
local function purge(qkey, nkey, now)
  while true do
    local head = redis.call('lindex', qkey, 0)
    if not head then return end
    local exp, ch = parse(head)
    if exp > now then return end
    redis.call('lpop', qkey)
    if ch ~= '' then uncount(nkey, ch) end
  end
end

local function waiting(qkey, nkey, ch)
  if ch == '' then return redis.call('llen', qkey) end
  return tonumber(redis.call('hget', nkey, ch) or 0)
end

-- Append one element unless the channel is at capacity; 1 if sent, 0 if full.
local function push(qkey, nkey, ch, cap, now, element, ttl)
  if waiting(qkey, nkey, ch) >= cap then
    purge(qkey, nkey, now)
    if waiting(qkey, nkey, ch) >= cap then return 0 end
  end
  redis.call('rpush', qkey, element)
  redis.call('pexpire', qkey, ttl)
  if ch ~= '' then
    redis.call('hincrby', nkey, ch, 1)
    redis.call('pexpire', nkey, ttl)
  end
  return 1
end

-- Pop the first live message of the first non-empty list among keys
-- (list, count hash) pairs from index first on, dropping expired ones on
-- the way; returns {pair number counted from first (1-based), element} or nil.
local function pop_first(keys, first, now)
  for i = first, #keys, 2 do
    while true do
      local e = redis.call('lpop', keys[i])
      if not e then break end
      local exp, ch = parse(e)
      if ch ~= '' then uncount(keys[i + 1], ch) end
      if exp > now then return {(i - first) / 2 + 1, e} end
    end
  end
  return nil
end

-- Run cmd on key with the items of list, 1,000 at a time (Lua's unpack
-- has a stack limit); returns the concatenated replies of list-valued ones.
local function bulk(cmd, key, list)
  local out = {}
  for i = 1, #list, 1000 do
    local reply = redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
    if type(reply) == 'table' then
      for _, v in ipairs(reply) do out[#out + 1] = v end
    end
  end
  return out
end

-- Send one payload to many channels; returns {sent, skipped}. A member's
-- keys are qprefix/nprefix .. inbox .. close (close ends a cluster hash
-- tag, else empty). Members are
-- grouped by list so each inbox and its count hash is touched a handful of
-- times, not five times per member: 1,000 reply channels of one process
-- cost one HMGET, one RPUSH, one HSET.
local function fan_out(members, caps, qprefix, nprefix, close, now, exp, ttl, payload)
  local sent, skipped = 0, 0
  local order, lists = {}, {}
  for i, ch in ipairs(members) do
    local bang = string.find(ch, '!', 1, true)
    local inbox, tag = ch, ''
    if bang then
      inbox = string.sub(ch, 1, bang)
      tag = ch
    end
    local l = lists[inbox]
    if not l then
      l = {tags = {}, caps = {}}
      lists[inbox] = l
      order[#order + 1] = inbox
    end
    l.tags[#l.tags + 1] = tag
    l.caps[#l.caps + 1] = caps[i]
  end
  for _, inbox in ipairs(order) do
    local l = lists[inbox]
    local qkey, nkey = qprefix .. inbox .. close, nprefix .. inbox .. close
    if l.tags[1] == '' then
      -- A plain channel (a member at most once): its length is its count.
      if push(qkey, nkey, '', l.caps[1], now, exp .. '::' .. payload, ttl) == 1 then
        sent = sent + 1
      else
        skipped = skipped + 1
      end
    else
      local counts = bulk('hmget', nkey, l.tags)
      for j = 1, #l.tags do
        if (tonumber(counts[j]) or 0) >= l.caps[j] then
          purge(qkey, nkey, now)
          counts = bulk('hmget', nkey, l.tags)
          break
        end
      end
      local elements, updates = {}, {}
      for j, tag in ipairs(l.tags) do
        local n = tonumber(counts[j]) or 0
        if n < l.caps[j] then
          elements[#elements + 1] = exp .. ':' .. tag .. ':' .. payload
          updates[#updates + 1] = tag
          updates[#updates + 1] = n + 1
          sent = sent + 1
        else
          skipped = skipped + 1
        end
      end
      if #elements > 0 then
        bulk('rpush', qkey, elements)
        bulk('hset', nkey, updates)
        redis.call('pexpire', qkey, ttl)
        redis.call('pexpire', nkey, ttl)
      end
    end
  end
  return {sent, skipped}
end
"""

#: KEYS: list, count hash. ARGV: channel ('' if plain), capacity, now,
#: element, ttl. Returns 1 if queued, 0 if the channel is full.
SEND = (
    _LIB
    + """
return push(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5])
"""
)

#: KEYS: list and count hash of each message. ARGV: now, ttl, then channel
#: ('' if plain), capacity and element of each. Sends each message that
#: fits, independently; returns one 1 (sent) or 0 (full) per message. An
#: interface server's batch of sends in one script call instead of one each.
SEND_EACH = (
    _LIB
    + """
local now, ttl, out = tonumber(ARGV[1]), ARGV[2], {}
for i = 1, #KEYS / 2 do
  local a = 3 * i
  local cap = tonumber(ARGV[a + 1])
  out[i] = push(KEYS[2 * i - 1], KEYS[2 * i], ARGV[a], cap, now, ARGV[a + 2], ttl)
end
return out
"""
)

#: KEYS: list1, hash1, list2, hash2, ... ARGV: now. Pops the first live
#: message of the first non-empty list, dropping expired ones on the way.
#: Returns {list number (1-based), element} or false.
POP = (
    _LIB
    + """
return pop_first(KEYS, 1, tonumber(ARGV[1])) or false
"""
)

#: A worker's turn in one round trip. KEYS: list and count hash of each
#: message to send, then list and count hash of each channel to receive
#: from. ARGV: now, number of messages, ttl, then channel ('' if plain),
#: capacity and element of each message. Sends in order and stops at the
#: first full channel; pops (as POP) only if every message went. Returns
#: {sent} or {sent, channel number, element}.
SEND_POP = (
    _LIB
    + """
local now, n, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i = 1, n do
  local a = 3 * i + 1
  local cap = tonumber(ARGV[a + 1])
  if push(KEYS[2 * i - 1], KEYS[2 * i], ARGV[a], cap, now, ARGV[a + 2], ttl) == 0 then
    return {i - 1}
  end
end
local found = pop_first(KEYS, 2 * n + 1, now)
if found then return {n, found[1], found[2]} end
return {n}
"""
)

#: KEYS: inbox list, its count hash. ARGV: now, n, channels... Counts off the
#: channels named (messages a BLPOP took earlier), then pops up to n live
#: messages of one process inbox at once (only the owning process reads an
#: inbox, so it may hold them in memory), counting each off its channel.
POP_BATCH = (
    _LIB
    + """
for i = 3, #ARGV do uncount(KEYS[2], ARGV[i]) end
local now, n, out = tonumber(ARGV[1]), tonumber(ARGV[2]), {}
while #out < n do
  local e = redis.call('lpop', KEYS[1])
  if not e then break end
  local exp, ch = parse(e)
  if ch ~= '' then uncount(KEYS[2], ch) end
  if exp > now then out[#out + 1] = e end
end
return out
"""
)

#: KEYS: count hash. ARGV: channel. Counts off a message that a blocking
#: pop (which cannot run inside a script) took from a process inbox.
ACK = (
    _LIB
    + """
uncount(KEYS[1], ARGV[1])
return 1
"""
)

#: KEYS: count hash. ARGV: channel, change, ttl. Holds (a positive change)
#: or releases (a negative one) capacity of a process-local channel: its
#: count goes up without a message. The hold lapses with the hash's TTL.
HOLD = """
local n = redis.call('hincrby', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then redis.call('hdel', KEYS[1], ARGV[1]) end
redis.call('pexpire', KEYS[1], ARGV[3])
return n
"""

#: KEYS: group. ARGV: channel, expires_at, now, ttl.
GROUP_ADD = """
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[4])
return 1
"""

#: KEYS: group. ARGV: now. Drops expired members, returns the live ones.
GROUP_MEMBERS = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
return redis.call('zrange', KEYS[1], 0, -1)
"""

#: KEYS: group. ARGV: qprefix, nprefix, now, expires_at, ttl, payload,
#: capacity, close. The whole group send in one round trip, when the group and all
#: its members live on one server and every channel has the same capacity.
GROUP_SEND = (
    _LIB
    + """
local now = tonumber(ARGV[3])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
local members = redis.call('zrange', KEYS[1], 0, -1)
local caps = {}
local cap = tonumber(ARGV[7])
for i = 1, #members do caps[i] = cap end
return fan_out(members, caps, ARGV[1], ARGV[2], ARGV[8], now, ARGV[4], ARGV[5], ARGV[6])
"""
)

#: KEYS: the list of one member (to route the call on a cluster, where all
#: members given share its slot). ARGV: qprefix, nprefix, now, expires_at,
#: ttl, payload, close, then channel, capacity pairs. One shard's (or one
#: slot's) part of a group send.
SEND_MANY = (
    _LIB
    + """
local members, caps = {}, {}
for i = 8, #ARGV, 2 do
  members[#members + 1] = ARGV[i]
  caps[#caps + 1] = tonumber(ARGV[i + 1])
end
local now = tonumber(ARGV[3])
return fan_out(members, caps, ARGV[1], ARGV[2], ARGV[7], now, ARGV[4], ARGV[5], ARGV[6])
"""
)


class Script:
    """A Lua script run by its SHA1 (``EVALSHA``), loaded again on NOSCRIPT."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"<Script {self.name}>"


SCRIPTS = {
    name: Script(name, source)
    for name, source in {
        "send": SEND,
        "send_each": SEND_EACH,
        "pop": POP,
        "send_pop": SEND_POP,
        "pop_batch": POP_BATCH,
        "ack": ACK,
        "hold": HOLD,
        "group_add": GROUP_ADD,
        "group_members": GROUP_MEMBERS,
        "group_send": GROUP_SEND,
        "send_many": SEND_MANY,
    }.items()
}
