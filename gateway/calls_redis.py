"""The call registry in Redis, shared by every gateway process behind a load balancer.

Theory of operation:

- A call is a hash ``call:<ref>`` (see :mod:`gateway.call_codec`), found by CallSid
  through ``sid:<sid>``, listed per organization in the set ``active:<org>`` while
  it has not ended. Its one-time stream token is a key ``token:<sid>`` that expires
  with the token, spent with ``GETDEL`` so that exactly one process redeems it.
- Expiry is how a dead process's calls disappear. While a call is active its keys
  live ``live_ttl_s``; the process keeping it alive renews them on its heartbeat
  (every quarter of that). The keeper is the process that created the record until a
  process *claims* it by running its media stream. A process that dies stops
  renewing, so its calls vanish from ``active`` within ``live_ttl_s``; a call that
  ends is kept ``retain_s`` for operators to read.
- Read-modify-write goes through ``WATCH``/``MULTI`` on the call's hash, so a status
  callback on one process and the end of the call on another cannot lose each other's
  changes. Fields only one process writes (the end of a call, by its owner) use
  ``save``, a plain ``HSET`` of those fields.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import structlog
from redis.asyncio.client import Pipeline

from gateway import call_codec
from gateway.calls import CallRecord
from gateway.redis_link import RedisLink

log = structlog.get_logger(__name__)

T = TypeVar("T")

# ARGV: key prefix, this process (as stored: JSON), TTL in ms, then the refs it keeps.
# Returns the refs it should stop keeping (gone, ended, or now run by another process).
_HEARTBEAT = """
local prefix, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local drop = {}
for i = 4, #ARGV do
  local ref = ARGV[i]
  local key = prefix .. 'call:' .. ref
  local owner = redis.call('HGET', key, 'owner')
  local ended = redis.call('HGET', key, 'ended_at')
  if not owner or (ended and ended ~= 'null') or (owner ~= '""' and owner ~= me) then
    drop[#drop + 1] = ref
  else
    redis.call('PEXPIRE', key, ttl)
    local sid = redis.call('HGET', key, 'call_sid')
    if sid and sid ~= '""' then
      redis.call('PEXPIRE', prefix .. 'sid:' .. cjson.decode(sid), ttl)
    end
  end
end
return drop
"""


# KEYS: token, sid index. ARGV: the presented token's digest, key prefix, this process
# (as stored: JSON). Spends the token either way; on a match, claims the call for this
# process and returns its hash. One round trip where the stream start waits on it.
_REDEEM = """
local stored = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
if not stored or stored ~= ARGV[1] then return false end
local ref = redis.call('GET', KEYS[2])
if not ref then return false end
local key = ARGV[2] .. 'call:' .. ref
if redis.call('EXISTS', key) == 0 then return false end
redis.call('HSET', key, 'owner', ARGV[3])
return redis.call('HGETALL', key)
"""


# KEYS: the call's hash. ARGV: n, then n field/value pairs to write, then every field/value
# pair of the record. A hash Redis lost (restarted without its data) is written whole.
_SAVE = """
local n = tonumber(ARGV[1])
local from, to = 2, 1 + 2 * n
if redis.call('EXISTS', KEYS[1]) == 0 then from, to = 2 + 2 * n, #ARGV end
for i = from, to, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return to - from
"""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RedisCallRegistry:
    """A :class:`~gateway.calls.CallRegistry` in Redis; see the module docstring."""

    def __init__(self, link: RedisLink, live_ttl_s: float = 20.0, retain_s: float = 3600.0) -> None:
        self._link = link
        self.gateway_id = link.gateway_id
        self._live_ms = int(live_ttl_s * 1000)
        self._retain_ms = int(retain_s * 1000)
        self.heartbeat_s = live_ttl_s / 4
        self._kept: set[str] = set()
        self._heartbeat = link.client.register_script(_HEARTBEAT)
        self._redeem = link.client.register_script(_REDEEM)
        self._save = link.client.register_script(_SAVE)
        self._me = orjson.dumps(self.gateway_id)

    # ------------------------------------------------------------------ keys
    def _call(self, ref: str) -> str:
        return self._link.key("call", ref)

    def _sid(self, sid: str) -> str:
        return self._link.key("sid", sid)

    def _active(self, org_id: str) -> str:
        return self._link.key("active", org_id)

    def _token(self, sid: str) -> str:
        return self._link.key("token", sid)

    # --------------------------------------------------------------- writing
    def _write(self, pipe: Pipeline, record: CallRecord, fields: tuple[str, ...]) -> None:
        """Queue the fields' HSET and the call's expiry/index for its current state."""
        key = self._call(record.call_ref)
        pipe.hset(key, mapping=call_codec.encode(record, fields))  # type: ignore[arg-type]
        self._index(pipe, record)

    def _index(self, pipe: Pipeline, record: CallRecord) -> None:
        key = self._call(record.call_ref)
        ttl = self._live_ms if record.active else self._retain_ms
        pipe.pexpire(key, ttl)
        if record.call_sid:
            pipe.set(self._sid(record.call_sid), record.call_ref, px=ttl)
        if record.active:
            pipe.sadd(self._active(record.org_id), record.call_ref)
        else:
            pipe.srem(self._active(record.org_id), record.call_ref)
            self._kept.discard(record.call_ref)

    async def add(self, record: CallRecord) -> None:
        async with self._link.client.pipeline(transaction=True) as pipe:
            self._write(pipe, record, call_codec.FIELDS)
            await self._link.call("calls.add", pipe.execute())
        if record.active:
            self._kept.add(record.call_ref)

    async def save(self, record: CallRecord, *fields: str) -> None:
        chosen = fields or call_codec.FIELDS
        args: list[str | bytes | int] = [len(chosen)]
        for part in (call_codec.encode(record, chosen), call_codec.encode(record)):
            for name, value in part.items():
                args += [name, value]
        async with self._link.client.pipeline(transaction=True) as pipe:
            await self._save(keys=[self._call(record.call_ref)], args=args, client=pipe)
            self._index(pipe, record)
            await self._link.call("calls.save", pipe.execute())

    async def update(self, record: CallRecord, change: Callable[[CallRecord], T]) -> T:
        key = self._call(record.call_ref)
        outcome: list[tuple[CallRecord, T]] = []

        async def transaction(pipe: Pipeline) -> None:
            raw = await pipe.hgetall(key)
            # A record Redis lost (restarted without data) is written back whole.
            fresh = call_codec.decode(raw) if raw else _clone(record)
            result = change(fresh)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._write(pipe, fresh, call_codec.FIELDS)
            outcome.clear()
            outcome.append((fresh, result))

        await self._link.call("calls.update", self._link.client.transaction(transaction, key))
        fresh, result = outcome[0]
        call_codec.copy_into(record, fresh)
        return result

    async def bind_sid(self, record: CallRecord, call_sid: str) -> None:
        def bind(r: CallRecord) -> None:
            if not r.call_sid:
                r.call_sid = call_sid

        await self.update(record, bind)

    async def claim(self, record: CallRecord) -> None:
        me = self.gateway_id

        def own(r: CallRecord) -> None:
            r.owner = me

        await self.update(record, own)
        self._kept.add(record.call_ref)

    # --------------------------------------------------------------- reading
    async def by_ref(self, call_ref: str) -> CallRecord | None:
        raw = await self._link.call("calls.get", self._link.client.hgetall(self._call(call_ref)))
        return _decoded(raw, call_ref)

    async def by_sid(self, call_sid: str) -> CallRecord | None:
        ref = await self._link.call("calls.sid", self._link.client.get(self._sid(call_sid)))
        if ref is None:
            return None
        return await self.by_ref(ref.decode())

    async def active(self, org_id: str) -> list[CallRecord]:
        client = self._link.client
        refs = sorted(
            m.decode()
            for m in await self._link.call("calls.active", client.smembers(self._active(org_id)))
        )
        if not refs:
            return []
        async with client.pipeline(transaction=False) as pipe:
            for ref in refs:
                pipe.hgetall(self._call(ref))
            rows = await self._link.call("calls.active", pipe.execute())
        found: list[CallRecord] = []
        stale: list[str] = []
        for ref, raw in zip(refs, rows, strict=True):
            record = _decoded(raw, ref)
            if record is None or not record.active or record.org_id != org_id:
                stale.append(ref)
            else:
                found.append(record)
        if stale:  # expired (their process died) or ended: tidy the index
            await self._link.call("calls.tidy", client.srem(self._active(org_id), *stale))
        found.sort(key=lambda r: r.created_at)
        return found

    # ---------------------------------------------------------------- tokens
    async def issue_stream_token(self, record: CallRecord, ttl_s: float) -> str:
        token = secrets.token_urlsafe(24)
        await self._link.call(
            "calls.token",
            self._link.client.set(
                self._token(record.call_sid), _digest(token), px=int(ttl_s * 1000)
            ),
        )
        return token

    async def redeem_stream_token(self, call_sid: str, token: str) -> CallRecord | None:
        keys = [self._token(call_sid), self._sid(call_sid)]
        args: list[str | bytes] = [_digest(token), self._link.prefix, self._me]
        flat = await self._link.call("calls.redeem", self._redeem(keys=keys, args=args))
        if not flat:
            return None
        raw = dict(zip(flat[::2], flat[1::2], strict=True))
        record = _decoded(raw, call_sid)
        if record is not None:
            self._kept.add(record.call_ref)
        return record

    # ------------------------------------------------------------- liveness
    def start(self) -> None:
        self._link.run_every(self.heartbeat_s, self.beat, "calls-heartbeat")

    async def beat(self) -> None:
        """Renew the calls this process keeps; forget those it no longer keeps."""
        client = self._link.client
        alive = client.set(self._link.key("gw", self.gateway_id), b"1", px=self._live_ms)
        await self._link.call("calls.heartbeat", alive)
        if not self._kept:
            return
        kept = sorted(self._kept)
        args: list[Any] = [self._link.prefix, self._me, self._live_ms, *kept]
        dropped = await self._link.call("calls.heartbeat", self._heartbeat(keys=[], args=args))
        for ref in dropped:
            self._kept.discard(ref.decode() if isinstance(ref, bytes) else str(ref))

    @property
    def kept(self) -> int:
        return len(self._kept)

    async def aclose(self) -> None:
        return None


def _clone(record: CallRecord) -> CallRecord:
    return call_codec.decode(call_codec.encode(record))


def _decoded(raw: dict[bytes, bytes], ref: str) -> CallRecord | None:
    if not raw:
        return None
    try:
        return call_codec.decode(raw)
    except ValueError as exc:
        log.error("calls.unreadable_record", call_ref=ref, error=str(exc))
        return None
