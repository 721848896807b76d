"""The node's database threads and its event loop flavour."""
from __future__ import annotations

import asyncio
import gc
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from django.db import close_old_connections, connection

from djs_platform.dbrouter import pin_thread_to_primary

PING_AFTER_IDLE = 1.0  # seconds a connection may sit idle before a call pings it first


class DbThread:
    """A single worker thread with its own Django connection; coroutines await its results.

    The thread reads records from the primary even when a read replica is configured: the node reads back
    its own claims and results (running records, children to trigger, failure streaks), which a lagging
    replica would not have yet. What runs here gets its inputs as arguments and returns its results: no
    state of the node is shared with the thread."""

    def __init__(self, name: str, *, health_checks: bool = True):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=pin_thread_to_primary)
        # With health checks a call first pings its connection (CONN_HEALTH_CHECKS) when the connection has been
        # idle for PING_AFTER_IDLE: a connection the server dropped while idle (wait_timeout, a restart) is
        # replaced before the call instead of failing it. A busy thread (calls back to back) does not ping: a
        # connection that dies between two calls fails that call, is closed below, and the caller retries (every
        # caller on these threads does). A thread whose calls are always retried (start marks) never pings.
        self.health_checks = health_checks
        self._last_call = float("-inf")  # monotonic end of the previous call (touched by the thread only)

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            now = time.monotonic()
            if self.health_checks and now - self._last_call >= PING_AFTER_IDLE:
                close_old_connections()  # CONN_MAX_AGE, and the ping before this call's first query
            elif connection.close_at is not None and now >= connection.close_at:
                connection.close()       # CONN_MAX_AGE alone
            try:
                return fn(*args, **kwargs)
            except Exception:
                connection.close_if_unusable_or_obsolete()
                raise
            finally:
                self._last_call = time.monotonic()

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


def tune_gc() -> None:
    """The cyclic garbage collector of a node process, tuned for a long-running loop that allocates a few small
    objects per fire and keeps few of them (measured in docs/performance.md, "Start marks and take-over").

    At 400 fires/s the default thresholds (700, 10, 10) ran a collection every few milliseconds, each walking the
    node's live objects; with ``gc.freeze()`` the start-up objects (Django, models, gRPC, protobufs) leave the
    collector for good and a young collection waits for 10,000 net allocations: a third less CPU per fire.
    Reference cycles are still collected, later."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
