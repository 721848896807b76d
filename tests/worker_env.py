"""Loaded first (``-p tests.worker_env`` in pytest.ini), before Django's settings are read: the test process's
start-up (``djs_platform.startup.prepare``, as manage.py and wsgi.py do), and:

Under pytest-xdist each worker gets its own Redis database (the pass's URL with database 1 + worker
number), so one worker clearing its cache between tests never wipes another worker's throttle counters
or revocation marks. Each worker already has its own test database (pytest-django adds the ``_gwN``
suffix; the SQLite file name carries the process id).
"""
from __future__ import annotations

import os
from urllib.parse import urlparse


def _worker_redis_url(url: str, worker: int) -> str:
    parsed = urlparse(url)
    base = int(parsed.path.lstrip("/") or 0)
    return parsed._replace(path=f"/{base + 1 + worker}").geturl()


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    for _name in ("DJS_REDIS_URL", "DJS_TEST_REDIS_URL"):
        if os.environ.get(_name, "").startswith("redis://"):
            os.environ[_name] = _worker_redis_url(os.environ[_name], int(_worker[2:]))

# After the variables above: the configuration is read when djs_platform.config is first imported.
from djs_platform.startup import prepare  # noqa: E402

prepare()
