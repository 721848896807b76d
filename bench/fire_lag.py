#!/usr/bin/env python
"""Fire-lag benchmark: N every-second HTTP tasks against a loopback target, 1 and 2 scheduler nodes,
SQLite and MariaDB, measured in one run.

    .venv/bin/python bench/fire_lag.py [--tasks 200] [--seconds 20] [--quick]

Lag = arrival at the target - scheduled second. Executions/s counts calls of the steady window. Results
print as a table and are kept as JSON under bench/results/ (git-ignored). Not a test: nothing asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("DJS_DEBUG", "false")
os.environ.setdefault("DJS_JWT_SECRET", os.urandom(24).hex())
os.environ.setdefault("DJS_ADMIN_PASSWORD", "Bench-Admin-Passw0rd")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djs_platform.settings")

import services  # noqa: E402  (scripts/services.py: throwaway MariaDB)

from tests.platform import Nodes, create_tasks, fire_report, fresh_database, prepare_database, scheduler_env  # noqa: E402
from tests.targets import HttpTarget  # noqa: E402


def run_case(backend_url: str, backend: str, nodes: int, tasks: int, seconds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="djs-bench-") as tmp, fresh_database(Path(tmp), backend_url) as db_url, \
            HttpTarget() as target:
        env = scheduler_env(db_url)
        prepare_database(env)
        first = create_tasks(env, tasks, target.url("/t"), start_in=4)
        group = Nodes(env, Path(tmp))
        for i in range(nodes):
            group.start(f"bench-{i}")
        time.sleep(max(0.0, first + seconds - time.time()))
        stopped = time.time()
        group.stop_all()
        report = fire_report(target.requests(), tasks, first, stopped)
        report.update(backend=backend, nodes=nodes)
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="100 tasks, 8 s per case")
    args = parser.parse_args()
    tasks, seconds = (100, 8) if args.quick else (args.tasks, args.seconds)
    results = []
    with services.mariadb() as mariadb:
        for backend, url in (("sqlite", ""), ("mariadb", mariadb.url)):
            for nodes in (1, 2):
                print(f"... {backend}, {nodes} node(s), {tasks} tasks x {seconds}s", flush=True)
                results.append(run_case(url, backend, nodes, tasks, seconds))
    header = f"{'backend':8} {'nodes':>5} {'exec/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} " \
             f"{'dup':>4} {'missed':>6}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        print(f"{r['backend']:8} {r['nodes']:>5} {r['executions_per_s']:>8} {r['lag_p50_ms']:>8} {r['lag_p95_ms']:>8} "
              f"{r['lag_p99_ms']:>8} {r['lag_max_ms']:>8} {r['duplicates']:>4} {r['missed']:>6}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"fire_lag-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"tasks": tasks, "seconds": seconds, "cpus": os.cpu_count(), "results": results},
                               indent=2))
    print(f"\nJSON: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
