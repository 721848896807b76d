"""APScheduler 3.11 as a system under test: ``SQLAlchemyJobStore`` on its own MariaDB database, one process.

Set-up (``bench/peers/aps_runner.py``, ``bench/peers/aps_jobs.py``):

* job store: ``SQLAlchemyJobStore`` (table ``apscheduler_jobs``, SQLAlchemy 2 + mysqlclient) on a database
  of its own on the benchmark's MariaDB server; every fire = APScheduler's own ``UPDATE`` of the job row
  (next_run_time + pickled state), one transaction per job, as APScheduler does;
* scheduler/executor: MODE (below) — ``AsyncIOScheduler`` + ``AsyncIOExecutor`` with one shared
  ``httpx.AsyncClient``, or ``BackgroundScheduler`` + ``ThreadPoolExecutor`` (default 10 threads) with one
  shared ``httpx.Client``;
* scheduled instant: the executors are APScheduler's own with ``run_job`` called once per computed run time,
  which is put in a context variable the job reads (see ``aps_jobs``) — the header carries the run time
  APScheduler computed, not the time the function ran;
* triggers: ``CronTrigger`` in UTC — every second ``second='*'``, every minute ``second=offset``, daily
  ``hour=h, minute=0, second=0`` — with ``start_date=first`` for the periodic ones, so the first run is
  ``first`` (every second) or the first ``offset`` second from ``first`` (every minute); CronTrigger rather
  than IntervalTrigger because the workload is defined as cron (``Job.cron``) and DJS evaluates cron too;
* non-default job options, so that late fires are never dropped: ``misfire_grace_time=None`` (run however
  late; default 1 s would drop), ``coalesce=False`` (run every missed instant; default ``True``
  would merge them), ``max_instances=1000`` (default 1 would skip a run while the previous one of the same
  job is still in flight). Everything else is APScheduler's default (job store poll via its own wake-up
  timer, default SQLAlchemy pool, ``jobstore_retry_interval`` 10 s, job name = callable name);
* ``load`` writes the rows ``add_job`` would write — ``id``, ``next_run_time`` (= trigger's first fire time
  from now, as ``_real_add_job`` computes it) and ``pickle.dumps(job.__getstate__(), HIGHEST_PROTOCOL)`` of
  a real ``apscheduler.job.Job`` — but with a bulk ``INSERT`` instead of 100k ``add_job`` round trips;
* ``processes=2`` runs two schedulers on the same job store: APScheduler 3 has no cross-process locking, so
  both run every job (duplicates are the expected result of that case).

MODE = "thread" (BackgroundScheduler + ThreadPoolExecutor + shared httpx.Client), chosen by measurement
(bench/peers/smoke.py, one process, durable MariaDB, 2 shared and busy cores):

    mode      steady-50 (6 s)                      steady-200 (10 s)
    asyncio   0 missed, lag p50 221 / p99 400 ms,   200 of 2000 executed, lag ~12 s, CPU 10.6 s
              CPU 1.9 s
    thread    0 missed, lag p50 102 / p99 204 ms,   2000 of 2000, lag p50 391 / p99 1252 ms, CPU 4.7 s
              CPU 1.1 s

Why: ``SQLAlchemyJobStore`` is synchronous, and ``AsyncIOScheduler`` runs ``_process_jobs`` (one SELECT +
one UPDATE/commit per due job) on the event loop thread, so the HTTP coroutines only advance between two
wake-ups; once a round of UPDATEs approaches a second the loop never gets back to them and it collapses. With
``BackgroundScheduler`` the scheduler thread does the store work while the pool threads do the HTTP calls
(both release the GIL while waiting). ``mode="asyncio"`` stays available (``ApschedulerSystem(...,
mode="asyncio")``, ``smoke.py --mode asyncio``) to reproduce this.
"""
from __future__ import annotations

import os
import pickle
import sys
from datetime import datetime, timezone
from pathlib import Path

from .base import PEERS_DIR, PeerBase

MODE = "thread"
MAX_INSTANCES = 1000
INSERT_CHUNK = 2000


