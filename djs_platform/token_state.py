"""Token state: revocation marks, refresh-use marks and throttle counters, with explicit expiry.

Two stores, chosen by ``redis.url`` (read at every call, so tests can switch):

* **Redis** (``redis.url`` set): keys ``djs:ts:<key>`` in the cache's Redis database, value
  ``"<number>|<expires_at>"``. Redis's own TTL (a second past ``expires_at``) only collects garbage; readers
  compare ``expires_at`` with :func:`clock`. A Redis whose ``maxmemory-policy`` may evict keys (anything but
  ``noeviction``: ``allkeys-*`` evicts any key, ``volatile-*`` any key with a TTL, which every mark has) would
  forget revocations under memory pressure, so it is refused: at start-up (:func:`check_at_start`, from the
  platform app's ``ready()``; ``manage.py`` prints one ``error:`` line) and, when Redis was unreachable then,
  at the first connection of each process (tokens answer 503/5000 and the log says why).
* **The ``token_state`` table** (no ``redis.url``): one row per key (``key``, ``value``, ``expires_at``).
  Never Django's database cache: its cull drops the alphabetically first third of its keys when full, every
  ``rev:`` key among them (issue 16, finding 4). Expired rows are ignored at once and deleted by the process
  that writes first after an hour since its last purge (an indexed ``DELETE ... WHERE expires_at <= now``), so
  no separate job is needed and any process (web, gRPC, scheduler) keeps the table small.

Windows are fixed and exact: a counter's window opens at its first hit and closes ``ttl`` seconds later,
whatever happens in between (the database cache's ``incr`` reset the TTL to its 300 s default, finding 11).
:func:`clock` is the one clock of expiry; tests replace it to move time forward.
"""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import F

log = logging.getLogger("djs.auth")

#: Seconds between two purges of expired ``token_state`` rows by one process.
PURGE_INTERVAL = 3600.0
#: Longer keys (a lockout key holds a login name as typed) are stored as a digest.
MAX_KEY = 150


def clock() -> float:
    """Epoch seconds: the time every expiry is measured by (replaced in tests)."""
    return time.time()


class Entry(NamedTuple):
    value: float
    expires_at: float

    def remaining(self) -> int:
        """Whole seconds until the entry expires (at least 1): a ``Retry-After``."""
        return max(1, math.ceil(self.expires_at - clock() - 1e-6))


def _stored_key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    head, _, _ = key.rpartition(":")
    return f"{head}:#{hashlib.sha256(key.encode()).hexdigest()}"


#: The model of the ``token_state`` table, registered by the accounts app (``AccountsConfig.ready``), so this
#: platform module names no app model.
_token_state_model = None


def register_model(model) -> None:
    global _token_state_model
    _token_state_model = model


class DatabaseStore:
    """The ``token_state`` table (``apps.accounts.models.TokenState``), always on the primary database."""

    _purge_lock = threading.Lock()
    _next_purge = 0.0  # per process: when (clock()) its next purge is due

    @staticmethod
    def _model():
        if _token_state_model is None:
            raise ImproperlyConfigured("token_state: no model registered (the accounts app registers TokenState)")
        return _token_state_model

    def get_many(self, keys: list[str]) -> dict[str, Entry]:
        stored = {_stored_key(k): k for k in keys}
        rows = self._model().objects.filter(key__in=list(stored), expires_at__gt=clock())
        return {stored[r.key]: Entry(r.value, r.expires_at) for r in rows}

    def get(self, key: str) -> Entry | None:
        return self.get_many([key]).get(key)

    def set(self, key: str, value: float, ttl: float) -> None:
        model = self._model()
        row = model(key=_stored_key(key), value=value, expires_at=clock() + ttl)
        # An upsert (INSERT ... ON CONFLICT / ON DUPLICATE KEY UPDATE); MySQL takes no conflict target.
        target = {"unique_fields": ["key"]} if connection.features.supports_update_conflicts_with_target else {}
        model.objects.bulk_create([row], update_conflicts=True, update_fields=["value", "expires_at"], **target)
        self._maybe_purge()

    def add(self, key: str, value: float, ttl: float) -> bool:
        """Store unless a live entry exists; True when this call stored it (atomic across processes)."""
        model, stored, now = self._model(), _stored_key(key), clock()
        try:
            with transaction.atomic():
                model.objects.create(key=stored, value=value, expires_at=now + ttl)
        except IntegrityError:
            # Taken; an expired row is as good as none: whoever turns it over first wins.
            won = model.objects.filter(key=stored, expires_at__lte=now).update(value=value, expires_at=now + ttl)
            return won == 1
        self._maybe_purge()
        return True

    def incr(self, key: str, ttl: float) -> Entry:
        """Count a hit in the fixed window of ``key`` (opened by its first hit, ``ttl`` seconds long)."""
        model, stored = self._model(), _stored_key(key)
        for _ in range(3):
            now = clock()
            if model.objects.filter(key=stored, expires_at__gt=now).update(value=F("value") + 1):
                row = model.objects.filter(key=stored).values_list("value", "expires_at").first()
                if row is not None:
                    return Entry(*row)
            elif self.add(key, 1, ttl):
                return Entry(1.0, now + ttl)
        raise RuntimeError(f"token state counter {key!r} kept changing under this process")

    def delete(self, key: str) -> None:
        self._model().objects.filter(key=_stored_key(key)).delete()

    def _maybe_purge(self) -> None:
        """At most once per :data:`PURGE_INTERVAL` per process: delete expired rows (cheap: indexed)."""
        now = clock()
        with DatabaseStore._purge_lock:
            if now < DatabaseStore._next_purge:
                return
            DatabaseStore._next_purge = now + PURGE_INTERVAL
        purge_expired()


