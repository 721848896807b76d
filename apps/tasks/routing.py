"""Executor names to addresses, and which instance gets each call (DESIGN §14.3, docs/executors.md).

A task names its target literally (``10.0.0.5:50051/orders.Billing``, ``https://billing/run``) or by a name in
the executor registry (``orders.Billing``, ``executor://billing-http/run?x=1``); fallback targets alike. Before
an executor is called, the node's :class:`Router` turns a name into concrete addresses — executors only ever
receive those:

1. **Resolution**: the live entries of the nearest department on the task's path (its own department, then
   its ancestors) that has any live entry of that name and kind. ``dns:///host:port`` entries expand to one
   instance per answer (the registry re-resolves them at most every 30 s).
2. **Health** (per node): an instance is skipped after :data:`FAILURES_TO_SKIP` consecutive calls that could not
   connect, or when the node's periodic check (every :data:`CHECK_INTERVAL` s: TCP connect for HTTP,
   ``grpc.health.v1`` for gRPC, NOT_SERVING counts as down) fails, until a check passes.
3. **Strategy** (the task's ``route_strategy``): which of the remaining instances gets the call, and for
   ``failover`` the order in which the same attempt tries them when a connection cannot be established.

No live instance: the call fails with "no live executor for <name>" and the task's retries and fallback apply.
Everything but the registry snapshot (:meth:`Router.refresh`) and the health checks is plain computation.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext


log = logging.getLogger("djs.routing")

ROUND_ROBIN, RANDOM, FIRST, CONSISTENT_HASH, LEAST_BUSY, FAILOVER, BROADCAST = (
    "round_robin", "random", "first", "consistent_hash", "least_busy", "failover", "broadcast")
#: The route strategies a task may name. ``broadcast`` calls every live instance, one record (shard) each: the
#: node plans the shards when it marks the fire's start (:meth:`Router.live`) and pins each shard's calls to its
#: instance; a broadcast task's fallback target is routed round robin (docs/executors.md).
ROUTE_STRATEGIES = (ROUND_ROBIN, RANDOM, FIRST, CONSISTENT_HASH, LEAST_BUSY, FAILOVER, BROADCAST)
DEFAULT_STRATEGY = ROUND_ROBIN

EXECUTOR_SCHEME = "executor://"
#: A registry name: a gRPC service's full name (``orders.Billing``) or any service name (``billing-http``).
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
GRPC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

FAILURES_TO_SKIP = 3      # consecutive connection failures that take an instance out of rotation
CHECK_INTERVAL = 10.0     # seconds between a node's health checks of the instances it uses
SNAPSHOT_AGE = 1.0        # seconds a registry snapshot serves before it is reloaded
CHECK_TIMEOUT = 2.0       # seconds one health check may take
RECENT = 120.0            # an instance not called for this long is no longer checked


class NoLiveExecutor(Exception):
    """No live instance of a name for this task (the call fails; retries and fallback apply)."""


@dataclass(frozen=True)
class NamedTarget:
    """A target that names the registry: ``kind`` grpc|http, the ``name``, and for HTTP the path and query."""

    kind: str
    name: str
    rest: str = ""

    def address(self, instance_address: str) -> str:
        """The concrete target on one instance: ``host:port/orders.Billing`` or ``base URL + path?query``."""
        if self.kind == "grpc":
            return f"{instance_address}/{self.name}"
        base = instance_address.rstrip("/")
        rest = self.rest if self.rest.startswith(("/", "?")) or not self.rest else "/" + self.rest
        return base + (rest or "")


def named_grpc(text: str | None) -> NamedTarget | None:
    """``orders.Billing`` (a package-qualified service name, no address) names the registry;
    ``host:port/orders.Billing`` does not, nor does a bare word (``nohost`` is a forgotten address, not a name)."""
    if text and "/" not in text and ":" not in text and "." in text and GRPC_NAME.match(text) and NAME.match(text):
        return NamedTarget("grpc", text)
    return None


def named_http(text: str | None) -> NamedTarget | None:
    """``executor://billing-http/path?q`` names the registry; any other URL does not."""
    if not text or not text.lower().startswith(EXECUTOR_SCHEME):
        return None
    tail = text[len(EXECUTOR_SCHEME):]
    cut = min((i for i in (tail.find("/"), tail.find("?")) if i >= 0), default=len(tail))
    name, rest = tail[:cut], tail[cut:]
    if not NAME.match(name):
        return None
    return NamedTarget("http", name, rest)


