#!/usr/bin/env python
"""One APScheduler 3 process on the benchmark's job store (started by ``ApschedulerSystem.start``).

    python bench/peers/aps_runner.py --db-url mysql+mysqldb://... --mode asyncio --ready-file F

``asyncio``: ``AsyncIOScheduler`` + ``ScheduledAsyncIOExecutor`` (one shared ``httpx.AsyncClient``);
``thread``: ``BackgroundScheduler`` + ``ScheduledThreadPoolExecutor`` (10 threads, one shared ``httpx.Client``).
The jobs themselves (trigger, misfire_grace_time, coalesce, max_instances) are in the job store, written by
``ApschedulerSystem.load``. Logging at WARNING (no line per run), like Celery's default. SIGTERM stops it.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from datetime import timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, so ``peers.aps_jobs`` imports

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # noqa: E402

from peers import aps_jobs  # noqa: E402


def _ready(path: str | None) -> None:
    if path:
        Path(path).write_text("ready\n")


async def run_asyncio(db_url: str, ready_file: str | None) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(url=db_url)},
                                 executors={"default": aps_jobs.ScheduledAsyncIOExecutor()},
                                 timezone=timezone.utc)
    scheduler.start()
    _ready(ready_file)
    await stop.wait()
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)  # let the shutdown callback run on the loop
    await aps_jobs.aclose_clients()


def run_thread(db_url: str, ready_file: str | None) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=db_url)},
                                    executors={"default": aps_jobs.ScheduledThreadPoolExecutor()},
                                    timezone=timezone.utc)
    scheduler.start()
    _ready(ready_file)
    while not stop.wait(1.0):
        pass
    scheduler.shutdown(wait=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--mode", choices=("asyncio", "thread"), default="asyncio")
    parser.add_argument("--ready-file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.mode == "asyncio":
        asyncio.run(run_asyncio(args.db_url, args.ready_file))
    else:
        run_thread(args.db_url, args.ready_file)


if __name__ == "__main__":
    main()
