"""Per-organization call limits in Redis: one Lua script checks and takes both, atomically.

A slot is a member of the sorted set ``limit:calls:<org>`` (the call's ref). It counts
while the call's record (``call:<ref>``, see ``gateway/calls_redis.py``) exists and has
not ended, so a slot never outlives its call: when a process dies, its calls' records
expire and their slots with them. Starts are a sliding log ``limit:rate:<org>`` of
(ref, millisecond) pairs, trimmed to the window on every check. The clock is Redis's
own (``TIME``), so processes whose clocks differ still share one window.
"""

from __future__ import annotations

from gateway.call_limits import Limits, Refusal, concurrency_refusal, rate_refusal
from gateway.redis_link import RedisLink

# KEYS: slots, starts. ARGV: key prefix, ref, max concurrent (0: none), starts allowed
# per window (0: none), window in ms. Returns {verdict, in progress, retry after ms}.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix, ref = ARGV[1], ARGV[2]
local maxc, cap, window = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local live = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if m ~= ref then
    local ended = redis.call('HGET', prefix .. 'call:' .. m, 'ended_at')
    if ended == 'null' then live = live + 1 else redis.call('ZREM', KEYS[1], m) end
  end
end
if maxc > 0 and live >= maxc then return {'concurrency', live, 0} end
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[2])
  if n >= cap then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {'rate', n, tonumber(oldest[2]) + window - now}
  end
  redis.call('ZADD', KEYS[2], now, ref)
  redis.call('PEXPIRE', KEYS[2], window * 2)
end
redis.call('ZADD', KEYS[1], now, ref)
return {'ok', live + 1, 0}
"""


class RedisLimiter:
    """A :class:`~gateway.call_limits.CallLimiter` for many processes; see the docstring."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._acquire = link.client.register_script(_ACQUIRE)

    async def acquire(self, org_id: str, call_ref: str, limits: Limits) -> Refusal | None:
        window = limits.window
        capacity, span_ms = (window[0], int(window[1] * 1000)) if window else (0, 0)
        keys = [self._link.key("limit", "calls", org_id), self._link.key("limit", "rate", org_id)]
        args: list[str | int] = [
            self._link.prefix,
            call_ref,
            limits.max_concurrent or 0,
            capacity,
            span_ms,
        ]
        verdict, count, retry_ms = await self._link.call(
            "limits.acquire", self._acquire(keys=keys, args=args)
        )
        kind = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
        if kind == "concurrency":
            assert limits.max_concurrent is not None
            return concurrency_refusal(org_id, int(count), limits.max_concurrent)
        if kind == "rate":
            assert limits.per_second is not None
            return rate_refusal(org_id, limits.per_second, int(retry_ms) / 1000)
        return None

    async def release(self, org_id: str, call_ref: str) -> None:
        client = self._link.client
        await self._link.call(
            "limits.release", client.zrem(self._link.key("limit", "calls", org_id), call_ref)
        )