def purge_expired() -> int:
    """Delete expired ``token_state`` rows; returns how many (the hourly purge calls this)."""
    deleted, _ = DatabaseStore._model().objects.filter(expires_at__lte=clock()).delete()
    if deleted:
        log.debug("token state: %d expired rows deleted", deleted)
    return deleted


# --- Redis -------------------------------------------------------------------------------------------

_GET_ADD = """
local v = redis.call('GET', KEYS[1])
if v then
  local exp = tonumber(string.match(v, '|(.+)$'))
  if exp and exp > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
_INCR = """
local now = tonumber(ARGV[1])
local v = redis.call('GET', KEYS[1])
if v then
  local count, exp = string.match(v, '^([^|]+)|(.+)$')
  if exp and tonumber(exp) > now then
    count = tonumber(count) + 1
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl < 1 then ttl = 1000 end
    redis.call('SET', KEYS[1], tostring(count) .. '|' .. exp, 'PX', ttl)
    return {tostring(count), exp}
  end
end
local exp = ARGV[2]
redis.call('SET', KEYS[1], '1|' .. exp, 'PX', ARGV[3])
return {'1', exp}
"""


def _px(ttl: float) -> str:
    return str(int(ttl * 1000) + 1000)  # Redis keeps it a second longer than readers believe it


class RedisStore:
    """Keys in the cache's Redis database (``cache.clear()`` empties them too), expiry read by :func:`clock`."""

    PREFIX = "djs:ts:"
    _checked: set[str] = set()  # Redis URLs whose eviction policy this process has verified

    def _client(self):
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        url = settings.DJS_REDIS.url
        if url not in RedisStore._checked:
            check_eviction_policy(client)
            RedisStore._checked.add(url)
        return client

    def _k(self, key: str) -> str:
        return self.PREFIX + _stored_key(key)

    @staticmethod
    def _entry(raw: bytes | str | None) -> Entry | None:
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else raw
        value, _, expires = text.partition("|")
        entry = Entry(float(value), float(expires))
        return entry if entry.expires_at > clock() else None

    def get_many(self, keys: list[str]) -> dict[str, Entry]:
        values = self._client().mget([self._k(k) for k in keys])
        found = {k: self._entry(v) for k, v in zip(keys, values)}
        return {k: e for k, e in found.items() if e is not None}

    def get(self, key: str) -> Entry | None:
        return self.get_many([key]).get(key)

    def set(self, key: str, value: float, ttl: float) -> None:
        self._client().set(self._k(key), f"{value!r}|{clock() + ttl!r}", px=int(_px(ttl)))

    def add(self, key: str, value: float, ttl: float) -> bool:
        client = self._client()
        now = clock()
        return bool(client.eval(_GET_ADD, 1, self._k(key), repr(now), f"{value!r}|{now + ttl!r}", _px(ttl)))

    def incr(self, key: str, ttl: float) -> Entry:
        now = clock()  # the expiry is computed here: Lua's tostring() would round it to 14 digits
        count, expires = self._client().eval(_INCR, 1, self._k(key), repr(now), repr(now + ttl), _px(ttl))
        return Entry(float(count), float(expires))

    def delete(self, key: str) -> None:
        self._client().delete(self._k(key))


_database_store, _redis_store = DatabaseStore(), RedisStore()


def store() -> DatabaseStore | RedisStore:
    return _redis_store if settings.DJS_REDIS.url else _database_store


# --- the eviction-policy guard -------------------------------------------------------------------------

def eviction_policy_problem(policy: str) -> str | None:
    """Why a Redis with this ``maxmemory-policy`` cannot hold token state (None: it can)."""
    if policy in ("", "noeviction"):
        return None
    return (f"redis.url: the Redis server's maxmemory-policy is {policy}, which evicts keys when memory runs "
            "out and would forget token revocations (logged-out and stolen tokens would work again); set "
            "maxmemory-policy noeviction on that server (redis.conf or CONFIG SET), or use a Redis of its own")


def check_eviction_policy(client) -> None:
    """Raise ImproperlyConfigured when the Redis behind ``client`` may evict keys (``INFO memory``, which works
    where ``CONFIG`` is disabled, as on several managed services)."""
    policy = str(client.info("memory").get("maxmemory_policy", ""))
    problem = eviction_policy_problem(policy)
    if problem:
        log.error("%s", problem)
        raise ImproperlyConfigured(problem)


def check_at_start() -> None:
    """Start-up guard (the platform app's ``ready()``): refuse an evicting Redis. An unreachable Redis is not a
    start-up error (it may come up later, and tokens answer 503 meanwhile); the first connection checks then."""
    if not settings.DJS_REDIS.url:
        return
    from django_redis import get_redis_connection

    try:
        client = get_redis_connection("default")
        policy = str(client.info("memory").get("maxmemory_policy", ""))
    except Exception as exc:  # noqa: BLE001 - unreachable now: checked again at the first connection
        log.info("redis not reachable at start (%s); its eviction policy is checked at the first connection", exc)
        return
    problem = eviction_policy_problem(policy)
    if problem:
        raise ImproperlyConfigured(problem)
    RedisStore._checked.add(settings.DJS_REDIS.url)
