"""Longest test file first in the process-level phase (``-p tests.process_order``, added by scripts/run_tests.py).

That phase runs a whole file on one worker (``--dist loadfile``) and its files take from a few seconds to over half a
minute, mostly waiting (node timeouts, drains, outages). Handed out in collection order, a long file that comes
last keeps one worker busy while the others are done; longest first, the short files at the end fill the gaps and
the workers finish together. ``SECONDS`` are measured wall times on the 2-core CI box (``run_tests.py`` prints the
slowest tests); a file not listed counts ``DEFAULT_SECONDS`` per test. Only the order changes, never what runs.
"""
from __future__ import annotations

from collections import Counter

#: Seconds per file of the processes phase (MariaDB pass, 2 workers, `--durations`), measured; rough is fine: only
#: the order matters. An e2e file includes the console platform's start-up when it is the first on its worker.
SECONDS: dict[str, float] = {
    "tests/test_faults.py": 116,
    "tests/e2e/test_console.py": 97,
    "tests/test_scheduler_cluster.py": 96,
    "tests/test_runplatform.py": 49,
    "tests/test_soak.py": 38,
    "tests/test_observability.py": 36,
    "tests/test_rollups_cluster.py": 33,
    "tests/test_crash_cluster.py": 32,
    "tests/test_processes.py": 32,
    "tests/test_executor_registry_cluster.py": 36,
    "tests/test_djsctl.py": 27,
    "tests/e2e/test_alerts_console.py": 27,
    "tests/test_djsctl_wait.py": 25,
    "tests/e2e/test_child_console.py": 21,
    "tests/e2e/test_console_round2.py": 20,
    "tests/e2e/test_list_url.py": 13,
    "tests/test_read_replica.py": 16,
    "tests/e2e/test_shell_console.py": 16,
    "tests/test_shell_isolation.py": 14,
    "tests/test_init_sql.py": 12,
    "tests/test_seed_clients.py": 11,
    "rpc/tests/test_rungrpc_process.py": 9,
    "tests/e2e/test_markup_inert.py": 8,
}
#: Seconds per test of a file not in :data:`SECONDS`.
DEFAULT_SECONDS = 8.0


def pytest_collection_modifyitems(config, items):
    """Files by their expected seconds, longest first; the tests of a file keep their order."""
    paths = [item.nodeid.split("::", 1)[0] for item in items]
    counts = Counter(paths)
    first = {path: index for index, path in reversed(list(enumerate(paths)))}
    order = {id(item): (-SECONDS.get(path, DEFAULT_SECONDS * counts[path]), first[path], index)
             for index, (item, path) in enumerate(zip(items, paths))}
    items.sort(key=lambda item: order[id(item)])
