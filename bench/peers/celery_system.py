"""Celery 5 + django-celery-beat as a system under test: ``DatabaseScheduler`` on its own MariaDB database,
Redis broker, one ``celery beat`` (two for the HA case) and one ``celery worker``.

Set-up (``bench/peers/celery_app``):

* beat: ``celery_app.beat:ScheduledInstantScheduler`` = django-celery-beat's ``DatabaseScheduler`` whose
  ``apply_async`` adds the instant the entry was due (``scheduled_ms`` kwarg); standalone Django settings
  ``celery_app.settings`` (only django_celery_beat; persistent DB connection, see there); Celery defaults
  otherwise (``beat_max_loop_interval`` → django-celery-beat's 5 s, sync every 3 min, WARNING logging);
* broker: the harness's Redis, database number ``BROKER_DB`` (flushed at every ``load``); no result backend;
* worker: POOL / CONCURRENCY below (one ``celery worker`` process; with prefork its children live in its
  session);
  task ``peer.fire`` sends ``GET {target}/t/{key}`` with ``X-Scheduled-Ms`` through one ``httpx.Client`` per
  worker process;
* jobs: ``PeriodicTask`` rows (see ``celery_app/loader.py``): every second = ``IntervalSchedule(1 s)`` with
  ``start_time=first``; every minute at second ``offset`` = ``IntervalSchedule(60 s)`` with ``start_time`` at
  the first such second; daily = ``CrontabSchedule``. django-celery-beat has no misfire/coalesce knobs: a late
  entry is simply sent when beat gets to it; nothing is dropped by configuration;
* ``processes=2`` runs two ``celery beat`` on the same database (beat has no leader election: both send every
  entry — the expected result of the HA case) and still one worker.

Worker pool: POOL = "threads", CONCURRENCY = 8, chosen by measurement on the 2 (shared, busy) cores:

* worker alone (3,000 ``peer.fire`` messages queued at once, drain rate; medians of 2-3 runs):
  prefork -c 2 ≈ 240/s, threads -c 2 ≈ 330/s, threads -c 8 ≈ 430/s;
* steady 200 every-second jobs through beat, lag p50: prefork -c 2 0.8-2.6 s, threads -c 2 0.04-0.36 s,
  threads -c 8 0.02-0.5 s (beat itself is the limit there, ~150-180 sends/s on these cores);
* burst of 1,000: no difference between pools (beat sends the 1,000 one by one, ~2-5 s);
* peak RSS summed over the session: prefork -c 2 ≈ 306 MB (master + 2 children), threads ≈ 158 MB.

The task is an HTTP call (I/O, GIL released), so threads share one process and one ``httpx.Client``
connection pool instead of paying prefork's master→child pipe hop per task.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

from .base import PEERS_DIR, PeerBase

BROKER_DB = 5
POOL = "threads"
CONCURRENCY = 8


class CeleryBeatSystem(PeerBase):
    name = "celery-beat"
    db_prefix = "celerybeat"

    def __init__(self, mysql_server_url: str, redis_url: str, target_url: str, workdir: Path,
                 pool: str = POOL, concurrency: int = CONCURRENCY):
        super().__init__(mysql_server_url, redis_url, target_url, workdir)
        self.pool = pool
        self.concurrency = concurrency
        self.broker_url = urlparse(redis_url)._replace(path=f"/{BROKER_DB}").geturl()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJS_", "DJANGO_", "CELERY_"))}
        self.env.update({
            "PYTHONPATH": str(PEERS_DIR), "PYTHONDONTWRITEBYTECODE": "1",
            "DJANGO_SETTINGS_MODULE": "celery_app.settings",
            "PEER_DB_NAME": self.db_name, "PEER_DB_HOST": self.db_host, "PEER_DB_PORT": str(self.db_port),
            "PEER_DB_USER": self.db_user, "PEER_DB_PASSWORD": self.db_password,
            "PEER_BROKER_URL": self.broker_url, "PEER_READY_DIR": str(self.workdir),
        })
        self._celery = [sys.executable, "-m", "celery"]

    def load(self, workload) -> None:
        """Fresh database, django-celery-beat's migrations, every job as a ``PeriodicTask``; empty broker."""
        import subprocess

        import redis

        self.stop()
        self._recreate_database()
        client = redis.Redis.from_url(self.broker_url, socket_timeout=10)
        try:
            client.flushdb()
        finally:
            client.close()
        spec = self.workdir / f"{self.name}-jobs.json"
        spec.write_text(json.dumps({"first": workload.first, "target_url": self.target_url,
                                    "jobs": [[j.key, j.every, j.offset, j.daily_hour] for j in workload.jobs]}))
        result = subprocess.run([sys.executable, "-m", "celery_app.loader", str(spec)], cwd=PEERS_DIR,
                                env=self.env, capture_output=True, text=True, timeout=600)
        if result.returncode:
            raise RuntimeError(f"celery-beat load failed:\n{result.stdout}\n{result.stderr}")
        self.load_output = result.stdout.strip()

    def start(self, processes: int = 1) -> list[int]:
        ready = [self._ready_file("worker")]
        env = dict(self.env, PEER_READY_LABEL="worker")
        self._spawn("worker", [*self._celery, "-A", "celery_app.app", "worker", "--pool", self.pool,
                               "--concurrency", str(self.concurrency), "--hostname", "peer-worker@%h"],
                    env=env, cwd=self.workdir)
        for i in range(processes):
            ready.append(self._ready_file(f"beat-{i}"))
            env = dict(self.env, PEER_READY_LABEL=f"beat-{i}")
            self._spawn(f"beat-{i}", [*self._celery, "-A", "celery_app.app", "beat",
                                      "--schedule", str(self.workdir / f"celerybeat-schedule-{i}")],
                        env=env, cwd=self.workdir)
        self._wait_ready(ready)
        return [p.pid for p in self.procs]

    def periodic_task_count(self) -> int:
        return self.query("SELECT COUNT(*) FROM django_celery_beat_periodictask")[0][0]