def named(task_type: str, text: str | None) -> NamedTarget | None:
    """The registry name a task's target names, or None for a literal address (and for SHELL)."""
    if task_type == "GRPC":
        return named_grpc(text)
    if task_type == "HTTP":
        return named_http(text)
    return None


def executor_url_problem(value: str) -> str | None:
    """Save-time rule for ``executor://<name>/<path>?<query>``: the name is a registry name."""
    if named_http(value) is None:
        return gettext("must be executor://<name>/<path>, the name made of letters, digits, '_', '.' and '-'")
    if any(ch in value for ch in " \t\r\n#"):
        return gettext("must not contain spaces or a fragment")
    return None


@dataclass(frozen=True)
class Pick:
    """One instance chosen for a call: the address the executor gets and the instance it is on."""

    address: str       # what the executor receives (grpc "host:port/Service", http URL)
    instance: str      # the instance's own address ("host:port" / base URL): records, metrics, health
    name: str


# --- strategies (plain functions over the live instances) ---------------------------------------------------

class SmoothRoundRobin:
    """nginx's smooth weighted round robin, one rotation per (department, kind, name) on this node: weights
    5,1,1 give a a b a c a a, never a burst of one instance."""

    def __init__(self) -> None:
        self.current: dict[tuple, dict[str, int]] = defaultdict(dict)

    def order(self, key: tuple, instances: Sequence) -> list:
        """All instances, the round robin's pick first, then the rest in their stable order."""
        current = self.current[key]
        live = {i.address for i in instances}
        for stale in [a for a in current if a not in live]:
            del current[stale]
        total = 0
        best = None
        for instance in instances:
            value = current.get(instance.address, 0) + instance.weight
            current[instance.address] = value
            total += instance.weight
            if best is None or value > current[best.address]:
                best = instance
        assert best is not None
        current[best.address] -= total
        return [best] + [i for i in instances if i is not best]


def _rendezvous_score(task_id: int, instance) -> float:
    """Weighted rendezvous hashing: when an instance leaves, only the tasks it had move."""
    digest = hashlib.blake2b(f"{task_id}|{instance.address}".encode(), digest_size=8).digest()
    unit = (int.from_bytes(digest, "big") + 1) / (2 ** 64 + 1)  # in (0, 1)
    return -instance.weight / math.log(unit)


def order_instances(strategy: str, key: tuple, instances: Sequence, *, task_id: int, rotation: SmoothRoundRobin,
                    in_flight: dict[str, int], rng: random.Random) -> list:
    """The instances in the order the strategy would try them (the first gets the call)."""
    stable = sorted(instances, key=lambda i: (i.executor_id, i.address))
    if strategy == FIRST:
        return stable
    if strategy == RANDOM:
        remaining, ordered = list(stable), []
        while remaining:
            chosen = rng.choices(remaining, weights=[i.weight for i in remaining])[0]
            ordered.append(chosen)
            remaining.remove(chosen)
        return ordered
    if strategy == CONSISTENT_HASH:
        return sorted(stable, key=lambda i: _rendezvous_score(task_id, i), reverse=True)
    if strategy == LEAST_BUSY:
        rotated = rotation.order(key, stable)  # ties go round robin
        position = {i.address: n for n, i in enumerate(rotated)}
        return sorted(rotated, key=lambda i: (in_flight.get(i.address, 0), position[i.address]))
    return rotation.order(key, stable)  # round_robin, failover


# --- the node's router --------------------------------------------------------------------------------------