class ApschedulerSystem(PeerBase):
    name = "apscheduler"
    db_prefix = "aps"

    def __init__(self, mysql_server_url: str, redis_url: str, target_url: str, workdir: Path,
                 mode: str = MODE):
        super().__init__(mysql_server_url, redis_url, target_url, workdir)
        if mode not in ("asyncio", "thread"):
            raise ValueError(mode)
        self.mode = mode
        pw = self.db_password.replace("@", "%40").replace(":", "%3A").replace("/", "%2F")
        self.sa_url = (f"mysql+mysqldb://{self.db_user}:{pw}@{self.db_host}:{self.db_port}/{self.db_name}"
                       "?charset=utf8mb4")

    def _trigger(self, job, first: datetime):
        from apscheduler.triggers.cron import CronTrigger

        if job.daily_hour is not None:
            return CronTrigger(hour=job.daily_hour, minute=0, second=0, timezone=timezone.utc)
        if job.every == 1:
            return CronTrigger(second="*", start_date=first, timezone=timezone.utc)
        if job.every == 60:
            return CronTrigger(second=job.offset, start_date=first, timezone=timezone.utc)
        raise ValueError(f"unsupported period {job.every}")

    def load(self, workload) -> None:
        """Fresh database, APScheduler's table (created as ``SQLAlchemyJobStore.start`` creates it), every
        job as the row ``add_job`` would write.

        Fast path, byte-identical to the slow one: for each schedule one real ``apscheduler.job.Job`` is
        built (validated by ``Job._modify``, which costs ~0.1 ms a job); every job of that schedule gets that
        job's ``__getstate__()`` with its own ``id`` and ``args``, pickled as ``SQLAlchemyJobStore.add_job``
        pickles. The first job of every schedule is checked against a real ``Job(...).__getstate__()``
        pickle, so a mismatch fails the load instead of skewing the benchmark.
        """
        from apscheduler.job import Job
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.util import datetime_to_utc_timestamp
        from sqlalchemy import create_engine

        from . import aps_jobs

        self.stop()
        self._recreate_database()
        engine = create_engine(self.sa_url)
        try:
            store = SQLAlchemyJobStore(engine=engine)
            store.jobs_t.create(engine, checkfirst=True)
            # Never started: only gives the Job objects their scheduler (timezone for next_run_time).
            scheduler = BackgroundScheduler(timezone=timezone.utc)
            func = aps_jobs.FIRE_ASYNC if self.mode == "asyncio" else aps_jobs.FIRE_SYNC
            first = datetime.fromtimestamp(workload.first, timezone.utc)
            now = datetime.now(timezone.utc)

            def real_job(job, trigger, next_run_time) -> Job:
                return Job(scheduler, id=job.key, func=func, trigger=trigger, executor="default",
                           args=(f"{self.target_url}/t/{job.key}",), kwargs={},
                           misfire_grace_time=None, coalesce=False, max_instances=MAX_INSTANCES,
                           next_run_time=next_run_time)

            templates: dict[str, tuple[dict, float]] = {}   # cron -> (job state, next_run_time timestamp)
            rows = []
            with engine.begin() as connection:
                for job in workload.jobs:
                    cron = job.cron
                    if cron not in templates:
                        trigger = self._trigger(job, first)
                        # as BaseScheduler._real_add_job: the trigger's first fire time from now
                        aps_job = real_job(job, trigger, trigger.get_next_fire_time(None, now))
                        templates[cron] = (aps_job.__getstate__(), datetime_to_utc_timestamp(aps_job.next_run_time))
                        expected = pickle.dumps(aps_job.__getstate__(), store.pickle_protocol)
                    else:
                        expected = None
                    state, next_ts = templates[cron]
                    state = dict(state, id=job.key, args=(f"{self.target_url}/t/{job.key}",))
                    blob = pickle.dumps(state, store.pickle_protocol)
                    if expected is not None and blob != expected:
                        raise AssertionError(f"fast job state differs from APScheduler's for {job}")
                    rows.append({"id": job.key, "next_run_time": next_ts, "job_state": blob})
                    if len(rows) >= INSERT_CHUNK:
                        connection.execute(store.jobs_t.insert(), rows)
                        rows = []
                if rows:
                    connection.execute(store.jobs_t.insert(), rows)
        finally:
            engine.dispose()

    def start(self, processes: int = 1) -> list[int]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJS_", "DJANGO_"))}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        ready = []
        for i in range(processes):
            ready.append(self._ready_file(f"node-{i}"))
            self._spawn(f"node-{i}", [sys.executable, str(PEERS_DIR / "aps_runner.py"), "--db-url", self.sa_url,
                                      "--mode", self.mode, "--ready-file", str(ready[-1])],
                        env=env, cwd=self.workdir)
        self._wait_ready(ready)
        return [p.pid for p in self.procs]

    def job_count(self) -> int:
        return self.query("SELECT COUNT(*) FROM apscheduler_jobs")[0][0]
