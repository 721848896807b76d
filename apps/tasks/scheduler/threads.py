"""The node's database threads and its event loop flavour."""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from django.db import close_old_connections, connection

from djs_platform.dbrouter import pin_thread_to_primary


class DbThread:
    """A single worker thread with its own Django connection; coroutines await its results.

    The thread reads records from the primary even when a read replica is configured: the node reads back
    its own claims and results (running records, children to trigger, failure streaks), which a lagging
    replica would not have yet. What runs here gets its inputs as arguments and returns its results: no
    state of the node is shared with the thread."""

    def __init__(self, name: str, *, health_checks: bool = True):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=pin_thread_to_primary)
        # With health checks every call first pings its connection (CONN_HEALTH_CHECKS). A thread whose calls
        # are retried on any error (start marks) skips the ping: a dead connection fails that call, is closed
        # below, and the retry reconnects — one statement less per call.
        self.health_checks = health_checks

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            if self.health_checks:
                close_old_connections()
            try:
                return fn(*args, **kwargs)
            except Exception:
                connection.close_if_unusable_or_obsolete()
                raise

        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    def shutdown(self) -> None:
        def close() -> None:
            connection.close()

        self.pool.submit(close).result(timeout=10)
        self.pool.shutdown(wait=True)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (DJS_EVENT_LOOP=asyncio opts out): the node's loop spends most of its time
    in socket I/O and timers, where uvloop is several times cheaper than the stdlib loop."""
    if os.environ.get("DJS_EVENT_LOOP", "uvloop").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