@dataclass
class _Health:
    failures: int = 0
    down: bool = False
    kind: str = "http"
    name: str = ""
    last_used: float = field(default_factory=time.monotonic)


Loader = Callable[[], Awaitable[list]]
Checker = Callable[[str, str, str], Awaitable[bool]]


class Router:
    """Per node: the registry snapshot, the rotations, in-flight counts and instance health.

    ``load`` answers every live instance of the registry (registry entries expanded) and the department tree
    (id → parent id), read together on a database thread, so a name follows a department that moved within
    one snapshot; ``check`` one instance's health (``kind``, ``address``, ``name`` → healthy). Both are
    injected, so this module never touches the database or the network itself. A snapshot older than
    :data:`SNAPSHOT_AGE` still serves while one reload runs in the background; only the first call waits. While
    names are in use the node also runs :meth:`keep_fresh`, so no call or broadcast plan sees a snapshot much older
    than :data:`SNAPSHOT_AGE` (a reload started by a call alone would let it age up to the gap between calls).
    """

    def __init__(self, load: Loader, check: Checker | None = None, *,
                 clock: Callable[[], float] = time.monotonic, seed: int | None = None,
                 on_call: Callable[[str, str, str], None] | None = None):
        # Imported here: this module (and the executors package that imports it) loads without Django set up.
        from apps.departments.selectors import ancestry

        self._ancestry = ancestry
        self._load, self._check, self._on_call = load, check, on_call
        self._clock = clock
        self._instances: dict[tuple[int, str, str], list] = {}
        self._parents: dict[int, int | None] = {}
        self._loaded_at: float | None = None
        self._used_at = 0.0
        self._reload: asyncio.Task | None = None
        self.rotation = SmoothRoundRobin()
        self.in_flight: dict[str, int] = defaultdict(int)
        self.health: dict[str, _Health] = {}
        self._rng = random.Random(seed)

    # registry snapshot

    async def refresh(self) -> None:
        """Load the registry now (the first call, and tests)."""
        snapshot: dict[tuple[int, str, str], list] = defaultdict(list)
        instances, parents = await self._load()
        for instance in instances:
            snapshot[(instance.department_id, instance.kind, instance.name)].append(instance)
        self._instances, self._parents, self._loaded_at = dict(snapshot), dict(parents), self._clock()

    async def _current(self) -> None:
        if self._loaded_at is None:
            await self.refresh()
        elif self._clock() - self._loaded_at >= SNAPSHOT_AGE and (self._reload is None or self._reload.done()):
            self._reload = asyncio.get_running_loop().create_task(self._background_refresh())

    async def _background_refresh(self) -> None:
        try:
            await self.refresh()
        except Exception:  # noqa: BLE001 - keep the last snapshot; the next call tries again
            log.warning("could not reload the executor registry; using the last snapshot", exc_info=True)
            self._loaded_at = self._clock()

    async def keep_fresh(self) -> None:
        """Reload the snapshot once it is :data:`SNAPSHOT_AGE` old, for as long as names were used in the last
        :data:`RECENT` seconds (the node runs this forever; an idle router reads nothing)."""
        while True:
            await asyncio.sleep(SNAPSHOT_AGE / 4)
            now = self._clock()
            if self._loaded_at is None or now - self._loaded_at < SNAPSHOT_AGE or now - self._used_at > RECENT:
                continue
            if self._reload is None or self._reload.done():
                self._reload = asyncio.get_running_loop().create_task(self._background_refresh())

    async def instances(self, target: NamedTarget, department_id: int) -> tuple[int, list]:
        """The nearest department with live instances of the name — the task's own, then its ancestors — and
        those instances (not yet filtered by this node's health)."""
        self._used_at = self._clock()
        await self._current()
        for department_id in self._ancestry(department_id, self._parents):
            found = self._instances.get((department_id, target.kind, target.name))
            if found:
                return department_id, found
        return 0, []

    # picking

    async def route(self, target: NamedTarget, department_id: int, strategy: str, task_id: int) -> list[Pick]:
        """The instances to try for one call, in order (``failover`` tries them all on connection failures;
        every other strategy calls the first). Raises :class:`NoLiveExecutor`."""
        department_id, found = await self.instances(target, department_id)
        healthy = [i for i in found if not self._state(i.address, target).down]
        if not healthy:
            raise NoLiveExecutor(f"no live executor for {target.name}")
        key = (department_id, target.kind, target.name)
        ordered = order_instances(strategy, key, healthy, task_id=task_id, rotation=self.rotation,
                                  in_flight=self.in_flight, rng=self._rng)
        return [Pick(target.address(i.address), i.address, target.name) for i in ordered]

    async def live(self, target: NamedTarget, department_id: int) -> list[Pick]:
        """Every live instance of the name for this task (nearest department, healthy on this node), in a stable
        order: a broadcast's shards, shard 0 first."""
        _, found = await self.instances(target, department_id)
        healthy = sorted((i for i in found if not self._state(i.address, target).down),
                         key=lambda i: (i.executor_id, i.address))
        return [Pick(target.address(i.address), i.address, target.name) for i in healthy]

    def pinned(self, target: NamedTarget, instance: str) -> Pick:
        """A broadcast shard's call: its own instance, whatever the strategy or the instance's health says (the
        shard exists for that instance; an instance gone since fails the call like any unreachable target)."""
        self._state(instance, target)
        return Pick(target.address(instance), instance, target.name)

    def _state(self, address: str, target: NamedTarget) -> _Health:
        state = self.health.get(address)
        if state is None:
            state = self.health[address] = _Health(kind=target.kind, name=target.name)
        state.last_used = self._clock()
        return state

    # call bookkeeping

    def begin(self, pick: Pick) -> None:
        self.in_flight[pick.instance] += 1

    def end(self, pick: Pick, *, unreachable: bool | None, success: bool = False) -> None:
        """After a call: ``unreachable`` when no connection could be established (nothing was sent); None when
        the call was cut (a kill) and says nothing about the instance."""
        left = self.in_flight[pick.instance] - 1
        if left > 0:
            self.in_flight[pick.instance] = left
        else:
            self.in_flight.pop(pick.instance, None)
        if unreachable is None:
            return
        if self._on_call is not None:
            self._on_call(pick.name, pick.instance,
                          "unreachable" if unreachable else "success" if success else "failed")
        state = self.health.get(pick.instance)
        if state is None:
            return
        if unreachable:
            state.failures += 1
            if state.failures >= FAILURES_TO_SKIP and not state.down:
                state.down = True
                log.warning("executor instance %s of %s skipped after %d connection failures",
                            pick.instance, pick.name, state.failures)
        else:
            state.failures = 0

    # health checks

    async def check_health(self) -> dict[str, bool]:
        """Check every instance this node called recently: down ones come back when a check passes; gRPC
        instances that answer NOT_SERVING go down. Answers {address: healthy} of what it checked."""
        if self._check is None:
            return {}
        now = self._clock()
        for address in [a for a, s in self.health.items() if now - s.last_used > RECENT]:
            del self.health[address]
        targets = [(a, s) for a, s in self.health.items() if s.down or s.kind == "grpc"]
        if not targets:
            return {}
        results = await asyncio.gather(*(self._check_one(a, s) for a, s in targets))
        return dict(zip((a for a, _ in targets), results, strict=True))

    async def _check_one(self, address: str, state: _Health) -> bool:
        try:
            healthy = await asyncio.wait_for(self._check(state.kind, address, state.name), CHECK_TIMEOUT)
        except Exception:  # noqa: BLE001 - a check that cannot complete is a failed check
            healthy = False
        if healthy and state.down:
            log.info("executor instance %s of %s is back", address, state.name)
        elif not healthy and not state.down:
            log.warning("executor instance %s of %s failed its health check; skipped", address, state.name)
        state.down = not healthy
        state.failures = 0 if healthy else max(state.failures, FAILURES_TO_SKIP)
        return healthy
