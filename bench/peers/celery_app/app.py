"""The Celery app of the peer: Redis broker, the benchmark task, readiness signals.

The worker never touches Django; only beat (``celery_app.beat``) and the loader set Django up.

Task ``peer.fire(url, scheduled_ms)``: ``GET url`` with ``X-Scheduled-Ms: scheduled_ms`` through one
``httpx.Client`` per worker process (created lazily, so each prefork child gets its own after the fork;
shared by all threads under the threads pool). Everything else is Celery's defaults (no result backend,
prefetch multiplier 4, acks early, WARNING logging).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
from celery import Celery
from celery.signals import beat_init, worker_ready

HTTP_TIMEOUT = 30.0  # seconds, like the DJS tasks the harness writes

app = Celery("djs_bench_peer")
app.conf.update(
    broker_url=os.environ.get("PEER_BROKER_URL", "redis://127.0.0.1:6379/5"),
    broker_connection_retry_on_startup=True,  # the default behaviour, stated to silence the warning
    timezone="UTC",
    enable_utc=True,
    beat_scheduler="celery_app.beat:ScheduledInstantScheduler",
)

_client: httpx.Client | None = None
_client_pid = 0
_client_lock = threading.Lock()


def _http() -> httpx.Client:
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        with _client_lock:
            if _client is None or _client_pid != os.getpid():
                _client = httpx.Client(timeout=HTTP_TIMEOUT)
                _client_pid = os.getpid()
    return _client


@app.task(name="peer.fire")
def fire(url: str, scheduled_ms: int | None = None) -> None:
    response = _http().get(url, headers={"X-Scheduled-Ms": str(scheduled_ms if scheduled_ms is not None else -1)})
    response.raise_for_status()


def _ready(name: str) -> None:
    folder = os.environ.get("PEER_READY_DIR")
    label = os.environ.get("PEER_READY_LABEL", name)
    if folder:
        Path(folder, f".celery-beat-{label}.ready").write_text("ready\n")


@worker_ready.connect
def _worker_ready(**_):
    _ready("worker")


@beat_init.connect
def _beat_init(**_):
    _ready("beat")
