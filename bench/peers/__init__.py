"""The two peers the benchmark compares DJS with, behind the same interface as ``bench/djs_system.py``.

* :class:`ApschedulerSystem` — APScheduler 3.11, ``SQLAlchemyJobStore`` on MariaDB, one process
  (``bench/peers/aps_runner.py``); see ``bench/peers/aps_system.py``.
* :class:`CeleryBeatSystem` — Celery 5 + django-celery-beat ``DatabaseScheduler`` on MariaDB, Redis broker,
  ``celery beat`` + ``celery worker`` (``bench/peers/celery_app``); see ``bench/peers/celery_system.py``.

Interface (both)::

    peer = ApschedulerSystem(mysql_server_url, redis_url, target.url, workdir)
    peer.load(workload)          # fresh database of its own, schema, every job; nothing running
    sids = peer.start(1)         # session ids of the spawned processes (2 = two schedulers, the HA case)
    ...
    peer.stop()                  # SIGTERM the sessions, SIGKILL after 15 s; idempotent
    peer.close()                 # stop + drop its database

The classes are loaded lazily, so the peer processes can import ``peers.aps_jobs`` without pulling in the
harness-side code.
"""
from __future__ import annotations

__all__ = ["ApschedulerSystem", "CeleryBeatSystem", "PEERS"]


def __getattr__(name: str):
    if name == "ApschedulerSystem":
        from .aps_system import ApschedulerSystem
        return ApschedulerSystem
    if name == "CeleryBeatSystem":
        from .celery_system import CeleryBeatSystem
        return CeleryBeatSystem
    if name == "PEERS":
        from .aps_system import ApschedulerSystem
        from .celery_system import CeleryBeatSystem
        return {ApschedulerSystem.name: ApschedulerSystem, CeleryBeatSystem.name: CeleryBeatSystem}
    raise AttributeError(name)
