"""What runs inside the APScheduler peer process: the job functions and the executors that hand each run
its scheduled run time.

APScheduler 3 does not pass a job its scheduled run time, but the executor has it: ``submit_job(job,
run_times)`` gets the list of instants the scheduler computed (several when it is catching up, coalescing
off). The two executors below are APScheduler's own ``AsyncIOExecutor`` / ``ThreadPoolExecutor`` with one
change: instead of giving all ``run_times`` to one ``run_(coroutine_)job`` call, they call APScheduler's
unchanged ``run_coroutine_job`` / ``run_job`` once per run time, with that run time in the context variable
:data:`SCHEDULED`. Same submissions, same futures, same events; the cost added is one ``ContextVar.set``.

The job function (a stored textual reference, ``peers.aps_jobs:fire_async`` or ``peers.aps_jobs:fire_sync``)
sends ``GET url`` with ``X-Scheduled-Ms`` = that run time, through one client shared by the process.
"""
from __future__ import annotations

import contextvars
import sys
import threading
from datetime import datetime

import httpx
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.executors.base import run_coroutine_job, run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.util import iscoroutinefunction_partial

#: The run time APScheduler scheduled the current run for.
SCHEDULED: contextvars.ContextVar[datetime] = contextvars.ContextVar("aps_scheduled_run_time")

HTTP_TIMEOUT = 30.0  # seconds, like the DJS tasks the harness writes (timeout 30)

FIRE_ASYNC = "peers.aps_jobs:fire_async"
FIRE_SYNC = "peers.aps_jobs:fire_sync"

_async_client: httpx.AsyncClient | None = None
_sync_client: httpx.Client | None = None
_sync_lock = threading.Lock()


def _scheduled_ms() -> str:
    return str(round(SCHEDULED.get().timestamp() * 1000))


async def fire_async(url: str) -> None:
    global _async_client
    if _async_client is None:
        _async_client = httpx.AsyncClient(timeout=HTTP_TIMEOUT)
    response = await _async_client.get(url, headers={"X-Scheduled-Ms": _scheduled_ms()})
    response.raise_for_status()


def fire_sync(url: str) -> None:
    global _sync_client
    if _sync_client is None:
        with _sync_lock:
            if _sync_client is None:
                _sync_client = httpx.Client(timeout=HTTP_TIMEOUT)
    response = _sync_client.get(url, headers={"X-Scheduled-Ms": _scheduled_ms()})
    response.raise_for_status()


async def aclose_clients() -> None:
    if _async_client is not None:
        await _async_client.aclose()
    if _sync_client is not None:
        _sync_client.close()


# --- executors -------------------------------------------------------------------------------------------

async def _run_coroutine_each(job, jobstore_alias, run_times, logger_name):
    events = []
    for run_time in run_times:
        SCHEDULED.set(run_time)
        events += await run_coroutine_job(job, jobstore_alias, [run_time], logger_name)
    return events


def _run_each(job, jobstore_alias, run_times, logger_name):
    events = []
    for run_time in run_times:
        SCHEDULED.set(run_time)
        events += run_job(job, jobstore_alias, [run_time], logger_name)
    return events


class ScheduledAsyncIOExecutor(AsyncIOExecutor):
    """``AsyncIOExecutor`` whose runs see their scheduled run time in :data:`SCHEDULED`."""

    def _do_submit_job(self, job, run_times):  # AsyncIOExecutor._do_submit_job, run_* swapped
        def callback(f):
            self._pending_futures.discard(f)
            try:
                events = f.result()
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        if iscoroutinefunction_partial(job.func):
            f = self._eventloop.create_task(
                _run_coroutine_each(job, job._jobstore_alias, run_times, self._logger.name))
        else:
            f = self._eventloop.run_in_executor(
                None, _run_each, job, job._jobstore_alias, run_times, self._logger.name)
        f.add_done_callback(callback)
        self._pending_futures.add(f)


class ScheduledThreadPoolExecutor(ThreadPoolExecutor):
    """``ThreadPoolExecutor`` (same default of 10 threads) whose runs see their run time in :data:`SCHEDULED`."""

    def _do_submit_job(self, job, run_times):  # BasePoolExecutor._do_submit_job, run_job swapped
        def callback(f):
            exc, tb = (f.exception_info() if hasattr(f, "exception_info")
                       else (f.exception(), getattr(f.exception(), "__traceback__", None)))
            if exc:
                self._run_job_error(job.id, exc, tb)
            else:
                self._run_job_success(job.id, f.result())

        f = self._pool.submit(_run_each, job, job._jobstore_alias, run_times, self._logger.name)
        f.add_done_callback(callback)
