"""Hooks into a node's life that other apps register (DESIGN §14.2): the scheduler owns this protocol; the
alerts app registers its listener from ``AlertsConfig.ready()``, so the scheduler never imports it.

Every hook runs on the node's event loop and must stay cheap (a dict lookup when nothing is watched);
database work belongs on the listener's own :class:`~apps.tasks.scheduler.threads.DbThread`."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from apps.tasks.executors import Executors
    from apps.tasks.scheduler.fires import Fire

log = logging.getLogger("djs.scheduler")


class NodeView(Protocol):
    """What a listener may see of its node (read-only, event loop only)."""

    @property
    def name(self) -> str: ...

    @property
    def executors(self) -> "Executors | None": ...

    def is_running(self, key: tuple[int, int, int]) -> bool: ...


class SchedulerListener(Protocol):
    async def start(self) -> None: ...

    def on_fire_started(self, fire: "Fire", started: datetime) -> None: ...

    def on_results_flushed(self, batch: list[tuple["Fire", dict[str, Any]]]) -> None:
        """A batch of results is committed (the records are final in the database)."""

    def on_tick(self) -> None: ...

    async def close(self) -> None:
        """The node stops: finish queued work within a bounded time."""


ListenerFactory = Callable[[NodeView], SchedulerListener]
_factories: dict[str, ListenerFactory] = {}


def register(name: str, factory: ListenerFactory) -> None:
    """Add (or replace) a listener every node started from now on creates for itself."""
    _factories[name] = factory


def create(node: NodeView) -> list[SchedulerListener]:
    return [factory(node) for factory in _factories.values()]
